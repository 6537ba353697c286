"""Announcements (NOT-04): provider-wide notices to every affected client.

Reading: provider administrators and operators see every announcement; everyone else sees those
told to a client they see, with only those clients as recipients. Writing (drafts, sending, the
notice periods) is for provider administrators and operators; the same service functions as the
pages and the CLI (:mod:`mamori.announcements.services`), audited as ``announcement.*``.
``POST /announcements/{id}/send?dry_run=true`` lists the recipients without sending.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.announcements import services
from mamori.announcements.models import (
    Announcement,
    AnnouncementKind,
    NoticePeriod,
    Recipient,
)
from mamori.api.errors import conflict, forbidden, invalid, invalid_from, problem
from mamori.api.schemas import Day, Error, Input
from mamori.clients.models import ContractType, TermsProfile
from mamori.inventory.models import Server

router = Router(tags=["announcements"])

KindName = Literal[tuple(AnnouncementKind.values)]  # type: ignore[valid-type]
TypeName = Literal[tuple(ContractType.values)]  # type: ignore[valid-type]


class RecipientOut(Schema):
    client: str = Field(..., description="Code of the client told.")
    contracts: list[int]
    notices: int = Field(..., description="Notices queued for its contacts.")
    notified_at: dt.datetime | None


class PreviewOut(Schema):
    client: str
    contracts: list[int]
    recipients: list[str] = Field(..., description="Contacts' addresses or chat channels.")
    earliest: dt.date = Field(..., description="The earliest date its contracts allow.")


class AnnouncementOut(Schema):
    id: int
    kind: str = Field(..., description="terms_change, service_end or maintenance.")
    effective_on: dt.date
    state: str = Field(..., description="draft, sending or sent.")
    subject_ja: str
    subject_en: str
    body_ja: str
    body_en: str
    contract_types: list[str]
    terms_profiles: list[str] = Field(..., description="Codes of terms profiles.")
    servers: list[int]
    sent_at: dt.datetime | None
    recipients: list[RecipientOut]


class AnnouncementDetailOut(AnnouncementOut):
    preview: list[PreviewOut] | None = Field(
        None, description="A draft's recipients if sent now (provider staff)."
    )
    earliest_allowed: dt.date | None = None
    problem: str | None = Field(None, description="Why the date is too early, if it is.")


class AnnouncementIn(Input):
    kind: KindName  # type: ignore[valid-type]
    effective_on: Day
    subject_ja: str = Field(..., min_length=1, max_length=200)
    subject_en: str = Field(..., min_length=1, max_length=200)
    body_ja: str = Field(..., min_length=1, max_length=20000)
    body_en: str = Field(..., min_length=1, max_length=20000)
    contract_types: list[TypeName] = Field(default_factory=list)  # type: ignore[valid-type]
    terms_profiles: list[str] = Field(default_factory=list, max_length=100)
    # Server ids as the database stores them (a 64-bit integer): anything beyond is no server.
    servers: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        default_factory=list, max_length=1000
    )


class SendOut(Schema):
    dry_run: bool
    already_sent: bool
    clients: int
    notices: int
    earliest_allowed: dt.date | None = None
    recipients: list[PreviewOut]


class PeriodOut(Schema):
    terms_profile: str
    kind: str
    days: int
    months: int
    source: str


class PeriodIn(Input):
    kind: KindName  # type: ignore[valid-type]
    days: int = Field(0, ge=0, le=400)
    months: int = Field(0, ge=0, le=24)


def _announcements(request: HttpRequest):
    return Announcement.objects.visible_to(request.auth).prefetch_related(
        "terms_profiles", "servers"
    )


def _out(request: HttpRequest, a: Announcement) -> dict[str, Any]:
    recipients = (
        Recipient.objects.visible_to(request.auth).filter(announcement=a).select_related("client")
    )
    staff = services.may_announce(request.auth)
    servers = [s.pk for s in a.servers.all()]
    if not staff:
        seen = set(
            Server.objects.visible_to(request.auth)
            .filter(pk__in=servers)
            .values_list("pk", flat=True)
        )
        servers = [pk for pk in servers if pk in seen]
    return {
        "id": a.pk,
        "kind": a.kind,
        "effective_on": a.effective_on,
        "state": a.state,
        "subject_ja": a.subject_ja,
        "subject_en": a.subject_en,
        "body_ja": a.body_ja,
        "body_en": a.body_en,
        "contract_types": list(a.contract_types or []),
        "terms_profiles": [p.code for p in a.terms_profiles.all()],
        "servers": servers,
        "sent_at": a.sent_at,
        "recipients": [
            {
                "client": r.client.code,
                "contracts": list(r.contracts) if staff else [],
                "notices": r.notices,
                "notified_at": r.notified_at,
            }
            for r in recipients
        ],
    }


def _preview_rows(preview: services.Preview) -> list[dict[str, Any]]:
    return [
        {
            "client": row.client.code,
            "contracts": [c.pk for c in row.contracts],
            "recipients": [r.label or r.address for r in row.recipients],
            "earliest": row.earliest,
        }
        for row in preview.rows
    ]


def _values(payload: AnnouncementIn) -> dict[str, Any]:
    problems = []
    profiles = list(TermsProfile.objects.filter(code__in=payload.terms_profiles))
    missing = sorted(set(payload.terms_profiles) - {p.code for p in profiles})
    if missing:
        problems.append(problem("terms_profiles", f"Unknown terms profiles: {', '.join(missing)}."))
    servers = list(Server.objects.filter(pk__in=payload.servers))
    unknown = sorted(set(payload.servers) - {s.pk for s in servers})
    if unknown:
        problems.append(problem("servers", f"Unknown servers: {', '.join(map(str, unknown))}."))
    if problems:
        raise invalid(problems)
    return {
        "kind": payload.kind,
        "effective_on": payload.effective_on,
        "subject_ja": payload.subject_ja,
        "subject_en": payload.subject_en,
        "body_ja": payload.body_ja,
        "body_en": payload.body_en,
        "contract_types": list(payload.contract_types),
        "terms_profiles": profiles,
        "servers": servers,
    }


@router.get(
    "/announcements",
    response=list[AnnouncementOut],
    summary="List announcements",
    description="Provider administrators and operators: every announcement; others: those "
    "told to the clients they see.",
)
@paginate
def list_announcements(request: HttpRequest, kind: str | None = None):
    qs = _announcements(request)
    if kind:
        qs = qs.filter(kind=kind)
    return [_out(request, a) for a in qs.order_by("-created_at", "-pk")[:1000]]


@router.get(
    "/announcements/{announcement_id}",
    response={200: AnnouncementDetailOut, 404: Error},
    summary="Read an announcement",
    description="For provider staff, a draft comes with the recipients it would reach now and "
    "the earliest date their contracts allow.",
)
def get_announcement(request: HttpRequest, announcement_id: int):
    a = get_object_or_404(_announcements(request), pk=announcement_id)
    out = _out(request, a)
    if services.may_announce(request.auth) and a.is_draft:
        preview = services.preview(a)
        out.update(
            preview=_preview_rows(preview),
            earliest_allowed=preview.earliest,
            problem=preview.problem,
        )
    return out


def _require_staff(request: HttpRequest) -> None:
    if not services.may_announce(request.auth):
        raise forbidden()


@router.post(
    "/announcements",
    response={201: AnnouncementDetailOut, 403: Error, 422: Error},
    summary="Draft an announcement",
    description="Provider administrators and operators. A date too early for an affected "
    "contract's notice period is refused with the earliest allowed date.",
)
def create_announcement(request: HttpRequest, payload: AnnouncementIn):
    _require_staff(request)
    values = _values(payload)
    try:
        a = services.create(values, actor=request.auth, request=request)
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return Status(201, get_announcement(request, a.pk))


@router.put(
    "/announcements/{announcement_id}",
    response={200: AnnouncementDetailOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Change a draft announcement",
    description="A sent announcement cannot be changed (409).",
)
def update_announcement(request: HttpRequest, announcement_id: int, payload: AnnouncementIn):
    a = get_object_or_404(_announcements(request), pk=announcement_id)
    _require_staff(request)
    if not a.is_draft:
        raise conflict("This announcement has been sent and can no longer be changed.")
    values = _values(payload)
    try:
        services.update(a, values, actor=request.auth, request=request)
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return get_announcement(request, a.pk)


@router.post(
    "/announcements/{announcement_id}/send",
    response={200: SendOut, 403: Error, 404: Error, 422: Error},
    summary="Send an announcement",
    description="Records each affected client once and queues one notice per contact through "
    "the outbox; a second call sends nothing (`already_sent`). With `dry_run=true`, only lists "
    "the recipients.",
)
def send_announcement(request: HttpRequest, announcement_id: int, dry_run: bool = False):
    a = get_object_or_404(_announcements(request), pk=announcement_id)
    _require_staff(request)
    preview = services.preview(a)
    if dry_run:
        if preview.problem:
            raise invalid(problem("effective_on", preview.problem))
        return {
            "dry_run": True,
            "already_sent": not a.is_draft and a.state == "sent",
            "clients": len(preview.rows),
            "notices": preview.notices,
            "earliest_allowed": preview.earliest if a.is_draft else None,
            "recipients": _preview_rows(preview),
        }
    try:
        result = services.send(a, actor=request.auth, request=request)
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return {
        "dry_run": False,
        "already_sent": result.already_sent,
        "clients": result.clients,
        "notices": result.notices,
        "recipients": _preview_rows(services.preview(a)),
    }


@router.get(
    "/announcement-periods",
    response={200: list[PeriodOut], 403: Error},
    summary="List the notice periods of announcements",
    description="Per terms profile and kind; provider administrators and operators.",
)
def list_announcement_periods(request: HttpRequest):
    _require_staff(request)
    return [
        {
            "terms_profile": p.terms_profile.code,
            "kind": p.kind,
            "days": p.days,
            "months": p.months,
            "source": p.source,
        }
        for p in NoticePeriod.objects.select_related("terms_profile")
    ]


@router.put(
    "/announcement-periods/{profile_code}",
    response={200: PeriodOut, 403: Error, 404: Error, 422: Error},
    summary="Set a notice period of announcements",
    description="How long before its date an announcement of the kind must reach a client "
    "whose contract has this terms profile.",
)
def set_announcement_period(request: HttpRequest, profile_code: str, payload: PeriodIn):
    _require_staff(request)
    profile = get_object_or_404(TermsProfile, code=profile_code)
    try:
        period = services.set_period(
            profile,
            payload.kind,
            days=payload.days,
            months=payload.months,
            actor=request.auth,
            request=request,
        )
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return {
        "terms_profile": profile.code,
        "kind": period.kind,
        "days": period.days,
        "months": period.months,
        "source": period.source,
    }
