"""Writing the desk's records: one function per write, with its audit record, in one
transaction. Pages, the API, the CLI and the mailbox poll call these and nothing else.

Refusals are :class:`DeskError` (a message in the reader's language and the field it is about);
``PermissionDenied`` when the actor may not.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.models import Client, Contact, Contract
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, may_change
from mamori.desk import targets
from mamori.desk.models import (
    ACTIVE_STATES,
    Channel,
    Direction,
    Request,
    RequestAttachment,
    RequestMessage,
    RequestState,
)

#: The largest attachment kept (bytes); larger ones are refused with a message.
MAX_ATTACHMENT = 20 * 1024 * 1024


class DeskError(ValidationError):
    """A write the desk refuses: a ``ValidationError`` naming the ``field`` it concerns (none:
    the write as a whole), which a page puts on its form and the API answers with 422 (as
    :class:`mamori.monitoring.incidents.IncidentError`); ``str()`` is the message."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__({field or NON_FIELD_ERRORS: [ValidationError(message)]})
        self.field = field

    def __str__(self) -> str:
        return " ".join(str(m) for m in self.messages)


def may_ask(user: User | None, client: Client) -> bool:
    """Whether ``user`` may file a request for ``client``: staff for any client they may
    change, a client's administrator for their own."""
    return may_change(user, client, Rule.CLIENT_ADMIN)


def create_request(
    client: Client,
    *,
    channel: str,
    subject: str,
    body: str = "",
    contract: Contract | None = None,
    contact: Contact | None = None,
    requester: str = "",
    received_at: dt.datetime | None = None,
    confidential: bool = False,
    actor: User | None = None,
    http_request=None,
    message_id: str | None = None,
) -> Request:
    """A new request of ``client``, with its first message (the client's words). ``actor``
    None is the system (the mailbox poll). ``message_id`` is the e-mail's Message-ID: a second
    call with the same one returns the first request unchanged."""
    if actor is not None and not may_ask(actor, client):
        raise PermissionDenied
    if channel not in Channel.values:
        raise DeskError(_("Unknown channel."), "channel")
    subject = " ".join((subject or "").split())[:300]
    if not subject:
        raise DeskError(_("Give the request a subject."), "subject")
    if contract is not None and contract.client_id != client.pk:
        raise DeskError(_("The contract is not this client's."), "contract")
    if contact is not None and contact.client_id != client.pk:
        raise DeskError(_("The contact is not this client's."), "contact")
    if message_id:
        known = RequestMessage.objects.filter(message_id=message_id).select_related("request")
        if known.exists():
            return known.first().request
    if contract is None:
        contract = default_contract(client, received_at or timezone.now())
    if contact is None:
        # A client's administrator filing in the portal or the API is usually a contact too.
        contact = contact_of_user(actor, client)
    try:
        with transaction.atomic():
            req = Request.objects.create(
                client=client,
                contract=contract,
                contact=contact,
                requester=requester[:300],
                channel=channel,
                subject=subject,
                body=body,
                confidential=confidential,
                received_at=received_at or timezone.now(),
                created_by=actor,
            )
            targets.refresh(req)  # its due times in business time (MNT-05)
            RequestMessage.objects.create(
                request=req,
                direction=Direction.INBOUND,
                at=req.received_at,
                user=actor if actor is not None and actor.client_id else None,
                contact=contact,
                sender=requester[:300],
                body=body,
                message_id=message_id or None,
            )
            audit.record(
                "request.create",
                req,
                actor=actor,
                request=http_request,
                actor_label=None if actor else "desk",
                changes={"channel": channel, "subject": subject, "contract": req.contract_id},
            )
            announce_request(req)
    except IntegrityError:
        # The same e-mail, stored by another worker a moment ago.
        known = RequestMessage.objects.filter(message_id=message_id).first()
        if known is None:
            raise
        return known.request
    return req


def default_contract(client: Client, at: dt.datetime) -> Contract | None:
    """The contract a request falls under when none is named: the client's only contract with
    a free-work catalogue, else its only contract, else none (the operator chooses)."""
    contracts = list(Contract.objects.filter(client=client))
    with_catalogue = [c for c in contracts if c.catalogue.exists()]
    if len(with_catalogue) == 1:
        return with_catalogue[0]
    return contracts[0] if len(contracts) == 1 else None


def add_message(
    req: Request,
    *,
    direction: str,
    body: str,
    actor: User | None = None,
    contact: Contact | None = None,
    sender: str = "",
    at: dt.datetime | None = None,
    message_id: str | None = None,
    in_reply_to: str = "",
    is_question: bool = False,
    http_request=None,
) -> RequestMessage:
    """Add a message to ``req``'s thread. An inbound message answers the open questions to the
    client. A message whose ``message_id`` is known already is returned, not stored again."""
    if direction not in Direction.values:
        raise DeskError(_("Unknown direction."), "direction")
    if actor is not None:
        rule = Rule.CLIENT_ADMIN if direction == Direction.INBOUND else Rule.STAFF
        if not may_change(actor, req, rule):
            raise PermissionDenied
    if not (body or "").strip():
        raise DeskError(_("The message is empty."), "body")
    if message_id:
        known = RequestMessage.objects.filter(message_id=message_id).first()
        if known is not None:
            return known
    at = at or timezone.now()
    try:
        with transaction.atomic():
            message = RequestMessage.objects.create(
                request=req,
                direction=direction,
                at=at,
                user=actor,
                contact=contact,
                sender=sender[:300],
                body=body,
                message_id=message_id or None,
                in_reply_to=in_reply_to[:998],
                is_question=is_question and direction == Direction.OUTBOUND,
            )
            if direction == Direction.INBOUND:
                RequestMessage.objects.filter(
                    request=req, is_question=True, answered_at__isnull=True, at__lte=at
                ).update(answered_at=at)
            audit.record(
                f"request.message.{direction}",
                req,
                actor=actor,
                request=http_request,
                actor_label=None if actor else "desk",
                changes={"message": message.pk, "question": message.is_question},
            )
    except IntegrityError:
        known = RequestMessage.objects.filter(message_id=message_id).first()
        if known is None:
            raise
        return known
    return message


def add_attachment(
    req: Request,
    *,
    filename: str,
    content: bytes,
    content_type: str = "application/octet-stream",
    message: RequestMessage | None = None,
    actor: User | None = None,
    http_request=None,
) -> RequestAttachment:
    """Keep a file with ``req``: encrypted in the vault when the request is confidential."""
    from mamori.vault import services as vault
    from mamori.vault.models import SecretKind

    if actor is not None and not may_change(actor, req, Rule.CLIENT_ADMIN):
        raise PermissionDenied
    if len(content) > MAX_ATTACHMENT:
        raise DeskError(
            _("The file is larger than %(mb)d MB.") % {"mb": MAX_ATTACHMENT // 2**20}, "file"
        )
    filename = (filename or "attachment").replace("/", "_").replace("\\", "_")[:255]
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        attachment = RequestAttachment(
            request=req,
            message=message,
            filename=filename,
            content_type=(content_type or "application/octet-stream")[:200],
            size=len(content),
            sha256=digest,
        )
        if req.confidential:
            attachment.secret = vault.store_secret(
                req.client,
                kind=SecretKind.OTHER,
                name=f"{req.number} {filename}"[:200],
                value=content,
                actor=None,
                notes=_("Attachment of request %(number)s") % {"number": req.number},
            )
        else:
            attachment.data = content
        attachment.save()
        # On the file (its fields name the changes in the reader's language), in the
        # request's client's trail.
        audit.record(
            "request.attachment",
            attachment,
            actor=actor,
            request=http_request,
            actor_label=None if actor else "desk",
            client_id=req.client_id,
            changes={"filename": filename, "size": len(content), "sha256": digest},
        )
    return attachment


# --- the request's life: notices, replies, notes, assignment, resolution -------------------------
#
# Every e-mail about a request carries its token (``[R-<pk>]``) in the subject; a reply to the
# client also carries In-Reply-To/References pointing at the client's last e-mail, so that the
# client's mail program shows one conversation, and the desk's address as Reply-To.


def _recipient_of_contact(contact: Contact):
    from mamori.notices.models import RecipientKind
    from mamori.notices.services import Recipient

    return Recipient(RecipientKind.CONTACT, contact.email, contact.language, contact=contact)


def contact_of_user(user: User | None, client: Client) -> Contact | None:
    """The client's contact with the e-mail address of ``user`` (a client user who files a
    request in the portal), if there is one."""
    if user is None or not user.client_id or not user.email or user.client_id != client.pk:
        return None
    return Contact.objects.filter(client=client, email__iexact=user.email).first()


#: The contacts' notice topic under which requests without a named contact are answered.
REQUEST_TOPIC = "contracts"


def requester_recipients(req: Request) -> list:
    """The person who asked, if Mamori knows their address: the request's contact, or the
    client user who filed it in the portal or the API."""
    from mamori.notices.models import RecipientKind
    from mamori.notices.services import Recipient

    if req.contact_id and req.contact.email:
        return [_recipient_of_contact(req.contact)]
    creator = req.created_by
    if creator is not None and creator.client_id == req.client_id and creator.email:
        contact = contact_of_user(creator, req.client)
        if contact is not None:
            return [_recipient_of_contact(contact)]
        return [
            Recipient(
                RecipientKind.CONTACT, creator.email, creator.preferred_language(), user=creator
            )
        ]
    return []


def client_recipients(req: Request) -> list:
    """Who on the client's side hears about ``req`` by e-mail: the contact who asked; else the
    client user who filed it in the portal; else the client's contacts who receive contract
    notices (:data:`REQUEST_TOPIC`). One entry per address, e-mail only (a reply threads)."""
    from mamori.notices.models import Channel as NoticeChannel
    from mamori.notices.services import contact_recipients

    requester = requester_recipients(req)
    if requester:
        return requester
    seen: set[str] = set()
    result = []
    for recipient in contact_recipients(req.client, REQUEST_TOPIC):
        if recipient.channel == NoticeChannel.EMAIL and recipient.address.lower() not in seen:
            seen.add(recipient.address.lower())
            result.append(recipient)
    return result


def thread_headers(req: Request) -> dict[str, str]:
    """The threading headers of an e-mail to the client about ``req``: In-Reply-To the
    client's last e-mail, References every e-mail of the thread known by its Message-ID (at
    most the last 20, RFC 5322 §3.6.4 allows trimming), Reply-To the desk's address if set."""
    from django.conf import settings

    from mamori.notices.services import message_id as notice_message_id

    headers: dict[str, str] = {}
    ids: list[str] = []
    last_inbound = ""
    for message in req.messages.exclude(direction=Direction.NOTE).select_related("notice"):
        if message.direction == Direction.INBOUND and message.message_id:
            ids.append(message.message_id)
            last_inbound = message.message_id
        elif message.direction == Direction.OUTBOUND and message.notice_id:
            ids.append(notice_message_id(message.notice))
    if last_inbound:
        headers["In-Reply-To"] = last_inbound
    if ids:
        headers["References"] = " ".join(ids[-20:])
    if settings.MAMORI_DESK_ADDRESS:
        headers["Reply-To"] = settings.MAMORI_DESK_ADDRESS
    return headers


def _notice_context(req: Request, **extra) -> dict:
    from django.conf import settings

    return {
        "client": req.client,
        "req": req,
        "url": settings.BASE_URL + req.get_absolute_url(),
        **extra,
    }


def announce_request(req: Request) -> None:
    """Acknowledge ``req`` to whoever asked (``request_received``; nobody when only a name is
    known, e.g. a caller, who heard it on the phone) and tell the operators
    (``request_new``); once each, whoever calls (the event keys)."""
    from mamori.notices.models import NoticeKind
    from mamori.notices.services import enqueue, operator_recipients

    first = req.messages.order_by("at", "pk").first()
    context = _notice_context(req, message=first)
    enqueue(
        NoticeKind.REQUEST_RECEIVED,
        f"request:{req.pk}:received",
        requester_recipients(req),
        context,
        client=req.client,
        links={"request": req},
        headers=thread_headers(req),
    )
    enqueue(
        NoticeKind.REQUEST_NEW,
        f"request:{req.pk}:new",
        operator_recipients(req.client),
        context,
        client=req.client,
        links={"request": req},
    )


def _require_staff(actor: User | None, req: Request) -> None:
    if actor is None or not may_change(actor, req, Rule.STAFF):
        raise PermissionDenied


def reply(
    req: Request,
    body: str,
    actor: User,
    *,
    is_question: bool = False,
    http_request=None,
) -> RequestMessage:
    """The provider's answer (or question, NOT-05) to the client: an outbound message, and one
    ``request_reply`` notice per recipient (:func:`client_recipients`), threaded into the
    client's e-mails. The first reply is the first response (MNT-05); a new request becomes
    open. Raises :class:`DeskError` for an empty message or a closed request."""
    from mamori.notices.models import NoticeKind
    from mamori.notices.services import enqueue

    _require_staff(actor, req)
    if req.state == RequestState.CLOSED:
        raise DeskError(_("The request is closed: reopen it first."), "body")
    with transaction.atomic():
        headers = thread_headers(req)
        message = add_message(
            req,
            direction=Direction.OUTBOUND,
            body=body,
            actor=actor,
            is_question=is_question,
            http_request=http_request,
            sender=str(actor),
        )
        result = enqueue(
            NoticeKind.REQUEST_REPLY,
            f"request:{req.pk}:message:{message.pk}",
            client_recipients(req),
            _notice_context(req, message=message),
            client=req.client,
            links={"request": req},
            headers=headers,
        )
        if result.created:
            message.notice = result.created[0]
            message.save(update_fields=["notice"])
        changes: dict = {}
        if req.first_responded_at is None:
            req.first_responded_at = message.at
            changes["first_responded_at"] = message.at.isoformat()
        if req.state == RequestState.NEW:
            req.state = RequestState.OPEN
            changes["state"] = RequestState.OPEN
        if changes:
            req.save(update_fields=["first_responded_at", "state", "updated_at"])
    return message


def add_note(req: Request, body: str, actor: User, *, http_request=None) -> RequestMessage:
    """An internal note on ``req``: the provider's staff read it, the client never does."""
    _require_staff(actor, req)
    return add_message(
        req, direction=Direction.NOTE, body=body, actor=actor, http_request=http_request
    )


def client_reply(req: Request, body: str, actor: User, *, http_request=None) -> RequestMessage:
    """The client's message on ``req`` from the portal or the API (an administrator of the
    client). A resolved request opens again; a closed one takes no more messages."""
    if not may_change(actor, req, Rule.CLIENT_ADMIN):
        raise PermissionDenied
    if req.state == RequestState.CLOSED:
        raise DeskError(_("The request is closed: file a new request."), "body")
    with transaction.atomic():
        message = add_message(
            req,
            direction=Direction.INBOUND,
            body=body,
            actor=actor,
            contact=contact_of_user(actor, req.client),
            sender=actor.get_full_name() or actor.get_username(),
            http_request=http_request,
        )
        if req.state == RequestState.RESOLVED:
            _set_state(req, RequestState.OPEN, actor, http_request, "request.reopen")
    return message


def assign(req: Request, assignee: User | None, actor: User, *, http_request=None) -> Request:
    """Give ``req`` to ``assignee`` (provider staff who may work on it), or to nobody."""
    _require_staff(actor, req)
    if assignee is not None and not may_change(assignee, req, Rule.STAFF):
        raise DeskError(_("This person cannot work on this client's requests."), "assignee")
    with transaction.atomic():
        req.assignee = assignee
        req.save(update_fields=["assignee", "updated_at"])
        audit.record(
            "request.assign",
            req,
            actor=actor,
            request=http_request,
            changes={"assignee": assignee.get_username() if assignee else None},
        )
    return req


def _set_state(req: Request, state: str, actor: User | None, http_request, action: str) -> None:
    now = timezone.now()
    previous = req.state
    req.state = state
    if state == RequestState.RESOLVED:
        req.resolved_at = now
    elif state == RequestState.CLOSED:
        req.closed_at = now
        req.resolved_at = req.resolved_at or now
    else:
        req.resolved_at = None
        req.closed_at = None
    req.save(update_fields=["state", "resolved_at", "closed_at", "updated_at"])
    audit.record(
        action,
        req,
        actor=actor,
        request=http_request,
        changes={"state": [previous, state]},
    )


def resolve(req: Request, actor: User, *, http_request=None) -> Request:
    """The work is done: ``req`` is resolved (the resolution target is met at this time)."""
    _require_staff(actor, req)
    if req.state not in ACTIVE_STATES:
        raise DeskError(_("Only an active request can be resolved."), "state")
    with transaction.atomic():
        _set_state(req, RequestState.RESOLVED, actor, http_request, "request.resolve")
    return req


def close(req: Request, actor: User, *, http_request=None) -> Request:
    """Nothing more will happen on ``req`` (after its resolution, or given up)."""
    _require_staff(actor, req)
    if req.state == RequestState.CLOSED:
        raise DeskError(_("The request is closed already."), "state")
    with transaction.atomic():
        _set_state(req, RequestState.CLOSED, actor, http_request, "request.close")
    return req


def reopen(req: Request, actor: User, *, http_request=None) -> Request:
    """Work on a resolved or closed request again."""
    _require_staff(actor, req)
    if req.state not in (RequestState.RESOLVED, RequestState.CLOSED):
        raise DeskError(_("The request is still open."), "state")
    with transaction.atomic():
        _set_state(req, RequestState.OPEN, actor, http_request, "request.reopen")
    return req


def next_due_expression():
    """The time by which the provider owes the next step of a request: the first response
    until it is given, then the resolution (for ordering the queue; null: no target)."""
    from django.db.models import Case, F, When
    from django.db.models.functions import Coalesce

    return Case(
        When(
            first_responded_at__isnull=True,
            then=Coalesce("first_response_due", "resolution_due"),
        ),
        default=F("resolution_due"),
    )


def queue(queryset):
    """Active requests of ``queryset`` by the time the next step is due, those without a due
    time last, then the oldest first; each with ``next_due``."""
    from django.db.models import F

    return (
        queryset.active()
        .annotate(next_due=next_due_expression())
        .order_by(F("next_due").asc(nulls_last=True), "received_at", "pk")
    )


def mark_late(requests, now: dt.datetime | None = None) -> None:
    """Set ``late`` on each request (annotated with ``next_due``) whose next step is overdue;
    a suspended request waits on the client, so it is never late."""
    now = now or timezone.now()
    for req in requests:
        due = getattr(req, "next_due", None)
        req.late = bool(
            due and due < now and req.state in ACTIVE_STATES and req.state != RequestState.SUSPENDED
        )
