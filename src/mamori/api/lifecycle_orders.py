"""Orders, revocations and tasks of the certificate lifecycle (CERT-07, 08, 10, 12, 13, 15,
CT-09).

Reading is for whoever sees the client. Working an order at a commercial CA (steps, exchanges
with their documents, the issued certificate, the fee), recording that a CA revoked and working
tasks are for provider staff who see the client; requesting a revocation is also for the client's
administrators. Every write is audited (by the services it calls).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from mamori.api.auth import require_edit
from mamori.api.errors import conflict, invalid, invalid_from, problem
from mamori.api.schemas import Error, Input, Moment
from mamori.certificates.models import Certificate
from mamori.clients.models import Client
from mamori.core.permissions import require_change
from mamori.lifecycle import manual, orders, revocation, tasks
from mamori.lifecycle.models import (
    Awaiting,
    ManagedCertificate,
    MessageDirection,
    Order,
    Revocation,
    RevocationReason,
    Task,
    TaskState,
)
from mamori.vault import keys as vault_keys
from mamori.vault import services as vault

router = Router(tags=["lifecycle"])


# --- schemas ---------------------------------------------------------------------------------


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    destroyed_at: datetime | None


class MessageOut(Schema):
    id: int
    direction: MessageDirection
    at: datetime
    by: str | None
    counterpart: str
    subject: str
    body: str
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_by(obj) -> str | None:
        return obj.by.get_username() if obj.by_id else None

    @staticmethod
    def resolve_attachments(obj) -> list:
        return list(obj.attachments.all())


class ChallengeOut(Schema):
    identifier: str
    challenge_type: str
    state: str
    location: str
    error: str
    cleaned_at: datetime | None


class OrderOut(Schema):
    id: int
    client: str
    managed_certificate: int = Field(..., alias="managed_id")
    purpose: str
    issuer: str
    state: str
    names: list[str]
    key_type: str
    ca_reference: str
    certificate: str | None = Field(None, description="SHA-256 fingerprint once issued.")
    error_type: str
    error_detail: str
    documents_destroyed_at: datetime | None
    fee_amount: Decimal | None
    fee_currency: str
    fee_note: str
    fee_billed_at: datetime | None
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.managed.client.code

    @staticmethod
    def resolve_certificate(obj) -> str | None:
        return obj.certificate.fingerprint_sha256 if obj.certificate_id else None


class OrderDetailOut(OrderOut):
    csr_pem: str
    challenges: list[ChallengeOut]
    messages: list[MessageOut]

    @staticmethod
    def resolve_challenges(obj) -> list:
        return list(obj.challenges.all())

    @staticmethod
    def resolve_messages(obj) -> list:
        return list(obj.messages.select_related("by").prefetch_related("attachments"))


class OrderList(Schema):
    client: str
    items: list[OrderOut]


class StepIn(Input):
    step: Literal["apply", "under_review", "reject"]
    ca_reference: str = ""
    reason: str = Field("", description="Why the CA rejected it (required for `reject`).")


class AttachmentIn(Input):
    filename: str = Field(..., min_length=1, max_length=255)
    content_type: str = ""
    content_base64: str = Field(..., description="The document, base64; at most 64 KiB.")


class MessageIn(Input):
    direction: MessageDirection
    subject: str = Field(..., min_length=1, max_length=300)
    body: str = ""
    counterpart: str = ""
    at: Moment | None = None
    attachments: list[AttachmentIn] = []


class FeeIn(Input):
    amount: Decimal = Field(..., ge=0)
    currency: str = "JPY"
    note: str = ""


class CertificateIn(Input):
    pem: str = Field(..., description="The issued certificate then its chain, PEM.")


class RevocationOut(Schema):
    id: int
    client: str
    certificate: str
    managed_certificate: int | None = Field(None, alias="managed_id")
    reason: int
    reason_label: str
    requested_by: str
    requested_at: datetime
    method: str
    state: str
    ca_reference: str
    error: str
    reissue: bool
    done_at: datetime | None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_certificate(obj) -> str:
        return obj.certificate.fingerprint_sha256

    @staticmethod
    def resolve_reason_label(obj) -> str:
        return str(RevocationReason(obj.reason).label)


class RevocationList(Schema):
    client: str
    items: list[RevocationOut]


class RevocationIn(Input):
    certificate: str = Field(..., description="SHA-256 fingerprint.")
    reason: int = Field(..., description="RFC 5280 reason: 0, 1, 3, 4 or 5.")
    requested_by: str = Field(..., min_length=1, max_length=200)
    requested_at: Moment | None = None
    reissue: bool = Field(True, description="Order and install a replacement.")


class RevokedIn(Input):
    ca_reference: str = ""
    at: Moment | None = None


class TaskOut(Schema):
    id: int
    client: str
    kind: str
    title: str
    description: str
    state: str
    managed_certificate: int | None = Field(None, alias="managed_id")
    certificate: str | None
    site: int | None = Field(None, alias="site_id")
    awaiting: str
    awaiting_since: datetime | None
    awaiting_note: str
    created_at: datetime
    closed_at: datetime | None
    resolution: str

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_title(obj) -> str:
        return obj.shown_title  # in the user's language

    @staticmethod
    def resolve_description(obj) -> str:
        return obj.shown_description

    @staticmethod
    def resolve_certificate(obj) -> str | None:
        return obj.certificate.fingerprint_sha256 if obj.certificate_id else None


class TaskList(Schema):
    client: str
    items: list[TaskOut]


class WaitIn(Input):
    awaiting: Literal["approval", "payment", "information", "decision"]
    note: str = Field(..., min_length=1)


class CloseIn(Input):
    resolution: str = Field(..., min_length=1)
    canceled: bool = False


# --- helpers ---------------------------------------------------------------------------------


def _client(request: HttpRequest, code: str) -> Client:
    return get_object_or_404(Client.objects.visible_to(request.auth), code=code)


def _orders(request: HttpRequest):
    return Order.objects.visible_to(request.auth).select_related("managed__client", "certificate")


def _staff_order(request: HttpRequest, order_id: int) -> Order:
    order = get_object_or_404(_orders(request), pk=order_id)
    require_change(request.auth, order)
    return order


# --- orders ----------------------------------------------------------------------------------


@router.get(
    "/clients/{code}/orders",
    response={200: OrderList, 404: Error},
    summary="List a client's orders",
)
def list_client_orders(request: HttpRequest, code: str, open: bool = False):
    client = _client(request, code)
    items = _orders(request).filter(managed__client=client)
    if open:
        items = items.open()
    return {"client": client.code, "items": list(items[:500])}


@router.get(
    "/orders/{order_id}", response={200: OrderDetailOut, 404: Error}, summary="Read an order"
)
def get_order(request: HttpRequest, order_id: int):
    return get_object_or_404(_orders(request), pk=order_id)


@router.post(
    "/orders/{order_id}/steps",
    response={200: OrderDetailOut, 403: Error, 404: Error, 422: Error},
    summary="Record a commercial CA's progress",
    description="`apply` (sent), `under_review`, or `reject` (the documents submitted for the "
    "order are destroyed). Provider staff only.",
)
def order_step(request: HttpRequest, order_id: int, payload: StepIn):
    order = _staff_order(request, order_id)
    try:
        if payload.step == "apply":
            manual.apply(
                order, actor=request.auth, ca_reference=payload.ca_reference, request=request
            )
        elif payload.step == "under_review":
            manual.under_review(
                order, actor=request.auth, ca_reference=payload.ca_reference, request=request
            )
        else:
            manual.reject(order, actor=request.auth, reason=payload.reason, request=request)
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    return get_object_or_404(_orders(request), pk=order.pk)


@router.post(
    "/orders/{order_id}/messages",
    response={201: MessageOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Record an exchange with the CA",
    description="With its documents (stored encrypted in the vault). Provider staff only. "
    "409: the vault is not available.",
)
def add_order_message(request: HttpRequest, order_id: int, payload: MessageIn):
    order = _staff_order(request, order_id)
    files = []
    for a in payload.attachments:
        try:
            data = base64.b64decode(a.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(problem("attachments", f"{a.filename}: not base64")) from None
        files.append((a.filename, a.content_type, data))
    try:
        message = manual.record_message(
            order,
            direction=payload.direction,
            subject=payload.subject,
            body=payload.body,
            counterpart=payload.counterpart,
            at=payload.at,
            actor=request.auth,
            attachments=files,
            request=request,
        )
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    except (vault.VaultError, vault_keys.KeyringError):
        raise conflict("The vault is not available.") from None
    return Status(201, message)


@router.post(
    "/orders/{order_id}/fee",
    response={200: OrderOut, 403: Error, 404: Error, 422: Error},
    summary="Record the CA's fee for billing",
)
def record_order_fee(request: HttpRequest, order_id: int, payload: FeeIn):
    order = _staff_order(request, order_id)
    try:
        manual.record_fee(
            order,
            payload.amount,
            payload.currency,
            payload.note,
            actor=request.auth,
            request=request,
        )
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    return get_object_or_404(_orders(request), pk=order.pk)


@router.post(
    "/orders/{order_id}/certificate",
    response={200: OrderOut, 403: Error, 404: Error, 422: Error},
    summary="Upload the certificate a commercial CA issued",
    description="Accepted only if it is for the order's key and names; 422 says why not.",
)
def upload_order_certificate(request: HttpRequest, order_id: int, payload: CertificateIn):
    order = _staff_order(request, order_id)
    try:
        manual.upload_certificate(order, payload.pem, actor=request.auth, request=request)
    except orders.CertificateMismatch as e:
        raise invalid(problem("pem", str(e))) from None
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    return get_object_or_404(_orders(request), pk=order.pk)


# --- revocations -----------------------------------------------------------------------------


def _revocations(request: HttpRequest):
    return Revocation.objects.visible_to(request.auth).select_related("client", "certificate")


@router.get(
    "/clients/{code}/revocations",
    response={200: RevocationList, 404: Error},
    summary="List a client's revocations",
)
def list_client_revocations(request: HttpRequest, code: str):
    client = _client(request, code)
    return {"client": client.code, "items": list(_revocations(request).filter(client=client))}


@router.get(
    "/revocations/{revocation_id}",
    response={200: RevocationOut, 404: Error},
    summary="Read a revocation",
)
def get_revocation(request: HttpRequest, revocation_id: int):
    return get_object_or_404(_revocations(request), pk=revocation_id)


@router.post(
    "/revocations",
    response={201: RevocationOut, 403: Error, 409: Error, 422: Error},
    summary="Request a revocation",
    description="Revoked at once at the CA for a certificate Mamori obtained by ACME; for a "
    "commercial CA it stays `pending` until staff record that the CA revoked it. With `reissue`, "
    "a replacement is ordered and a task follows it up. 409: already revoked or requested.",
)
def request_revocation(request: HttpRequest, payload: RevocationIn):
    user = request.auth
    require_edit(user)
    cert = (
        Certificate.objects.visible_to(user)
        .filter(fingerprint_sha256=payload.certificate.replace(":", "").lower())
        .first()
    )
    if cert is None:
        raise invalid(problem("certificate", "Unknown certificate."))
    managed = ManagedCertificate.objects.visible_to(user).filter(certificate=cert).first()
    try:
        rev = revocation.request_revocation(
            cert,
            reason=payload.reason,
            requested_by=payload.requested_by,
            requested_at=payload.requested_at,
            actor=user,
            managed=managed,
            reissue=payload.reissue,
            request=request,
        )
    except revocation.AlreadyRevoked as e:
        raise conflict(" ".join(e.messages)) from None
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    return Status(201, get_object_or_404(_revocations(request), pk=rev.pk))


@router.post(
    "/revocations/{revocation_id}/done",
    response={200: RevocationOut, 403: Error, 404: Error, 422: Error},
    summary="Record that the CA revoked",
)
def mark_revocation_done(request: HttpRequest, revocation_id: int, payload: RevokedIn):
    rev = get_object_or_404(_revocations(request), pk=revocation_id)
    require_change(request.auth, rev)
    try:
        revocation.mark_revoked(
            rev,
            ca_reference=payload.ca_reference,
            at=payload.at,
            actor=request.auth,
            request=request,
        )
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    return get_object_or_404(_revocations(request), pk=rev.pk)


# --- tasks -----------------------------------------------------------------------------------


def _tasks(request: HttpRequest):
    return Task.objects.visible_to(request.auth).select_related("client", "certificate")


def _staff_task(request: HttpRequest, task_id: int) -> Task:
    task = get_object_or_404(_tasks(request), pk=task_id)
    require_change(request.auth, task)
    return task


@router.get(
    "/clients/{code}/tasks", response={200: TaskList, 404: Error}, summary="List a client's tasks"
)
def list_client_tasks(request: HttpRequest, code: str, state: str | None = None):
    client = _client(request, code)
    items = _tasks(request).filter(client=client)
    if state:
        items = items.filter(state=state)
    return {"client": client.code, "items": list(items[:500])}


@router.get("/tasks/{task_id}", response={200: TaskOut, 404: Error}, summary="Read a task")
def get_task(request: HttpRequest, task_id: int):
    return get_object_or_404(_tasks(request), pk=task_id)


def _task_call(request, task_id, action) -> Task:
    task = _staff_task(request, task_id)
    try:
        action(task)
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    return get_object_or_404(_tasks(request), pk=task.pk)


@router.post(
    "/tasks/{task_id}/wait",
    response={200: TaskOut, 403: Error, 404: Error, 422: Error},
    summary="Record that a task waits for the client",
)
def wait_task(request: HttpRequest, task_id: int, payload: WaitIn):
    return _task_call(
        request,
        task_id,
        lambda t: tasks.set_waiting(
            t, Awaiting(payload.awaiting), payload.note, actor=request.auth, request=request
        ),
    )


@router.post(
    "/tasks/{task_id}/resume",
    response={200: TaskOut, 403: Error, 404: Error, 422: Error},
    summary="The client answered: a task no longer waits",
)
def resume_task(request: HttpRequest, task_id: int):
    return _task_call(
        request, task_id, lambda t: tasks.resume(t, actor=request.auth, request=request)
    )


@router.post(
    "/tasks/{task_id}/close",
    response={200: TaskOut, 403: Error, 404: Error, 422: Error},
    summary="Close a task with what was done",
)
def close_task(request: HttpRequest, task_id: int, payload: CloseIn):
    state = TaskState.CANCELED if payload.canceled else TaskState.DONE
    return _task_call(
        request,
        task_id,
        lambda t: tasks.close_task(
            t, actor=request.auth, resolution=payload.resolution, state=state, request=request
        ),
    )
