"""Managed certificates and the client's approvals of their renewals (CERT-04, CERT-05).

Everyone who sees a client reads its managed certificates and approvals. Provider staff who see
the client add certificates, order a renewal now (only where the client's instruction allows it),
and put a renewal on hold or release it. The client's administrators approve or decline a
renewal; provider staff record an answer the client gave them, saying who gave it and how.
Every write is on the audit trail.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import conflict, invalid, invalid_form, problem
from mamori.api.schemas import Error, Input, Moment
from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.permissions import require_change
from mamori.lifecycle import approvals, orders, renewal
from mamori.lifecycle.models import (
    Approval,
    ApprovalChannel,
    ApprovalState,
    IssuerKind,
    KeyPolicy,
    KeyType,
    ManagedCertificate,
    RenewalInstruction,
)

router = Router(tags=["lifecycle"])


class ManagedOut(Schema):
    id: int
    client: str
    name: str
    names: list[str]
    key_type: str
    key_policy: str
    issuer: str
    acme_account: int | None = Field(None, alias="acme_account_id")
    acme_profile: str
    ca_name: str
    product: str
    challenge: str
    renewal_instruction: str = Field(..., description="As set; empty: the contract's.")
    effective_instruction: str = Field(..., description="`standing` or `approval`.")
    enabled: bool
    state: str = Field(
        ...,
        description="valid, due, approval, declined, hold, ordering, revoked, failed, overdue, "
        "none (not issued yet) or disabled.",
    )
    certificate: str | None = Field(None, description="SHA-256 fingerprint of the current one.")
    not_after: datetime | None
    renew_at: datetime | None
    renewal_source: str = Field(..., description="`ari`, `lifetime`, or empty.")
    overdue: bool
    awaiting: str = Field(..., description="What the renewal waits for from the client.")
    awaiting_since: datetime | None
    awaiting_note: str
    open_order: int | None
    created_at: datetime

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_effective_instruction(obj) -> str:
        return obj.effective_instruction()

    @staticmethod
    def resolve_state(obj) -> str:
        return renewal.status_of(obj).code

    @staticmethod
    def resolve_certificate(obj) -> str | None:
        return obj.certificate.fingerprint_sha256 if obj.certificate_id else None

    @staticmethod
    def resolve_not_after(obj) -> datetime | None:
        return obj.certificate.not_after if obj.certificate_id else None

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return obj.certificate_id is not None and renewal.is_overdue(obj)

    @staticmethod
    def resolve_open_order(obj) -> int | None:
        order = orders.open_order(obj)
        return order.pk if order else None


class ManagedIn(Input):
    client: str = Field(..., description="Code of the client.")
    name: str = Field(..., description="A short label, unique for the client.")
    names: list[str] = Field(..., description="DNS names; the first is the common name.")
    key_type: KeyType = KeyType.EC256
    key_policy: KeyPolicy = KeyPolicy.ROTATE
    issuer: IssuerKind = IssuerKind.ACME
    acme_account: int | None = Field(None, description="Id of one of the client's accounts.")
    acme_profile: str = ""
    ca_name: str = ""
    product: str = ""
    challenge: str = ""
    challenge_settings: dict[str, Any] = Field(default_factory=dict)
    challenge_secret: int | None = Field(None, description="Id of a secret in the vault.")
    renewal_instruction: RenewalInstruction = RenewalInstruction.CONTRACT
    contract: int | None = None
    enabled: bool = True


class ApprovalOut(Schema):
    id: int
    client: str
    managed_certificate: int = Field(..., alias="managed_id")
    renewal_of: str | None = Field(None, description="Fingerprint of the certificate to renew.")
    state: str
    requested_at: datetime
    reminders: list[float]
    decided_at: datetime | None
    decided_by: str | None
    given_by: str
    channel: str
    note: str

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.managed.client.code

    @staticmethod
    def resolve_renewal_of(obj) -> str | None:
        return obj.renewal_of.fingerprint_sha256 if obj.renewal_of_id else None

    @staticmethod
    def resolve_decided_by(obj) -> str | None:
        return obj.decided_by.get_username() if obj.decided_by_id else None


class DecisionIn(Input):
    note: str = ""
    given_by: str = Field(
        "", description="Provider staff only: who at the client gave the answer (required)."
    )
    channel: ApprovalChannel | None = Field(
        None, description="Provider staff only: phone, letter, email or meeting (required)."
    )
    at: Moment | None = Field(None, description="When the client answered; default now.")


class HoldIn(Input):
    awaiting: Literal["payment", "information", "decision"]
    note: str = ""
    notify: bool = Field(True, description="Ask the client for it by e-mail.")


class ManagedOrderOut(Schema):
    id: int
    purpose: str
    state: str
    issuer: str
    approval: int | None = Field(None, alias="approval_id")
    created_at: datetime


def _managed(request: HttpRequest):
    return ManagedCertificate.objects.visible_to(request.auth).select_related(
        "client", "certificate", "contract"
    )


def _approvals(request: HttpRequest):
    return Approval.objects.visible_to(request.auth).select_related(
        "managed__client", "renewal_of", "decided_by"
    )


@router.get(
    "/managed-certificates",
    response=list[ManagedOut],
    summary="List managed certificates",
)
@paginate
def list_managed_certificates(request: HttpRequest, client: str | None = None):
    managed = _managed(request)
    if client:
        managed = managed.filter(client__code=client)
    return managed.order_by("client__code", "name", "pk")


@router.get(
    "/managed-certificates/{managed_id}",
    response={200: ManagedOut, 404: Error},
    summary="Read a managed certificate",
)
def get_managed_certificate(request: HttpRequest, managed_id: int):
    return get_object_or_404(_managed(request), pk=managed_id)


@router.post(
    "/managed-certificates",
    response={201: ManagedOut, 403: Error, 422: Error},
    summary="Add a managed certificate",
    description="Provider staff who see the client. Nothing is ordered until it is issued.",
)
def create_managed_certificate(request: HttpRequest, payload: ManagedIn):
    from mamori.lifecycle.views_managed import ManagedForm

    user = request.auth
    client = Client.objects.visible_to(user).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    require_change(user, client, ManagedCertificate.change_rule)
    data = payload.dict()
    data["client"] = client.pk
    data["names"] = "\n".join(payload.names)
    data["challenge_settings"] = json.dumps(payload.challenge_settings)
    form = ManagedForm(
        {k: v for k, v in data.items() if v is not None and v is not False}, user=user
    )
    if not form.is_valid():
        raise invalid_form(form)
    with transaction.atomic():
        managed = form.save()
        audit.record(
            "managed.create",
            managed,
            actor=user,
            request=request,
            changes={"client": client.code, "name": managed.name, "names": managed.names},
        )
    return Status(201, get_object_or_404(_managed(request), pk=managed.pk))


@router.post(
    "/managed-certificates/{managed_id}/renew",
    response={201: ManagedOrderOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Order the renewal now",
    description="Provider staff. Only where the client's instruction allows it: a standing "
    "instruction, or the client's approval of this renewal; not while on hold. The first issue "
    "if there is no certificate yet. 409: not allowed now, or an order is already open.",
)
def renew_managed_certificate(request: HttpRequest, managed_id: int):
    managed = get_object_or_404(_managed(request), pk=managed_id)
    require_change(request.auth, managed)
    try:
        order = renewal.renew_now(managed, actor=request.auth, request=request)
    except renewal.RenewalError as e:
        raise conflict(str(e)) from None
    except orders.OrderInFlight as e:
        raise conflict(f"order #{e.order.pk} is still open") from None
    except ValueError as e:
        raise invalid(problem("names", str(e))) from None
    return Status(201, order)


@router.post(
    "/managed-certificates/{managed_id}/hold",
    response={200: ManagedOut, 403: Error, 404: Error},
    summary="Put the renewal on hold, waiting for the client",
    description="Provider staff. Nothing is ordered until released; with `notify` the client "
    "is asked by e-mail.",
)
def hold_managed_certificate(request: HttpRequest, managed_id: int, payload: HoldIn):
    managed = get_object_or_404(_managed(request), pk=managed_id)
    require_change(request.auth, managed)
    renewal.put_on_hold(
        managed,
        payload.awaiting,
        payload.note,
        actor=request.auth,
        notify=payload.notify,
        request=request,
    )
    return get_object_or_404(_managed(request), pk=managed_id)


@router.post(
    "/managed-certificates/{managed_id}/release",
    response={200: ManagedOut, 403: Error, 404: Error},
    summary="Release the hold",
    description="Provider staff. Releasing a renewal that is not on hold changes nothing.",
)
def release_managed_certificate(request: HttpRequest, managed_id: int):
    managed = get_object_or_404(_managed(request), pk=managed_id)
    require_change(request.auth, managed)
    renewal.release_hold(managed, actor=request.auth, request=request, strict=False)
    return get_object_or_404(_managed(request), pk=managed_id)


@router.get("/approvals", response=list[ApprovalOut], summary="List renewal approvals")
@paginate
def list_approvals(request: HttpRequest, state: str | None = None, client: str | None = None):
    qs = _approvals(request)
    if state:
        qs = qs.filter(state=state)
    if client:
        qs = qs.filter(managed__client__code=client)
    return qs


@router.get(
    "/approvals/{approval_id}",
    response={200: ApprovalOut, 404: Error},
    summary="Read a renewal approval",
)
def get_approval(request: HttpRequest, approval_id: int):
    return get_object_or_404(_approvals(request), pk=approval_id)


def _decide(request: HttpRequest, approval_id: int, payload: DecisionIn, decide):
    approval = get_object_or_404(_approvals(request), pk=approval_id)
    user = request.auth
    if not approvals.may_decide(user, approval.managed):
        raise PermissionDenied
    on_behalf = not approvals.is_client_admin_of(user, approval.managed)
    channel = (payload.channel or "") if on_behalf else ApprovalChannel.API
    try:
        decided = decide(
            approval,
            actor=user,
            channel=channel,
            given_by=payload.given_by,
            note=payload.note,
            at=payload.at if on_behalf else None,
            request=request,
        )
    except approvals.ApprovalError as e:
        if approval.state != ApprovalState.REQUESTED:
            raise conflict(str(e)) from None
        raise invalid(problem("given_by", str(e))) from None
    return get_object_or_404(_approvals(request), pk=decided.pk)


@router.post(
    "/approvals/{approval_id}/approve",
    response={200: ApprovalOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Approve a renewal",
    description="The client's administrators; provider staff record an answer the client gave "
    "them (`given_by` and `channel` required). The renewal is ordered at the next pass. "
    "409: already decided.",
)
def approve_renewal(request: HttpRequest, approval_id: int, payload: DecisionIn):
    return _decide(request, approval_id, payload, approvals.approve)


@router.post(
    "/approvals/{approval_id}/decline",
    response={200: ApprovalOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Decline a renewal",
    description="As approving; nothing is ordered for this renewal.",
)
def decline_renewal(request: HttpRequest, approval_id: int, payload: DecisionIn):
    return _decide(request, approval_id, payload, approvals.decline)
