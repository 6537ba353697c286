"""The desk's mailbox (MNT-03): client e-mails to the desk address become requests, replies
thread back into them. See docs/desk-mail.md.

:func:`poll` reads the IMAP folder of ``MAMORI_DESK_IMAP_URL`` from the last UID it handled
(UIDVALIDITY tracked in :class:`DeskMailbox`), hands each new message to :func:`take`, marks it
``\\Seen`` and moves on; it never deletes or moves a message. :func:`take` records every mail
once by Message-ID (:class:`InboundMail`, unique), so a mail delivered twice, or fetched again
after a crash between storing it and recording its UID, creates nothing twice. A reply threads
into its request by the ``[R-<pk>]`` token of its subject (when the sender is a contact of that
request's client) or by In-Reply-To/References naming a message of the request or the
Message-ID of one of Mamori's notices about it. Automatic replies and bounces are recorded and
ignored; a mail nobody can be matched to, or that cannot be read, waits for an operator
(:func:`assign`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import re
import socket
import ssl
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.models import Client, Contact
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, changes_every_client
from mamori.desk import mailparse, services
from mamori.desk.mail_models import (
    OPEN_OUTCOMES,
    DeskMailbox,
    InboundMail,
    MailOutcome,
    MailReason,
)
from mamori.desk.models import Channel, Direction, Request, RequestMessage

log = logging.getLogger(__name__)

#: Messages handled per poll at most (the next poll goes on from there).
BATCH = 200
#: A message larger than this (bytes) is not fetched; it is recorded as failed and stays in the
#: mailbox for a person to read.
MAX_MAIL = 40 * 1024 * 1024
#: Seconds the poll holds its lease on the mailbox at most (if its process dies).
LEASE = 600
TIMEOUT = 30


class MailboxError(Exception):
    """The mailbox cannot be polled (configuration, network, sign-in, folder): one line that
    names the mailbox without its password."""


@dataclass(frozen=True)
class MailboxConfig:
    scheme: str  # "imaps" (TLS) or "imap" (STARTTLS; plain only to loopback)
    host: str
    port: int
    user: str
    password: str
    folder: str

    @property
    def name(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def configured() -> MailboxConfig | None:
    """The mailbox of ``MAMORI_DESK_IMAP_URL``, or None when it is not set. Raises
    :class:`MailboxError` for a URL that cannot be used."""
    url = getattr(settings, "MAMORI_DESK_IMAP_URL", "")
    if not url:
        return None
    return parse_url(url, getattr(settings, "MAMORI_DESK_IMAP_PASSWORD", ""))


def parse_url(url: str, password: str) -> MailboxConfig:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("imap", "imaps"):
        raise MailboxError(f"MAMORI_DESK_IMAP_URL: use imaps:// or imap://, not {scheme!r}")
    if parts.password is not None:
        raise MailboxError(
            "MAMORI_DESK_IMAP_URL: put the password in MAMORI_DESK_IMAP_PASSWORD_FILE "
            "(or MAMORI_DESK_IMAP_PASSWORD), not in the URL"
        )
    if not parts.hostname:
        raise MailboxError("MAMORI_DESK_IMAP_URL: no host given")
    if not parts.username:
        raise MailboxError("MAMORI_DESK_IMAP_URL: no user given (imaps://user@host/INBOX)")
    try:
        port = parts.port or (993 if scheme == "imaps" else 143)
    except ValueError:
        raise MailboxError("MAMORI_DESK_IMAP_URL: the port is not a number") from None
    if not password:
        raise MailboxError("MAMORI_DESK_IMAP_PASSWORD (or its _FILE) is not set")
    return MailboxConfig(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=password,
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


# --- talking to the server ----------------------------------------------------------------------


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    if getattr(settings, "MAMORI_CA_BUNDLE", None):
        context.load_verify_locations(cafile=settings.MAMORI_CA_BUNDLE)
    return context


def connect(config: MailboxConfig):
    """An :class:`imapclient.IMAPClient` signed in to ``config``. ``imaps`` is TLS from the
    first byte; ``imap`` upgrades with STARTTLS and refuses a server that does not offer it,
    except on a loopback address (a local test server). Raises :class:`MailboxError`."""
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError, LoginError

    where = f"desk mailbox {config.name}"
    try:
        client = IMAPClient(
            config.host,
            port=config.port,
            ssl=config.scheme == "imaps",
            ssl_context=_tls_context(),
            timeout=TIMEOUT,
        )
    except ssl.SSLError as e:
        raise MailboxError(f"{where}: TLS failed ({e.reason or e})") from None
    except socket.gaierror:
        raise MailboxError(f"{where}: unknown host {config.host}") from None
    except TimeoutError:
        raise MailboxError(f"{where}: no answer within {TIMEOUT} s") from None
    except OSError as e:
        raise MailboxError(f"{where}: cannot connect ({e.strerror or e})") from None
    client.normalise_times = False
    try:
        if config.scheme == "imap":
            if b"STARTTLS" in client.capabilities():
                client.starttls(_tls_context())
            elif not config.loopback:
                raise MailboxError(
                    f"{where}: the server does not offer STARTTLS; use imaps:// (port 993)"
                )
        client.login(config.user, config.password)
    except MailboxError:
        _close(client)
        raise
    except LoginError:
        _close(client)
        raise MailboxError(f"{where}: the server refused the user name or password") from None
    except ssl.SSLError as e:
        _close(client)
        raise MailboxError(f"{where}: TLS failed ({e.reason or e})") from None
    except (IMAPClientError, OSError) as e:
        _close(client)
        raise MailboxError(f"{where}: {type(e).__name__}: {_one_line(e)}") from None
    return client


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200]


def _close(client) -> None:
    """Log out, or drop the connection when the server no longer answers."""
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


# --- one poll -----------------------------------------------------------------------------------


@dataclass
class PollReport:
    """What one poll did, by outcome. ``busy``: another process was polling, nothing done."""

    mailbox: str = ""
    requests: int = 0
    replies: int = 0
    unmatched: int = 0
    ignored: int = 0
    failed: int = 0
    duplicates: int = 0
    busy: bool = False

    def count(self, outcome: str) -> None:
        field = {
            MailOutcome.REQUEST: "requests",
            MailOutcome.REPLY: "replies",
            MailOutcome.UNMATCHED: "unmatched",
            MailOutcome.IGNORED: "ignored",
            MailOutcome.FAILED: "failed",
            "duplicate": "duplicates",
        }[outcome]
        setattr(self, field, getattr(self, field) + 1)


def _take_lease(row: DeskMailbox, owner: str) -> bool:
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    return bool(
        DeskMailbox.objects.filter(free, pk=row.pk).update(
            lease_until=now + dt.timedelta(seconds=LEASE), lease_owner=owner
        )
    )


def poll(config: MailboxConfig | None = None) -> PollReport:
    """Take the new messages of the desk's mailbox once. Safe to run in several processes at
    once (one polls, the others report ``busy``) and again after a crash. Raises
    :class:`MailboxError` when the mailbox cannot be reached or read."""
    config = config or configured()
    if config is None:
        raise MailboxError("MAMORI_DESK_IMAP_URL is not set")
    report = PollReport(mailbox=config.name)
    row, _created = DeskMailbox.objects.get_or_create(name=config.name[:300])
    owner = uuid.uuid4().hex
    if not _take_lease(row, owner):
        report.busy = True
        return report
    try:
        client = connect(config)
        try:
            _poll_folder(client, config, row, report)
        finally:
            _close(client)
    finally:
        DeskMailbox.objects.filter(pk=row.pk, lease_owner=owner).update(
            lease_until=None, lease_owner="", last_polled_at=timezone.now()
        )
    return report


def _poll_folder(client, config: MailboxConfig, row: DeskMailbox, report: PollReport) -> None:
    from imapclient import SEEN
    from imapclient.exceptions import IMAPClientError

    where = f"desk mailbox {config.name}"
    try:
        selected = client.select_folder(config.folder)
    except IMAPClientError as e:
        raise MailboxError(f"{where}: cannot open the folder ({_one_line(e)})") from None
    validity = int(selected.get(b"UIDVALIDITY", 0))
    row.refresh_from_db()
    try:
        if row.uidvalidity != validity:
            # The first poll, or the server renumbered the folder: the UIDs seen before mean
            # nothing now. Take the unread mail; Message-IDs keep what was taken from coming
            # back as new.
            uids = client.search(["UNSEEN"])
            DeskMailbox.objects.filter(pk=row.pk).update(uidvalidity=validity, last_uid=0)
            row.last_uid = 0
        else:
            uids = [u for u in client.search(["UID", f"{row.last_uid + 1}:*"]) if u > row.last_uid]
        uids = sorted(uids)[:BATCH]
        if not uids:
            return
        sizes = client.fetch(uids, ["RFC822.SIZE"])
        for uid in uids:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
            if size > MAX_MAIL:
                outcome = _too_large(config, validity, uid, size)
            else:
                data = client.fetch([uid], ["BODY.PEEK[]", "INTERNALDATE"]).get(uid, {})
                outcome = take(
                    data.get(b"BODY[]") or b"",
                    mailbox=config.name,
                    uidvalidity=validity,
                    uid=uid,
                    received_at=_aware(data.get(b"INTERNALDATE")),
                )
            report.count(outcome)
            client.add_flags([uid], [SEEN])
            DeskMailbox.objects.filter(pk=row.pk, last_uid__lt=uid).update(last_uid=uid)
    except (IMAPClientError, OSError) as e:
        raise MailboxError(f"{where}: {type(e).__name__}: {_one_line(e)}") from None


def _aware(value) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return min(value, timezone.now())


def _too_large(config: MailboxConfig, validity: int, uid: int, size: int) -> str:
    mid = f"<uid-{validity}-{uid}@{config.host}>"
    _, created = InboundMail.objects.get_or_create(
        message_id=mid,
        defaults={
            "mailbox": config.name,
            "uidvalidity": validity,
            "uid": uid,
            "outcome": MailOutcome.FAILED,
            "reason": MailReason.MALFORMED,
            "detail": f"larger than {MAX_MAIL // 2**20} MB ({size} bytes); left in the mailbox",
            "size": size,
        },
    )
    return MailOutcome.FAILED if created else "duplicate"


def poll_job() -> PollReport | None:
    """The periodic job ``desk_mail_poll``: nothing without ``MAMORI_DESK_IMAP_URL``."""
    if not getattr(settings, "MAMORI_DESK_IMAP_URL", ""):
        return None
    report = poll()
    if report.busy:
        log.debug("desk mailbox is being polled elsewhere")
    else:
        log.info(
            "desk mailbox %s: %d new requests, %d replies, %d unmatched, %d ignored, "
            "%d failed, %d duplicates",
            report.mailbox,
            report.requests,
            report.replies,
            report.unmatched,
            report.ignored,
            report.failed,
            report.duplicates,
        )
    return report


# --- one message --------------------------------------------------------------------------------


def _own_addresses() -> set[str]:
    own = {getattr(settings, "MAMORI_DESK_ADDRESS", ""), settings.DEFAULT_FROM_EMAIL}
    return {a.strip().lower() for a in own if a and "@" in a}


def _clients_of(address: str) -> dict[int, Contact | None]:
    """The clients whose contact (or client user) has the e-mail ``address``, with the contact."""
    found: dict[int, Contact | None] = {}
    for user in User.objects.filter(email__iexact=address, client__isnull=False, is_active=True):
        found[user.client_id] = None
    for contact in Contact.objects.filter(email__iexact=address):
        found[contact.client_id] = contact
    return found


_NOTICE_ID = re.compile(r"<notice-(\d{1,18})\.[0-9a-f]+@[^<>\s]+>")


def thread_of(references: list[str]) -> Request | None:
    """The request a mail answers by its In-Reply-To/References: a message of its thread (an
    earlier mail, a reply stored with its Message-ID) or one of Mamori's notices about it."""
    from mamori.notices import services as notices
    from mamori.notices.models import Notice

    if not references:
        return None
    known = (
        RequestMessage.objects.filter(message_id__in=references).select_related("request").first()
    )
    if known is not None:
        return known.request
    mail = InboundMail.objects.filter(message_id__in=references, request__isnull=False).first()
    if mail is not None:
        return mail.request
    sent = Notice.objects.filter(message_id__in=references, request__isnull=False).first()
    if sent is not None:
        return sent.request
    for reference in references:
        match = _NOTICE_ID.fullmatch(reference)
        if not match:
            continue
        notice = Notice.objects.filter(pk=int(match.group(1)), request__isnull=False).first()
        if notice is not None and notices.message_id(notice) == reference:
            return notice.request
    return None


def take(
    raw: bytes,
    *,
    mailbox: str = "",
    uidvalidity: int | None = None,
    uid: int | None = None,
    received_at: dt.datetime | None = None,
) -> str:
    """Make what ``raw`` asks for: a new request, a reply in a request's thread, or a record
    of why not. Returns the outcome (a :class:`MailOutcome` value, or ``"duplicate"`` for a
    mail taken before). A mail that cannot be read is recorded as failed, never raised."""
    received_at = received_at or timezone.now()
    place = {
        "mailbox": mailbox[:300],
        "uidvalidity": uidvalidity,
        "uid": uid,
        "size": len(raw),
        "received_at": received_at,
    }
    message_id = mailparse.message_id_of(raw)
    if InboundMail.objects.filter(message_id=message_id).exists():
        return "duplicate"
    try:
        parsed = mailparse.parse(raw)
    except mailparse.MalformedMail as e:
        return _record(
            message_id,
            place,
            MailOutcome.FAILED,
            MailReason.MALFORMED,
            raw=raw,
            detail=str(e),
            facts=_lenient_facts(raw),
        )
    facts = {
        "sender": parsed.sender,
        "sender_name": parsed.sender_name,
        "subject": parsed.subject,
        "sent_at": parsed.sent_at,
    }
    if not parsed.sender:
        return _record(
            message_id, place, MailOutcome.FAILED, MailReason.NO_SENDER, raw=raw, facts=facts
        )
    if parsed.automatic or parsed.sender in _own_addresses():
        reason = MailReason.BOUNCE if parsed.automatic == "bounce" else MailReason.AUTO_REPLY
        return _record(message_id, place, MailOutcome.IGNORED, reason, facts=facts)
    if not parsed.subject and not parsed.text and not parsed.attachments:
        return _record(
            message_id, place, MailOutcome.FAILED, MailReason.EMPTY, raw=raw, facts=facts
        )

    clients = _clients_of(parsed.sender)
    other_client = False
    req = None
    if parsed.token is not None:
        candidate = Request.objects.filter(pk=parsed.token).first()
        if candidate is not None and candidate.client_id in clients:
            req = candidate
        elif candidate is not None and clients:
            other_client = True
    if req is None:
        candidate = thread_of(parsed.references)
        # Anyone holding the thread's Message-ID may answer (a colleague the contact
        # forwarded it to), unless they are known as another client's.
        if candidate is not None and (not clients or candidate.client_id in clients):
            req, other_client = candidate, False
        elif candidate is not None:
            other_client = True

    try:
        with transaction.atomic():
            if req is not None:
                outcome = MailOutcome.REPLY
                _reply(req, parsed, clients.get(req.client_id), message_id, received_at)
            elif other_client:
                outcome = _unmatched(message_id, place, MailReason.OTHER_CLIENT, raw, facts)
            elif len(clients) == 1:
                outcome = MailOutcome.REQUEST
                client_id, contact = next(iter(clients.items()))
                req = _new_request(
                    Client.objects.get(pk=client_id), parsed, contact, message_id, received_at
                )
            elif clients:
                outcome = _unmatched(message_id, place, MailReason.AMBIGUOUS_SENDER, raw, facts)
            else:
                outcome = _unmatched(message_id, place, MailReason.UNKNOWN_SENDER, raw, facts)
            if req is not None:
                detail = _attach(req, parsed, message_id)
                InboundMail.objects.create(
                    message_id=message_id,
                    outcome=outcome,
                    request=req,
                    detail=detail,
                    **place,
                    **facts,
                )
    except IntegrityError:
        # The same mail, taken by another process a moment ago.
        if InboundMail.objects.filter(message_id=message_id).exists():
            return "duplicate"
        raise
    return outcome


def _lenient_facts(raw: bytes) -> dict:
    """Sender and subject of a mail that could not be parsed, as far as they can be read."""
    import email.header
    import email.policy
    import email.utils

    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        sender = email.utils.parseaddr(str(message.get("From", "")))[1].lower()
        subject = str(
            email.header.make_header(email.header.decode_header(message["Subject"] or ""))
        )
    except Exception:
        sender, subject = "", ""
    return {"sender": sender[:300], "subject": " ".join(subject.split())[:300]}


def _record(message_id, place, outcome, reason, *, raw=None, detail="", facts=None) -> str:
    try:
        InboundMail.objects.create(
            message_id=message_id,
            outcome=outcome,
            reason=reason,
            detail=detail[:500],
            raw=raw,
            **place,
            **(facts or {}),
        )
    except IntegrityError:
        return "duplicate"
    return outcome


def _unmatched(message_id, place, reason, raw, facts) -> str:
    InboundMail.objects.create(
        message_id=message_id,
        outcome=MailOutcome.UNMATCHED,
        reason=reason,
        raw=raw,
        **place,
        **facts,
    )
    return MailOutcome.UNMATCHED


def _subject_of(parsed: mailparse.ParsedMail, fallback: str) -> str:
    first_line = next((line for line in parsed.text.splitlines() if line.strip()), "")
    return parsed.subject or first_line[:100] or fallback or "-"


def _new_request(client, parsed, contact, message_id, received_at, actor=None) -> Request:
    return services.create_request(
        client,
        channel=Channel.EMAIL,
        subject=_subject_of(parsed, parsed.sender),
        body=parsed.text,
        contact=contact,
        requester=email_requester(parsed),
        received_at=received_at,
        confidential=parsed.confidential,
        actor=actor,
        message_id=message_id,
    )


def email_requester(parsed: mailparse.ParsedMail) -> str:
    return f"{parsed.sender_name} <{parsed.sender}>" if parsed.sender_name else parsed.sender


def _reply(req, parsed, contact, message_id, received_at) -> RequestMessage:
    if parsed.confidential and not req.confidential:
        mark_confidential(req)
    body = mailparse.strip_quoted(parsed.text) or parsed.subject or "-"
    return services.add_message(
        req,
        direction=Direction.INBOUND,
        body=body,
        contact=contact,
        sender=email_requester(parsed),
        at=received_at,
        message_id=message_id,
        in_reply_to=parsed.in_reply_to,
    )


def _attach(req: Request, parsed: mailparse.ParsedMail, message_id: str) -> str:
    """Keeps the mail's files with ``req`` (encrypted when it is confidential); returns the
    particulars of files refused (too large), kept in the mailbox."""
    message = RequestMessage.objects.filter(message_id=message_id).first()
    refused = []
    for attachment in parsed.attachments:
        try:
            services.add_attachment(
                req,
                filename=attachment.filename,
                content=attachment.content,
                content_type=attachment.content_type,
                message=message,
            )
        except services.DeskError:
            refused.append(f"{attachment.filename} ({len(attachment.content)} bytes)")
    return ("too large, left in the mailbox: " + ", ".join(refused))[:500] if refused else ""


def mark_confidential(req: Request, *, actor: User | None = None, http_request=None) -> None:
    """A reply marked confidential makes its request confidential: its files from now on are
    kept in the vault."""
    with transaction.atomic():
        Request.objects.filter(pk=req.pk).update(confidential=True)
        req.confidential = True
        audit.record(
            "request.confidential",
            req,
            actor=actor,
            request=http_request,
            actor_label=None if actor else "desk",
            changes={"confidential": True},
        )


# --- an operator's decision ---------------------------------------------------------------------


def may_assign(user: User | None) -> bool:
    """Unmatched mail may be anyone's: provider staff who see every client decide."""
    return changes_every_client(user, Rule.STAFF)


def assign(mail: InboundMail, client: Client, *, actor: User, http_request=None) -> Request:
    """Make the unmatched (or unreadable) ``mail`` a request of ``client``. A mail that cannot
    be read becomes a request with the original message attached (``.eml``). Raises
    :class:`services.DeskError` when the mail was handled already."""
    if not may_assign(actor):
        raise PermissionDenied
    with transaction.atomic():
        claimed = InboundMail.objects.filter(pk=mail.pk, outcome__in=OPEN_OUTCOMES).update(
            outcome=MailOutcome.ASSIGNED, assigned_by=actor, assigned_at=timezone.now()
        )
        if not claimed:
            raise services.DeskError(_("This e-mail has been handled already."), "mail")
        raw = bytes(mail.raw or b"")
        try:
            parsed = mailparse.parse(raw)
        except mailparse.MalformedMail:
            parsed = None
        contact = client.contacts.filter(email__iexact=mail.sender).first() if mail.sender else None
        if parsed is not None:
            req = _new_request(client, parsed, contact, mail.message_id, mail.received_at, actor)
            _attach(req, parsed, mail.message_id)
        else:
            req = services.create_request(
                client,
                channel=Channel.EMAIL,
                subject=mail.subject or mail.sender or "-",
                contact=contact,
                requester=mail.sender,
                received_at=mail.received_at,
                actor=actor,
                message_id=mail.message_id,
            )
            if raw:
                services.add_attachment(
                    req,
                    filename="original.eml",
                    content=raw,
                    content_type="message/rfc822",
                    actor=actor,
                )
        InboundMail.objects.filter(pk=mail.pk).update(request=req, raw=None)
        audit.record(
            "desk.mail.assign",
            mail,
            actor=actor,
            request=http_request,
            client_id=client.pk,
            changes={"client": client.code, "request": req.pk, "from": mail.sender},
        )
    mail.refresh_from_db()
    return req
