"""Requests of the work desk (MNT-03, MNT-05): read the requests you may see, file one (a
client's administrators for their client, the provider's staff for any client they serve),
write on one, and for the provider's staff resolve, close and reopen.

Client users never see internal notes. A confidential request's files are encrypted in the
vault: the API lists them but gives their content only for plain files (409 otherwise: the
request's page reads them with a stated purpose).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import conflict, forbidden, invalid, invalid_from, problem, query_problem
from mamori.api.schemas import Error, Input
from mamori.clients.models import Client, Contact, Contract
from mamori.core.permissions import Rule, may_change
from mamori.desk import services
from mamori.desk.models import Channel, Direction, Request, RequestAttachment, RequestState

router = Router(tags=["desk"])

MAX_FILES = 10


class RequestOut(Schema):
    id: int
    number: str
    client: str
    contract: int | None = Field(None, alias="contract_id")
    contact: int | None = Field(None, alias="contact_id")
    requester: str
    channel: str
    subject: str
    state: str
    scope: str
    confidential: bool
    received_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    assignee: str | None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_assignee(obj) -> str | None:
        return obj.assignee.get_username() if obj.assignee_id else None


class RequestDetailOut(RequestOut):
    body: str


class RequestMessageOut(Schema):
    id: int
    direction: str = Field(..., description="in (the client's), out (the provider's), note.")
    at: datetime
    by: str | None
    sender: str
    body: str
    is_question: bool
    answered_at: datetime | None

    @staticmethod
    def resolve_by(obj) -> str | None:
        return obj.user.get_username() if obj.user_id else None


class RequestAttachmentOut(Schema):
    id: int
    message: int | None = Field(None, alias="message_id")
    filename: str
    content_type: str
    size: int
    sha256: str
    encrypted: bool
    created_at: datetime


class AttachmentContentOut(RequestAttachmentOut):
    content_base64: str


class FileIn(Input):
    filename: str = Field(..., min_length=1, max_length=255)
    content_type: str = Field("application/octet-stream", max_length=200)
    content_base64: str = Field(..., max_length=30 * 1024 * 1024)


class RequestIn(Input):
    client: str = Field(..., description="Code of the client.")
    subject: str = Field(..., min_length=1, max_length=300)
    body: str = Field(..., max_length=20000)
    contract: int | None = Field(None, description="Default: the client's contract for work.")
    contact: int | None = Field(None, description="Staff: the contact who asked.")
    requester: str = Field("", max_length=300, description="Staff: the caller's name.")
    channel: Literal["api", "phone", "email"] = Field(
        "api", description="Staff: how the request came in (a client's request is api)."
    )
    confidential: bool = False
    attachments: list[FileIn] = Field(default_factory=list, max_length=MAX_FILES)


class RequestMessageIn(Input):
    kind: Literal["reply", "question", "note"] = Field(
        "reply",
        description="Staff: a reply or question e-mailed to the client, or an internal note. "
        "A client's administrator writes a reply (their message to the provider).",
    )
    body: str = Field(..., min_length=1, max_length=20000)
    attachments: list[FileIn] = Field(default_factory=list, max_length=MAX_FILES)


class StateIn(Input):
    action: Literal["resolve", "close", "reopen"]


def _requests(request: HttpRequest):
    return Request.objects.visible_to(request.auth).select_related("client", "assignee")


def _files(files: list[FileIn]) -> list[tuple[str, str, bytes]]:
    result = []
    for index, f in enumerate(files):
        try:
            data = base64.b64decode(f.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(problem(f"attachments.{index}.content_base64", "Not base64.")) from None
        if len(data) > services.MAX_ATTACHMENT:
            raise invalid(
                problem(f"attachments.{index}", f"Larger than {services.MAX_ATTACHMENT} bytes.")
            )
        result.append((f.filename, f.content_type, data))
    return result


def _attach(req, files, message, request: HttpRequest) -> None:
    for filename, content_type, data in files:
        services.add_attachment(
            req,
            filename=filename,
            content=data,
            content_type=content_type,
            message=message,
            actor=request.auth,
            http_request=request,
        )


@router.get("/requests", response=list[RequestOut], summary="List requests")
@paginate
def list_requests(
    request: HttpRequest,
    client: str | None = None,
    state: str | None = None,
    active: bool = False,
):
    """By the time the next step is due (the desk's queue) when ``active``; else newest first."""
    qs = _requests(request)
    if client:
        qs = qs.filter(client__code=client)
    if state:
        if state not in RequestState.values:
            raise invalid(query_problem("state", f"One of {', '.join(RequestState.values)}."))
        qs = qs.filter(state=state)
    if active:
        return services.queue(qs)
    return qs.order_by("-received_at", "-pk")


@router.post(
    "/requests",
    response={201: RequestDetailOut, 403: Error, 422: Error},
    summary="File a request",
    description="A client's administrator for their client (channel api); the provider's "
    "administrators and operators for any client (e.g. a phone call: channel phone and the "
    "caller as requester or contact). The client's contacts get an acknowledgement and the "
    "operators a notice, once.",
)
def create_request(request: HttpRequest, payload: RequestIn):
    user = request.auth
    client = Client.objects.visible_to(user).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    if not services.may_ask(user, client):
        raise forbidden()
    staff = user.is_provider_staff
    contract = contact = None
    if payload.contract is not None:
        contract = Contract.objects.filter(client=client, pk=payload.contract).first()
        if contract is None:
            raise invalid(problem("contract", "Not a contract of this client."))
    if payload.contact is not None:
        contact = Contact.objects.filter(client=client, pk=payload.contact).first()
        if contact is None:
            raise invalid(problem("contact", "Not a contact of this client."))
    files = _files(payload.attachments)
    try:
        with transaction.atomic():
            req = services.create_request(
                client,
                channel=payload.channel if staff else Channel.API,
                subject=payload.subject,
                body=payload.body,
                contract=contract,
                contact=contact if staff else None,
                requester=payload.requester if staff else "",
                confidential=payload.confidential,
                actor=user,
                http_request=request,
            )
            _attach(req, files, req.messages.order_by("at", "pk").first(), request)
    except services.DeskError as error:
        raise invalid_from(error) from None
    return Status(201, get_object_or_404(_requests(request), pk=req.pk))


@router.get(
    "/requests/{request_id}",
    response={200: RequestDetailOut, 404: Error},
    summary="Read a request",
)
def get_request(request: HttpRequest, request_id: int):
    return get_object_or_404(_requests(request), pk=request_id)


@router.get(
    "/requests/{request_id}/messages",
    response={200: list[RequestMessageOut], 404: Error},
    summary="The conversation of a request",
    description="Oldest first; internal notes for the provider's staff only.",
)
def list_request_messages(request: HttpRequest, request_id: int):
    req = get_object_or_404(_requests(request), pk=request_id)
    messages = req.messages.select_related("user")
    if not request.auth.is_provider_staff:
        messages = messages.exclude(direction=Direction.NOTE)
    return list(messages)


@router.post(
    "/requests/{request_id}/messages",
    response={201: RequestMessageOut, 403: Error, 404: Error, 422: Error},
    summary="Write on a request",
    description="Staff: a reply or a question (e-mailed to the client, threaded) or a note. "
    "A client's administrator: their message (a resolved request opens again).",
)
def add_request_message(request: HttpRequest, request_id: int, payload: RequestMessageIn):
    req = get_object_or_404(_requests(request), pk=request_id)
    user = request.auth
    staff = may_change(user, req, Rule.STAFF)
    if not staff and not may_change(user, req, Rule.CLIENT_ADMIN):
        raise forbidden()
    files = _files(payload.attachments)
    try:
        with transaction.atomic():
            if not staff:
                if payload.kind != "reply":
                    raise forbidden()
                message = services.client_reply(req, payload.body, user, http_request=request)
            elif payload.kind == "note":
                message = services.add_note(req, payload.body, user, http_request=request)
            else:
                message = services.reply(
                    req,
                    payload.body,
                    user,
                    is_question=payload.kind == "question",
                    http_request=request,
                )
            _attach(req, files, message, request)
    except services.DeskError as error:
        raise invalid(problem(error.field or "body", str(error))) from None
    return Status(201, message)


@router.post(
    "/requests/{request_id}/state",
    response={200: RequestDetailOut, 403: Error, 404: Error, 409: Error},
    summary="Resolve, close or reopen a request",
    description="The provider's staff. 409: the request's state does not allow it.",
)
def change_request_state(request: HttpRequest, request_id: int, payload: StateIn):
    req = get_object_or_404(_requests(request), pk=request_id)
    function = {
        "resolve": services.resolve,
        "close": services.close,
        "reopen": services.reopen,
    }[payload.action]
    try:
        function(req, request.auth, http_request=request)
    except services.DeskError as error:
        raise conflict(str(error)) from None
    return get_object_or_404(_requests(request), pk=req.pk)


def _attachments(request: HttpRequest, req: Request):
    qs = RequestAttachment.objects.visible_to(request.auth).filter(request=req)
    if not request.auth.is_provider_staff:
        qs = qs.exclude(message__direction=Direction.NOTE)
    return qs


@router.get(
    "/requests/{request_id}/attachments",
    response={200: list[RequestAttachmentOut], 404: Error},
    summary="The files of a request",
)
def list_request_attachments(request: HttpRequest, request_id: int):
    req = get_object_or_404(_requests(request), pk=request_id)
    return list(_attachments(request, req))


@router.get(
    "/requests/{request_id}/attachments/{attachment_id}",
    response={200: AttachmentContentOut, 404: Error, 409: Error},
    summary="One file of a request, with its content",
    description="409 for an encrypted file (a confidential request's): open it on the "
    "request's page, which asks for the purpose and records it.",
)
def get_request_attachment(request: HttpRequest, request_id: int, attachment_id: int):
    req = get_object_or_404(_requests(request), pk=request_id)
    attachment = get_object_or_404(_attachments(request, req), pk=attachment_id)
    if attachment.encrypted:
        raise conflict("The file is encrypted: open it on the request's page with a purpose.")
    attachment.content_base64 = base64.b64encode(bytes(attachment.data or b"")).decode()
    return attachment
