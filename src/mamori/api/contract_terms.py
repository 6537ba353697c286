"""Contract terms in the API (CT-02..CT-05): a contract's computed dates (read with the contract),
the notices it received (list, record one), and the terms profiles (CRUD, provider staff).

Recording a notice goes through :func:`mamori.clients.services.record_contract_notice` (its
audit event in the same transaction); a notice the terms refuse (a withdrawal after the
cooling-off days) answers 409 with the reason in the caller's language.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from mamori.api.errors import conflict, forbidden, invalid, problem
from mamori.api.inventory_records import given, not_null, service_answers
from mamori.api.schemas import Day, Error, Input
from mamori.clients import services, terms
from mamori.clients.models import (
    CancellationRule,
    Contract,
    ContractNotice,
    MinimumTerm,
    NoticeKind,
    NoticeMedium,
    TermKind,
    TermsProfile,
)
from mamori.monitoring.sla import SlaError, parse_month

KindName = Literal[tuple(NoticeKind.values)]  # type: ignore[valid-type]
MediumName = Literal[tuple(NoticeMedium.values)]  # type: ignore[valid-type]
TermKindName = Literal[tuple(TermKind.values)]  # type: ignore[valid-type]
MinimumName = Literal[tuple(MinimumTerm.values)]  # type: ignore[valid-type]
CancellationName = Literal[tuple(CancellationRule.values)]  # type: ignore[valid-type]


class TermsOut(Schema):
    """A contract's dates on ``on`` (today), computed from its terms."""

    on: date
    state: str = Field(..., description="in_force, notice_given, ending, ended or withdrawn")
    term_start: date | None
    term_end: date | None
    term_number: int | None
    end: date | None = Field(..., description="The day the contract ends; null: it renews on.")
    notice_deadline: date | None = Field(
        ..., description="The last day a notice may arrive to end it at the date below."
    )
    ends_if_notice_by_deadline: date | None
    earliest_end: date | None = Field(..., description="The end a notice received today gives.")
    next_term_start: date | None
    next_term_end: date | None
    minimum_term_end: date | None
    cooling_off_until: date | None


def terms_of(contract: Contract) -> dict:
    return terms.status(contract, timezone.localdate()).as_dict()


class ContractNoticeOut(Schema):
    id: int
    contract: int = Field(..., alias="contract_id")
    client: str
    kind: str
    received_on: date
    medium: str
    sender: str
    requested_end_month: str | None = Field(None, description="YYYY-MM")
    effective_on: date
    reason: str = Field(..., description="A code; empty when the notice takes effect as asked.")
    reason_text: str = Field(..., description="The reason in the caller's language.")

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.contract.client.code

    @staticmethod
    def resolve_requested_end_month(obj) -> str | None:
        return f"{obj.requested_end_month:%Y-%m}" if obj.requested_end_month else None

    @staticmethod
    def resolve_reason_text(obj) -> str:
        return services.notice_reason(obj)


class ContractNoticeIn(Input):
    kind: KindName = "cancellation"  # type: ignore[valid-type]
    received_on: Day
    medium: MediumName = Field(..., description="letter or email")  # type: ignore[valid-type]
    sender: str = Field(..., min_length=1, max_length=200)
    requested_end_month: str | None = Field(None, description="YYYY-MM, optional")


notices = Router(tags=["contracts"])


def visible_contract(request: HttpRequest, contract_id: int) -> Contract:
    """The contract ``contract_id`` if the caller sees it, else 404 (the desk's routes too)."""
    return get_object_or_404(
        Contract.objects.visible_to(request.auth).select_related("client", "terms_profile"),
        pk=contract_id,
    )


@notices.get(
    "/{contract_id}/notices",
    response={200: list[ContractNoticeOut], 404: Error},
    summary="List a contract's cancellation and withdrawal notices",
)
def list_contract_notices(request: HttpRequest, contract_id: int):
    contract = visible_contract(request, contract_id)
    return list(ContractNotice.objects.filter(contract=contract).select_related("contract__client"))


@notices.post(
    "/{contract_id}/notices",
    response={201: ContractNoticeOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Record a cancellation or withdrawal notice",
    description="The effective date is computed by the contract's terms; a late notice gets the "
    "next possible date and a `reason`. A withdrawal after the cooling-off days, or a notice "
    "for a contract that has ended, answers 409.",
)
def create_contract_notice(request: HttpRequest, contract_id: int, payload: ContractNoticeIn):
    contract = visible_contract(request, contract_id)
    month = None
    if payload.requested_end_month:
        try:
            month = parse_month(payload.requested_end_month)
        except SlaError as e:
            raise invalid(problem("requested_end_month", str(e))) from None
    with service_answers():
        try:
            notice = services.record_contract_notice(
                request.auth,
                contract,
                kind=payload.kind,
                received_on=payload.received_on,
                medium=payload.medium,
                sender=payload.sender,
                requested_end_month=month,
                request=request,
            )
        except terms.TermsError as e:
            raise conflict(e.message) from None
    return Status(201, notice)


# --- terms profiles ------------------------------------------------------------------------------

profiles = Router(tags=["terms profiles"])


class TermsProfileOut(Schema):
    id: int
    code: str
    name_ja: str
    name_en: str
    name: str = Field(..., description="The name in the caller's language.")
    term_kind: str
    term_months: int
    auto_renew: bool
    notice_days: int
    minimum_term: str
    cancellation: str
    mid_term_notice_days: int
    cooling_off_days: int
    reminder_days: int | None
    first_month_whole: bool
    bill_to_period_end: bool
    retention_years: int
    builtin: bool

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.display_name()


class TermsProfileIn(Input):
    code: str
    name_ja: str
    name_en: str
    term_kind: TermKindName = "fixed"  # type: ignore[valid-type]
    term_months: int = Field(12, ge=1, le=120)
    auto_renew: bool = True
    notice_days: int = Field(30, ge=0, le=400)
    minimum_term: MinimumName = "none"  # type: ignore[valid-type]
    cancellation: CancellationName = "term_end"  # type: ignore[valid-type]
    mid_term_notice_days: int = Field(0, ge=0, le=400)
    cooling_off_days: int = Field(0, ge=0, le=400)
    reminder_days: int | None = Field(None, ge=0, le=400)
    first_month_whole: bool = False
    bill_to_period_end: bool = True
    retention_years: int = Field(3, ge=1, le=30)


class TermsProfilePatch(Input):
    code: str | None = None
    name_ja: str | None = None
    name_en: str | None = None
    term_kind: TermKindName | None = None  # type: ignore[valid-type]
    term_months: int | None = Field(None, ge=1, le=120)
    auto_renew: bool | None = None
    notice_days: int | None = Field(None, ge=0, le=400)
    minimum_term: MinimumName | None = None  # type: ignore[valid-type]
    cancellation: CancellationName | None = None  # type: ignore[valid-type]
    mid_term_notice_days: int | None = Field(None, ge=0, le=400)
    cooling_off_days: int | None = Field(None, ge=0, le=400)
    reminder_days: int | None = Field(None, ge=0, le=400)
    first_month_whole: bool | None = None
    bill_to_period_end: bool | None = None
    retention_years: int | None = Field(None, ge=1, le=30)


def _staff(request: HttpRequest) -> None:
    if not request.auth.is_provider_staff:
        raise forbidden()


@profiles.get("", response={200: list[TermsProfileOut], 403: Error}, summary="List terms profiles")
def list_terms_profiles(request: HttpRequest):
    _staff(request)
    return list(TermsProfile.objects.order_by("code"))


@profiles.get(
    "/{profile_code}",
    response={200: TermsProfileOut, 403: Error, 404: Error},
    summary="Read a profile",
)
def get_terms_profile(request: HttpRequest, profile_code: str):
    _staff(request)
    return get_object_or_404(TermsProfile, code=profile_code)


@profiles.post(
    "",
    response={201: TermsProfileOut, 403: Error, 422: Error},
    summary="Add a terms profile",
    description="The provider's administrators and operators.",
)
def create_terms_profile(request: HttpRequest, payload: TermsProfileIn):
    with service_answers():
        profile = services.create_terms_profile(request.auth, payload.dict(), request=request)
    return Status(201, profile)


@profiles.patch(
    "/{profile_code}",
    response={200: TermsProfileOut, 403: Error, 404: Error, 422: Error},
    summary="Change a terms profile",
    description="Only the fields given change; the contracts that follow it follow the change.",
)
def update_terms_profile(request: HttpRequest, profile_code: str, payload: TermsProfilePatch):
    _staff(request)
    profile = get_object_or_404(TermsProfile, code=profile_code)
    values = given(payload, services.PROFILE_FIELDS)
    not_null(values, tuple(f for f in services.PROFILE_FIELDS if f != "reminder_days"))
    with service_answers():
        services.change_terms_profile(request.auth, profile, values, request=request)
    return profile


@profiles.delete(
    "/{profile_code}",
    response={204: None, 403: Error, 404: Error, 409: Error},
    summary="Delete a terms profile",
    description="Refused (409) while contracts follow it.",
)
def delete_terms_profile(request: HttpRequest, profile_code: str):
    _staff(request)
    profile = get_object_or_404(TermsProfile, code=profile_code)
    with service_answers():
        services.delete_terms_profile(request.auth, profile, request=request)
    return Status(204, None)
