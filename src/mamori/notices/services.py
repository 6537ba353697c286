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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mamori.access.services import provider_name
from mamori.clients.models import Client, Contact
from mamori.core import audit, outbound
from mamori.core.models import ALL_CLIENT_ROLES, Role, User
from mamori.core.permissions import may_change
from mamori.notices import channels
from mamori.notices.models import (
    Channel,
    ContactChannel,
    Notice,
    NoticeKind,
    NoticeState,
    RecipientKind,
)
from mamori.vault import services as vault
from mamori.vault.models import Secret, SecretKind

log = logging.getLogger(__name__)

# Seconds to wait before attempt n+1 (index n-1); after the last one the notice is failed.
BACKOFF = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600]
MAX_ATTEMPTS = len(BACKOFF) + 1
STUCK_AFTER = timedelta(minutes=15)
# The template engine for plain text (settings.TEMPLATES): it HTML-escapes nothing.
TEXT_ENGINE = "text"


@dataclass(frozen=True)
class Recipient:
    kind: str  # RecipientKind
    address: str
    language: str
    contact: Contact | None = None
    user: User | None = None
    # A chat channel (NOT-03): its kind, where it goes ("contact-channel:<pk>" or
    # "operators:<digest>") and the name shown for it instead of the secret URL.
    channel: str = Channel.EMAIL
    target: str = ""
    label: str = ""
    contact_channel: ContactChannel | None = None


def channel_recipient(channel: ContactChannel) -> Recipient:
    """The recipient for one of a contact's chat channels."""
    contact = channel.contact
    return Recipient(
        RecipientKind.CONTACT,
        channel.target,
        contact.language,
        contact=contact,
        channel=channel.kind,
        target=channel.target,
        label=f"{contact.name}: {channel.get_kind_display()} ({channel.label})"[:254],
        contact_channel=channel,
    )


def contact_recipients(client: Client, topic: str) -> list[Recipient]:
    """The client's contacts who receive notices of ``topic``: by e-mail, and on each enabled
    chat channel of theirs that receives the topic."""
    result: list[Recipient] = []
    contacts = Contact.objects.filter(client=client).prefetch_related("channels")
    for contact in contacts:
        if contact.email and topic in contact.notify:
            result.append(
                Recipient(RecipientKind.CONTACT, contact.email, contact.language, contact=contact)
            )
        for channel in contact.channels.all():
            if channel.enabled and topic in channel.topics:
                result.append(channel_recipient(channel))
    return result


def operator_channel_recipients() -> list[Recipient]:
    """The operator team's chat channels (``MAMORI_OPERATOR_CHANNELS``)."""
    result = []
    for position, destination in enumerate(channels.operator_destinations(), start=1):
        target = f"operators:{destination.digest}"
        kind = Channel(destination.kind)
        result.append(
            Recipient(
                RecipientKind.OPERATOR,
                target,
                settings.LANGUAGE_CODE,
                channel=kind,
                target=target,
                label=f"{kind.label} #{position} (MAMORI_OPERATOR_CHANNELS)",
            )
        )
    return result


def operator_recipients(client: Client | None = None) -> list[Recipient]:
    """Provider staff to alert: admins and operators, plus subcontractors assigned to ``client``,
    plus the addresses in ``MAMORI_OPERATOR_EMAILS``, plus the team's chat channels in
    ``MAMORI_OPERATOR_CHANNELS``. One entry per address or channel."""
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
    return result + operator_channel_recipients()


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

    The subject and the text are plain text, rendered by the ``text`` template engine that
    escapes nothing (they go into mail headers, text parts and chat messages as they are); the
    HTML part wraps that text in ``layout.html`` with the default engine, which escapes it once.
    """
    with translation.override(language), timezone.override(settings.TIME_ZONE):
        ctx = {
            **context,
            "language": language,
            "base_url": settings.BASE_URL,
            "provider_name": provider_name(),
        }
        subject = render_to_string(
            f"notices/email/{kind}.{language}.subject.txt", ctx, using=TEXT_ENGINE
        )
        text = render_to_string(f"notices/email/{kind}.{language}.txt", ctx, using=TEXT_ENGINE)
        html = render_to_string("notices/email/layout.html", {**ctx, "text": text.strip()})
    return Rendered(" ".join(subject.split())[:300], text.strip() + "\n", html)


#: What makes an attachment's file from its entry in ``Notice.attachments``: kind → maker, and a
#: maker takes the entry and the notice and returns (file name, content, MIME type). A feature
#: above this one registers its kinds when the app is ready (billing: the invoice PDF).
AttachmentMaker = Callable[[dict[str, Any], Notice], tuple[str, bytes, str]]
ATTACHMENT_MAKERS: dict[str, AttachmentMaker] = {}


class AttachmentError(Exception):
    """An attachment of a notice could not be made (unknown kind, or its maker failed)."""


def register_attachment(kind: str, maker: AttachmentMaker) -> None:
    ATTACHMENT_MAKERS[kind] = maker


def attachment_files(notice: Notice) -> list[tuple[str, bytes, str]]:
    """The files of ``notice``'s attachments, made now."""
    files = []
    for entry in notice.attachments or []:
        maker = ATTACHMENT_MAKERS.get(str(entry.get("kind")))
        if maker is None:
            raise AttachmentError(f"no maker for attachment kind {entry.get('kind')!r}")
        files.append(maker(entry, notice))
    return files


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
    attachments: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> EnqueueResult:
    """Put one notice per recipient in the outbox unless it is already there.

    A recipient is an e-mail address or a chat channel (``Recipient.channel``); a chat notice
    carries the same text, its subject as the title, under its own idempotency key.

    ``event_key`` names what the notice is about (e.g. ``cert-expiry:<fingerprint>:30``);
    ``links`` sets the related objects (``endpoint``, ``certificate``, ``event``);
    ``attachments`` (see ``Notice.attachments``) go with the e-mails only, a chat message has
    none. ``headers`` (:data:`EXTRA_HEADERS` only) go with the e-mails too: a reply threaded
    into a client's conversation. Safe to call any number of times, from any number of workers.
    """
    unknown = set(headers or {}) - EXTRA_HEADERS
    if unknown:
        raise ValueError(f"headers a notice may not set: {sorted(unknown)}")
    result = EnqueueResult()
    links = links or {}
    for recipient in recipients:
        key = notice_key(event_key, recipient, recipient.channel)
        if Notice.objects.filter(key=key).exists():
            result.existing += 1
            continue
        rendered = render(kind, recipient.language, {**context, "recipient": recipient})
        chat = recipient.channel != Channel.EMAIL
        try:
            with transaction.atomic():
                notice = Notice.objects.create(
                    key=key,
                    kind=kind,
                    channel=recipient.channel,
                    target=recipient.target,
                    contact_channel=recipient.contact_channel,
                    client=client,
                    recipient_kind=recipient.kind,
                    contact=recipient.contact,
                    user=recipient.user,
                    recipient=recipient.label or recipient.address,
                    language=recipient.language,
                    subject=rendered.subject,
                    body_text=rendered.text,
                    body_html="" if chat else rendered.html,
                    attachments=[] if chat else list(attachments or []),
                    headers={} if chat else dict(headers or {}),
                    **links,
                )
        except IntegrityError:
            # Another worker made the same notice between our check and insert.
            result.existing += 1
            continue
        result.created.append(notice)
    return result


#: The e-mail headers a notice may carry of its own (``Notice.headers``).
EXTRA_HEADERS = frozenset({"In-Reply-To", "References", "Reply-To", "Auto-Submitted"})


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
    operator can fix, so those stay retryable. A chat channel says itself (a 4xx other than
    408/429 is permanent: a bad token or a deleted hook never starts working).
    """
    if isinstance(error, channels.ChannelError):
        return error.permanent
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
    if isinstance(error, channels.ChannelError):
        return str(error)
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
            notice = Notice.objects.select_related("contact_channel__secret").get(pk=notice_id)
            if notice.channel == Channel.EMAIL:
                _send_one(notice, connection, report)
            else:
                _send_chat(notice, report)
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
        headers={"Message-ID": mid, "Auto-Submitted": "auto-generated", **notice.headers},
        connection=connection,
    )
    if notice.body_html:
        message.attach_alternative(notice.body_html, "text/html")
    try:
        for name, content, mimetype in attachment_files(notice):
            message.attach(name, content, mimetype)
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


def deliver_notice(notice_id: int) -> Notice:
    """Send one notice now if it is due (the test button); returns it with its outcome."""
    report = DeliveryReport()
    if _claim(notice_id, timezone.now()):
        notice = Notice.objects.select_related("contact_channel__secret").get(pk=notice_id)
        if notice.channel == Channel.EMAIL:
            connection = get_connection(fail_silently=False)
            try:
                _send_one(notice, connection, report)
            finally:
                with contextlib.suppress(Exception):
                    connection.close()
        else:
            _send_chat(notice, report)
    return Notice.objects.get(pk=notice_id)


def destination_of(notice: Notice) -> channels.Destination:
    """Where a chat notice goes, its secret read from the vault (contacts) or the settings
    (operators). Raises :class:`channels.ChannelError` if the channel is gone."""
    if notice.target.startswith("operators:"):
        digest = notice.target.partition(":")[2]
        for destination in channels.operator_destinations():
            if destination.digest == digest:
                return destination
        raise channels.ChannelError(
            "the channel is no longer in MAMORI_OPERATOR_CHANNELS", permanent=True
        )
    channel = notice.contact_channel
    if channel is None or channel.secret is None:
        raise channels.ChannelError("the channel was removed", permanent=True)
    try:
        value = vault.decrypt_for_export(channel.secret)
    except vault.SecretDestroyed:
        raise channels.ChannelError("the channel's secret was destroyed", permanent=True) from None
    except vault.SecretUnavailable:
        # A missing master key is fixed by an operator: retry.
        raise channels.ChannelError("the channel's secret cannot be read now") from None
    return channels.Destination(
        channel.kind,
        value.decode("utf-8"),
        channel.room_id,
        policy=outbound.policy(channel.allow_private_address),
    )


def _send_chat(notice: Notice, report: DeliveryReport) -> None:
    try:
        if notice.contact_channel is not None and not notice.contact_channel.enabled:
            raise channels.ChannelError("the channel is disabled", permanent=True)
        channels.send(destination_of(notice), notice.subject, notice.body_text)
    except channels.ChannelError as error:
        _record_failure(notice, error, report)
        return
    Notice.objects.filter(pk=notice.pk, state=NoticeState.SENDING).update(
        state=NoticeState.SENT, sent_at=timezone.now(), last_error=""
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
    if notice.kind in (NoticeKind.DELIVERY_FAILED, NoticeKind.CHANNEL_TEST):
        # Never alert about an alert: that could loop while mail is down. A failed test
        # message is shown to whoever pressed the button.
        return
    recipients = [
        r
        for r in operator_recipients(notice.client)
        if r.address != notice.recipient and not (r.target and r.target == notice.target)
    ]
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


# A contact's chat channels (NOT-03) ------------------------------------------------------------


def add_contact_channel(
    contact: Contact,
    *,
    kind: str,
    label: str,
    secret: str,
    topics: list[str],
    room_id: str = "",
    allow_private_address: bool = False,
    actor: User,
    request: HttpRequest | None = None,
) -> ContactChannel:
    """Add a chat channel to ``contact``; its URL or token goes to the vault as an API token.

    Raises PermissionDenied unless ``may_change`` (a ``ContactChannel``'s rule), and, for
    ``allow_private_address``, :func:`outbound.may_allow_private_address`. The caller
    validated the URL (:func:`channels.refused_kind` for its address).
    """
    client = contact.client
    if not may_change(actor, client, ContactChannel.change_rule):
        raise PermissionDenied
    if outbound.allowance_problem(actor, False, allow_private_address):
        raise PermissionDenied
    with transaction.atomic():
        stored = vault.store_secret(
            client,
            kind=SecretKind.API_TOKEN,
            name=f"{Channel(kind).label}: {contact.name} ({label})"[:200],
            value=secret,
            # Client administrators add channels without managing the vault: Mamori stores it.
            actor=actor if may_change(actor, client, Secret.change_rule) else None,
            request=request,
            notes=str(_("Chat channel of a contact (notices).")),
        )
        channel = ContactChannel.objects.create(
            client=client,
            contact=contact,
            kind=kind,
            label=label,
            topics=topics,
            room_id=room_id,
            allow_private_address=allow_private_address,
            secret=stored,
        )
        audit.record(
            "contact_channel.create",
            channel,
            actor=actor,
            request=request,
            changes=_channel_values(channel),
        )
    return channel


def remove_contact_channel(
    channel: ContactChannel, *, actor: User, request: HttpRequest | None = None
) -> None:
    """Remove a contact's channel and destroy its secret. Raises PermissionDenied."""
    if not may_change(actor, channel):
        raise PermissionDenied
    secret = channel.secret
    with transaction.atomic():
        audit.record(
            "contact_channel.delete",
            channel,
            actor=actor,
            request=request,
            changes=_channel_values(channel),
        )
        channel.delete()
    if secret is not None and secret.destroyed_at is None:
        vault.destroy_secret(secret, actor=None, reason="chat channel removed", request=request)


def send_test_message(
    channel: ContactChannel, *, actor: User, request: HttpRequest | None = None
) -> Notice:
    """Put a test message for ``channel`` in the outbox and send it now; returns the notice
    with its outcome (sent, or the error and a retry time). Raises PermissionDenied."""
    if not may_change(actor, channel):
        raise PermissionDenied
    result = enqueue(
        NoticeKind.CHANNEL_TEST,
        f"channel-test:{channel.pk}:{timezone.now().isoformat()}",
        [channel_recipient(channel)],
        {"channel": channel, "client": channel.client},
        client=channel.client,
    )
    notice = result.created[0]
    audit.record(
        "contact_channel.test",
        channel,
        actor=actor,
        request=request,
        changes={"notice": notice.pk},
    )
    return deliver_notice(notice.pk)


def _channel_values(channel: ContactChannel) -> dict[str, Any]:
    return {
        "contact": channel.contact_id,
        "kind": channel.kind,
        "label": channel.label,
        "topics": list(channel.topics),
        "room": channel.room_id,
        "allow_private_address": channel.allow_private_address,
    }
