"""Writing the desk's records: one function per write, with its audit record, in one
transaction. Pages, the API, the CLI and the mailbox poll call these and nothing else.

Refusals are :class:`DeskError` (a message in the reader's language and the field it is about);
``PermissionDenied`` when the actor may not.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.models import Client, Contact, Contract
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, may_change
from mamori.desk import targets
from mamori.desk.models import (
    Channel,
    Direction,
    Request,
    RequestAttachment,
    RequestMessage,
)

#: The largest attachment kept (bytes); larger ones are refused with a message.
MAX_ATTACHMENT = 20 * 1024 * 1024


class DeskError(Exception):
    """A write the desk refuses; the message says why, ``field`` where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


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
        audit.record(
            "request.attachment",
            req,
            actor=actor,
            request=http_request,
            actor_label=None if actor else "desk",
            changes={
                "file": filename,
                "size": len(content),
                "sha256": digest,
                "encrypted": attachment.encrypted,
            },
        )
    return attachment
