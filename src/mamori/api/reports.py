"""Monthly reports (RPT-01): list, read, build, release; a client's report settings.

Reading: provider staff see every version of the clients they see; client users see the
released versions of their own client only. Building and releasing are for provider
administrators and operators, through the same service functions as the pages and the CLI
(:mod:`mamori.reports.services`), audited as ``report.*``. ``figures`` is the stored snapshot:
codes and numbers, the same as the page and the PDF show.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import conflict, forbidden, invalid, invalid_from, problem
from mamori.api.schemas import Error, Input
from mamori.clients.models import Client
from mamori.reports import services
from mamori.reports.models import Report

router = Router(tags=["reports"])


class ReportOut(Schema):
    id: int
    client: str = Field(..., description="The client's code.")
    month: str = Field(..., description="YYYY-MM")
    version: int
    state: str = Field(..., description="draft, released or sent")
    built_at: dt.datetime
    released_at: dt.datetime | None
    sent_at: dt.datetime | None
    notices: int = Field(..., description="Notices queued when it was released.")
    sections: list[str]


class ReportDetailOut(ReportOut):
    figures: dict[str, Any] = Field(..., description="The snapshot: codes and numbers.")


class BuildIn(Input):
    client: str = Field(..., max_length=40, description="The client's code.")
    month: str = Field(..., max_length=7, description="YYYY-MM, a month that has ended.")


def _out(r: Report) -> dict[str, Any]:
    return {
        "id": r.pk,
        "client": r.client.code,
        "month": f"{r.month:%Y-%m}",
        "version": r.version,
        "state": r.state,
        "built_at": r.built_at,
        "released_at": r.released_at,
        "sent_at": r.sent_at,
        "notices": r.notices,
        "sections": sorted(r.figures.get("sections", {})),
    }


def _detail(r: Report) -> dict[str, Any]:
    return {**_out(r), "figures": r.figures}


@router.get("/reports", response=list[ReportOut], summary="List monthly reports")
@paginate
def list_reports(request: HttpRequest, client: str | None = None, month: str | None = None):
    qs = services.visible_reports(request.auth)
    if client:
        qs = qs.filter(client__code=client)
    if month:
        try:
            qs = qs.filter(month=services.parse_month(month))
        except services.ReportError as exc:
            raise invalid(problem("month", str(exc), location=["query"])) from None
    return [_out(r) for r in qs[:1000]]


@router.get(
    "/reports/{report_id}",
    response={200: ReportDetailOut, 404: Error},
    summary="Read a monthly report with its figures",
)
def get_report(request: HttpRequest, report_id: int):
    return _detail(get_object_or_404(services.visible_reports(request.auth), pk=report_id))


@router.post(
    "/reports",
    response={201: ReportDetailOut, 403: Error, 422: Error},
    summary="Build a month's report",
    description="Provider administrators and operators. Refreshes the month's draft, or starts "
    "the next version when the last one was released (the released one is kept).",
)
def build_report(request: HttpRequest, payload: BuildIn):
    client = Client.objects.visible_to(request.auth).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", f"No such client: {payload.client}"))
    if not services.may_manage(request.auth):
        raise forbidden()
    try:
        month = services.parse_month(payload.month)
        report = services.build_report(client, month, actor=request.auth, request=request)
    except services.ReportError as exc:
        raise invalid(problem("month", str(exc))) from None
    return Status(201, _detail(report))


@router.post(
    "/reports/{report_id}/release",
    response={200: ReportDetailOut, 403: Error, 404: Error, 409: Error},
    summary="Release a report and send it to the client's report contacts (once)",
    description="Releasing a report that was sent already sends nothing more.",
)
def release_report(request: HttpRequest, report_id: int):
    report = get_object_or_404(services.visible_reports(request.auth), pk=report_id)
    if not services.may_manage(request.auth):
        raise forbidden()
    try:
        report = services.release(report, actor=request.auth, request=request)
    except services.ReportError as exc:
        raise conflict(str(exc)) from None
    return _detail(report)


class SettingsOut(Schema):
    client: str = Field(..., description="The client's code.")
    business_day: int = Field(
        ..., description="The Nth Japanese business day of the next month the report is built."
    )
    auto_release: bool = Field(..., description="Released and sent as built, without review.")


class SettingsIn(Input):
    business_day: int = Field(..., description="1 to 15.")
    auto_release: bool


def _settings_client(request: HttpRequest, code: str, *, change: bool = False) -> Client:
    client = get_object_or_404(Client.objects.visible_to(request.auth), code=code)
    if change and not services.may_manage(request.auth):
        raise forbidden()
    return client


def _settings_out(client: Client) -> dict[str, Any]:
    row = services.settings_of(client)
    return {
        "client": client.code,
        "business_day": row.business_day,
        "auto_release": row.auto_release,
    }


@router.get(
    "/clients/{code}/report-settings",
    response={200: SettingsOut, 403: Error, 404: Error},
    summary="Read a client's report settings",
    description="Anyone who sees the client: when its report is built and whether it is "
    "reviewed first.",
)
def get_report_settings(request: HttpRequest, code: str):
    return _settings_out(_settings_client(request, code))


@router.put(
    "/clients/{code}/report-settings",
    response={200: SettingsOut, 403: Error, 404: Error, 422: Error},
    summary="Set a client's report settings",
    description="The business day of the next month the report is built on (1 to 15) and "
    "whether it goes out without review. Provider administrators and operators.",
)
def set_report_settings(request: HttpRequest, code: str, payload: SettingsIn):
    client = _settings_client(request, code, change=True)
    try:
        services.change_settings(
            client,
            business_day=payload.business_day,
            auto_release=payload.auto_release,
            actor=request.auth,
            request=request,
        )
    except services.ReportError as exc:
        raise invalid_from(exc) from None
    return _settings_out(client)
