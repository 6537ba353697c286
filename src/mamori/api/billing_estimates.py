"""Estimates (見積書, MNT-04): read the estimates you may see (a client's people: the issued ones);
the provider's administrators and operators draft, issue and withdraw them; a client's
administrators accept or decline them (or the provider's staff record that answer). Writes go
through :mod:`mamori.billing.estimates`, with the pages' and the command line's rules."""

from __future__ import annotations

import base64
from contextlib import contextmanager
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from mamori.api.errors import conflict, forbidden, invalid, problem
from mamori.api.schemas import Day, Error, Input
from mamori.billing import estimate_pdf, estimates
from mamori.billing.models import Estimate, EstimateState
from mamori.core.permissions import sees_client

router = Router(tags=["billing"])

#: Refusals that are about the estimate's state (409); the others name a field (422).
STATE_CODES = {
    "not_a_draft",
    "not_issued",
    "already_accepted",
    "already_declined",
    "already_expired",
    "already_withdrawn",
    "answered",
    "issuer_incomplete",
}


@contextmanager
def estimate_answers():
    try:
        yield
    except estimates.EstimateError as e:
        if e.code in STATE_CODES:
            raise conflict(e.message) from None
        raise invalid(problem(e.field or "__all__", e.message)) from None


class EstimateLineOut(Schema):
    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    tax_rate: int
    tax_included: bool


class EstimateOut(Schema):
    id: int
    number: str
    client: str
    contract: int | None = Field(None, alias="contract_id")
    request: int | None = Field(None, alias="request_id")
    state: str = Field(..., description="An issued estimate past its validity reads expired.")
    title: str
    language: str
    notes: str
    issue_date: Day | None
    valid_until: Day | None
    totals: list[dict]
    net_total: Decimal
    tax_total: Decimal
    total: Decimal
    accepted_at: str | None
    declined_at: str | None
    decline_reason: str
    answered_for: str
    lines: list[EstimateLineOut]

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_state(obj) -> str:
        return obj.shown_state()

    @staticmethod
    def resolve_accepted_at(obj) -> str | None:
        return obj.accepted_at.isoformat() if obj.accepted_at else None

    @staticmethod
    def resolve_declined_at(obj) -> str | None:
        return obj.declined_at.isoformat() if obj.declined_at else None

    @staticmethod
    def resolve_lines(obj) -> list:
        return list(obj.lines.all())


class EstimateLineIn(Input):
    description: str = Field(..., max_length=300)
    quantity: Decimal = Field(Decimal(1), gt=0, le=Decimal("99999999"))
    unit: str = Field("", max_length=20)
    unit_price: Decimal = Field(..., ge=0, le=Decimal("99999999999"), description="Whole yen.")
    tax_rate: Literal[10, 8] = 10
    tax_included: bool = False


class EstimateIn(Input):
    request: int = Field(..., description="The desk request the estimate answers.")
    title: str | None = Field(None, description="Default: the request's subject.")
    language: Literal["ja", "en"] | None = None
    notes: str = ""
    lines: list[EstimateLineIn] = []


class EstimatePatch(Input):
    title: str | None = None
    language: Literal["ja", "en"] | None = None
    notes: str | None = None
    lines: list[EstimateLineIn] | None = Field(None, description="Replaces every line.")


class IssueIn(Input):
    valid_until: Day | None = Field(None, description="Default: MAMORI_ESTIMATE_VALID_DAYS on.")


class AcceptIn(Input):
    answered_for: str = Field(
        "", max_length=200, description="Staff recording the client's answer: who gave it."
    )


class DeclineIn(AcceptIn):
    reason: str = Field("", max_length=2000)


def _estimate(request: HttpRequest, estimate_id: int) -> Estimate:
    """The estimate if the caller reads it: 403 for one who sees its client but not it (a
    subcontractor; a client's people and a draft), 404 for anyone else (as the pages)."""
    found = Estimate.objects.filter(pk=estimate_id).values_list("client_id", flat=True).first()
    rows = Estimate.objects.visible_to(request.auth).select_related("client")
    if (
        found is not None
        and not rows.filter(pk=estimate_id).exists()
        and sees_client(request.auth, found)
    ):
        raise forbidden()
    return get_object_or_404(rows, pk=estimate_id)


def _lines(lines) -> list[dict]:
    return [line.dict() for line in lines]


@router.get(
    "/estimates",
    response={200: list[EstimateOut]},
    summary="List estimates",
    description="The estimates you may see; a client's people see issued ones only.",
)
def list_estimates(
    request: HttpRequest,
    client: str | None = None,
    state: Literal[tuple(EstimateState.values)] | None = None,  # type: ignore[valid-type]
):
    rows = (
        Estimate.objects.visible_to(request.auth)
        .select_related("client")
        .prefetch_related("lines")
        .order_by("-created_at", "-pk")
    )
    if client:
        rows = rows.filter(client__code=client)
    if state:
        rows = rows.filter(state=state)
    return rows


@router.get(
    "/estimates/{estimate_id}",
    response={200: EstimateOut, 404: Error},
    summary="Read an estimate",
)
def get_estimate(request: HttpRequest, estimate_id: int):
    return _estimate(request, estimate_id)


class EstimatePdfOut(Schema):
    client: str
    number: str
    language: str
    filename: str
    content_base64: str


@router.get(
    "/estimates/{estimate_id}/pdf",
    response={200: EstimatePdfOut, 404: Error},
    summary="An estimate's PDF",
    description="The document as base64; `language`: ja or en (default: the estimate's).",
)
def get_estimate_pdf(
    request: HttpRequest, estimate_id: int, language: Literal["ja", "en"] | None = None
):
    estimate = _estimate(request, estimate_id)
    language = language or estimate.language
    return {
        "client": estimate.client.code,
        "number": estimate.number,
        "language": language,
        "filename": estimate_pdf.filename(estimate, language),
        "content_base64": base64.b64encode(estimate_pdf.render(estimate, language)).decode(),
    }


@router.post(
    "/estimates",
    response={201: EstimateOut, 403: Error, 422: Error},
    summary="Draft an estimate for a request",
    description="The provider's administrators and operators.",
)
def create_estimate(request: HttpRequest, payload: EstimateIn):
    from mamori.desk.models import Request

    desk_request = Request.objects.visible_to(request.auth).filter(pk=payload.request).first()
    if desk_request is None:
        raise invalid(problem("request", "Unknown request."))
    with estimate_answers():
        estimate = estimates.create_estimate(
            request.auth,
            desk_request.client,
            title=payload.title or desk_request.subject,
            contract=desk_request.contract,
            request=desk_request,
            language=payload.language,
            notes=payload.notes,
            lines=_lines(payload.lines),
            http_request=request,
        )
    return Status(201, _estimate(request, estimate.pk))


@router.patch(
    "/estimates/{estimate_id}",
    response={200: EstimateOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Change a draft estimate",
    description="Only the fields given change; `lines` replaces every line. Drafts only (409).",
)
def update_estimate(request: HttpRequest, estimate_id: int, payload: EstimatePatch):
    estimate = _estimate(request, estimate_id)
    with estimate_answers():
        estimates.update_draft(
            request.auth,
            estimate,
            title=payload.title,
            notes=payload.notes,
            language=payload.language,
            lines=_lines(payload.lines) if payload.lines is not None else None,
            http_request=request,
        )
    return _estimate(request, estimate_id)


@router.post(
    "/estimates/{estimate_id}/issue",
    response={200: EstimateOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Issue an estimate",
    description="Numbers it, e-mails it with its PDF to the requester and billing contacts.",
)
def issue_estimate(request: HttpRequest, estimate_id: int, payload: IssueIn):
    estimate = _estimate(request, estimate_id)
    with estimate_answers():
        estimates.issue(
            request.auth, estimate, valid_until=payload.valid_until, http_request=request
        )
    return _estimate(request, estimate_id)


@router.post(
    "/estimates/{estimate_id}/withdraw",
    response={200: EstimateOut, 403: Error, 404: Error, 409: Error},
    summary="Withdraw an estimate",
)
def withdraw_estimate(request: HttpRequest, estimate_id: int):
    estimate = _estimate(request, estimate_id)
    with estimate_answers():
        estimates.withdraw(request.auth, estimate, http_request=request)
    return _estimate(request, estimate_id)


@router.post(
    "/estimates/{estimate_id}/accept",
    response={200: EstimateOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Accept an estimate",
    description="The client's administrators, or staff recording their answer. Its lines are "
    "billed by the next invoice run. 409 once answered, withdrawn or past its validity.",
)
def accept_estimate(request: HttpRequest, estimate_id: int, payload: AcceptIn):
    estimate = _estimate(request, estimate_id)
    with estimate_answers():
        estimates.accept(
            request.auth, estimate, answered_for=payload.answered_for, http_request=request
        )
    return _estimate(request, estimate_id)


@router.post(
    "/estimates/{estimate_id}/decline",
    response={200: EstimateOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Decline an estimate",
)
def decline_estimate(request: HttpRequest, estimate_id: int, payload: DeclineIn):
    estimate = _estimate(request, estimate_id)
    with estimate_answers():
        estimates.decline(
            request.auth,
            estimate,
            reason=payload.reason,
            answered_for=payload.answered_for,
            http_request=request,
        )
    return _estimate(request, estimate_id)
