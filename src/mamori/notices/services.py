"""Making and delivering notices (NOT-01, NOT-02).

``enqueue()`` renders one notice per recipient in the recipient's language and stores it in the
outbox under an idempotency key; calling it again for the same event and recipient does nothing.
``deliver_due()`` sends what is due: each row is claimed with a conditional UPDATE (so two
workers never send the same row), sent, and its outcome recorded on the row. A failed send is
retried with back-off and never marked sent; after the last attempt the notice is marked failed
and operators are alerted.

The one case exactly-once cannot cover is a crash after the SMTP server accepted a message but
before the row was marked sent. Such a row is found stuck in ``sending`` and retried after
:data:`STUCK_AFTER`; it keeps the same Message-ID, so mail systems and readers can recognise the
duplicate.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from mamori.clients.models import Client, Contact
from mamori.core.models import ALL_CLIENT_ROLES, Role, User
from mamori.notices.models import Channel, Notice, NoticeKind, NoticeState, RecipientKind

log = logging.getLogger(__name__)

# Seconds to wait before attempt n+1 (index n-1); after the last one the notice is failed.
BACKOFF = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600]
MAX_ATTEMPTS = len(BACKOFF) + 1
STUCK_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Recipient:
    kind: str  # RecipientKind
    address: str
    language: str
    contact: Contact | None = None
    user: User | None = None


def contact_recipients(client: Client, topic: str) -> list[Recipient]:
    """The client's contacts who receive notices of ``topic``."""
    return [
        Recipient(RecipientKind.CONTACT, c.email, c.language, contact=c)
        for c in Contact.objects.filter(client=client).receiving(topic)
    ]


def operator_recipients(client: Client | None = None) -> list[Recipient]:
    """Provider staff to alert: admins and operators, plus subcontractors assigned to ``client``,
    plus the addresses in ``MAMORI_OPERATOR_EMAILS``. One entry per address."""
    roles = Q(role__in=list(ALL_CLIENT_ROLES))
    if client is not None:
        roles |= Q(role=Role.SUBCONTRACTOR, assigned_clients=client)
    users = User.objects.filter(roles, is_active=True).exclude(email="").distinct().order_by("pk")
    seen: set[str] = set()
    result: list[Recipient] = []
    for user in users:
        if user.email.lower() not in seen:
            seen.add(user.email.lower())
            result.append(
                Recipient(RecipientKind.OPERATOR, user.email, user.preferred_language(), user=user)
            )
    for address in settings.MAMORI_OPERATOR_EMAILS:
        if address.lower() not in seen:
            seen.add(address.lower())
            result.append(Recipient(RecipientKind.OPERATOR, address, settings.LANGUAGE_CODE))
    return result


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
    """Render ``notices/email/<kind>`` in ``language``: subject, plain text and HTML.

    Templates exist per language (``<kind>.ja.txt``, ``<kind>.en.txt``) because a notice is a
    letter to a client and reads best written whole in each language, not assembled from
    translated fragments.
    """
    with translation.override(language), timezone.override(settings.TIME_ZONE):
        ctx = {
            **context,
            "language": language,
            "base_url": settings.BASE_URL,
            "provider_name": settings.MAMORI_PROVIDER_NAME,
        }
        subject = render_to_string(f"notices/email/{kind}.{language}.subject.txt", ctx)
        text = render_to_string(f"notices/email/{kind}.{language}.txt", ctx)
        html = render_to_string("notices/email/layout.html", {**ctx, "text": text.strip()})
    return Rendered(" ".join(subject.split())[:300], text.strip() + "\n", html)


def notice_key(event_key: str, recipient: Recipient, channel: str = Channel.EMAIL) -> str:
    """Idempotency key: the event, the recipient and the channel (hashed when too long)."""
    key = f"{event_key}|{recipient.kind}:{recipient.address.lower()}|{channel}"
    if len(key) > 255:
        key = f"{event_key[:180]}|{hashlib.sha256(key.encode()).hexdigest()}"
    return key


@dataclass
class EnqueueResult:
    created: list[Notice] = field(default_factory=list)
    existing: int = 0


def enqueue(
    kind: str,
    event_key: str,
    recipients: Iterable[Recipient],
    context: dict[str, Any],
    *,
    client: Client | None = None,
    links: dict[str, Any] | None = None,
) -> EnqueueResult:
    """Put one notice per recipient in the outbox unless it is already there.

    ``event_key`` names what the notice is about (e.g. ``cert-expiry:<fingerprint>:30``);
    ``links`` sets the related objects (``endpoint``, ``certificate``, ``event``). Safe to call
    any number of times, from any number of workers.
    """
    result = EnqueueResult()
    links = links or {}
    for recipient in recipients:
        key = notice_key(event_key, recipient)
        if Notice.objects.filter(key=key).exists():
            result.existing += 1
            continue
        rendered = render(kind, recipient.language, {**context, "recipient": recipient})
        try:
            with transaction.atomic():
                notice = Notice.objects.create(
                    key=key,
                    kind=kind,
                    channel=Channel.EMAIL,
                    client=client,
                    recipient_kind=recipient.kind,
                    contact=recipient.contact,
                    user=recipient.user,
                    recipient=recipient.address,
                    language=recipient.language,
                    subject=rendered.subject,
                    body_text=rendered.text,
                    body_html=rendered.html,
                    **links,
                )
        except IntegrityError:
            # Another worker made the same notice between our check and insert.
            result.existing += 1
            continue
        result.created.append(notice)
    return result


def message_id(notice: Notice) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "mamori.invalid"
    digest = hashlib.sha256(notice.key.encode()).hexdigest()[:24]
    return f"<notice-{notice.pk}.{digest}@{domain}>"


def _claim(notice_id: int, now: datetime) -> bool:
    return (
        Notice.objects.filter(
            pk=notice_id,
            state__in=[NoticeState.PENDING, NoticeState.RETRY],
            next_attempt_at__lte=now,
        ).update(state=NoticeState.SENDING, claimed_at=now, attempts=F("attempts") + 1)
        == 1
    )


def _is_permanent(error: Exception) -> bool:
    """A failure that retrying cannot fix: the recipient or the message refused with a 5xx reply.

    A refused sender or failed authentication is a configuration problem on our side that an
    operator can fix, so those stay retryable.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in error.recipients.values())
    if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError):
        return False
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else message


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{addr}: SMTP {code} {_text(msg)}" for addr, (code, msg) in error.recipients.items()
        )
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def release_stuck(now: datetime | None = None) -> int:
    """Return rows left in ``sending`` by a crashed worker to the retry queue."""
    now = now or timezone.now()
    return Notice.objects.filter(
        state=NoticeState.SENDING, claimed_at__lt=now - STUCK_AFTER
    ).update(
        state=NoticeState.RETRY, next_attempt_at=now, last_error="worker stopped while sending"
    )


def deliver_due(now: datetime | None = None, limit: int = 500) -> DeliveryReport:
    """Send the notices that are due; returns how many were sent, will retry, or failed."""
    now = now or timezone.now()
    release_stuck(now)
    report = DeliveryReport()
    ids = list(
        Notice.objects.due(now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return report
    connection = get_connection(fail_silently=False)
    try:
        for notice_id in ids:
            if not _claim(notice_id, now):
                continue  # another worker has it
            _send_one(Notice.objects.get(pk=notice_id), connection, report)
    finally:
        try:
            connection.close()
        except Exception:
            log.debug("closing the mail connection failed", exc_info=True)
    return report


def _send_one(notice: Notice, connection, report: DeliveryReport) -> None:
    mid = message_id(notice)
    message = EmailMultiAlternatives(
        subject=notice.subject,
        body=notice.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.recipient],
        headers={"Message-ID": mid, "Auto-Submitted": "auto-generated"},
        connection=connection,
    )
    if notice.body_html:
        message.attach_alternative(notice.body_html, "text/html")
    try:
        message.send()
    except Exception as error:
        # The connection may be half-broken; the next message reconnects.
        with contextlib.suppress(Exception):
            connection.close()
        _record_failure(notice, error, report)
        return
    sent_at = timezone.now()
    Notice.objects.filter(pk=notice.pk, state=NoticeState.SENDING).update(
        state=NoticeState.SENT, sent_at=sent_at, message_id=mid, last_error=""
    )
    report.sent += 1
    log.info("notice %s sent to %s (%s)", notice.pk, notice.recipient, notice.kind)


def _record_failure(notice: Notice, error: Exception, report: DeliveryReport) -> None:
    description = _describe(error)[:2000]
    now = timezone.now()
    if _is_permanent(error) or notice.attempts >= MAX_ATTEMPTS:
        Notice.objects.filter(pk=notice.pk).update(state=NoticeState.FAILED, last_error=description)
        report.failed += 1
        log.warning("notice %s to %s failed for good: %s", notice.pk, notice.recipient, description)
        _alert_operators_of_failure(notice, description)
        return
    delay = BACKOFF[min(notice.attempts, len(BACKOFF)) - 1]
    Notice.objects.filter(pk=notice.pk).update(
        state=NoticeState.RETRY,
        last_error=description,
        next_attempt_at=now + timedelta(seconds=delay),
    )
    report.retrying += 1
    log.warning(
        "notice %s to %s failed (attempt %s), retrying in %ss: %s",
        notice.pk,
        notice.recipient,
        notice.attempts,
        delay,
        description,
    )


def _alert_operators_of_failure(notice: Notice, description: str) -> None:
    if notice.kind == NoticeKind.DELIVERY_FAILED:
        return  # never alert about an alert: that could loop while mail is down
    recipients = [r for r in operator_recipients(notice.client) if r.address != notice.recipient]
    enqueue(
        NoticeKind.DELIVERY_FAILED,
        f"delivery-failed:{notice.pk}",
        recipients,
        {"notice": notice, "error": description},
        client=notice.client,
        links={"endpoint": notice.endpoint, "certificate": notice.certificate},
    )


def recipients_for(client: Client, topic: str, *, operators: bool = True) -> Sequence[Recipient]:
    """Contacts of ``client`` for ``topic``, then the operators who look after it."""
    result = list(contact_recipients(client, topic))
    if operators:
        addresses = {r.address.lower() for r in result}
        result += [r for r in operator_recipients(client) if r.address.lower() not in addresses]
    return result
