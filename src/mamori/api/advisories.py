"""Vulnerabilities and updates (MNT-02): the data's age, a server's findings, the record of
updates and repairs.

Reading is for whoever sees the server or client. Recording an update is for those who may
change the client's records (``update.record``; ``update.start`` queues one to run over SSH,
which the ``update_runs`` job runs). The client is told afterwards once, unless
``notify_client`` is false (004 §8.3).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.advisories import feeds, updates
from mamori.advisories.models import (
    Finding,
    UpdateKind,
    UpdateMethod,
    UpdateRecord,
)
from mamori.api.errors import invalid, problem
from mamori.api.schemas import Error, Input, Moment
from mamori.clients.models import Client
from mamori.core.permissions import require_change
from mamori.inventory.models import Server, Site

router = Router(tags=["advisories"])

KindName = Literal[tuple(UpdateKind.values)]  # type: ignore[valid-type]
MethodName = Literal[tuple(UpdateMethod.values)]  # type: ignore[valid-type]


class FeedOut(Schema):
    ecosystem: str
    records: int
    checked_at: dt.datetime | None
    changed_at: dt.datetime | None
    newest_record: dt.datetime | None
    error: str


class DataAgeOut(Schema):
    advisories: int
    newest_record: dt.datetime | None = Field(None, description="Newest `modified` kept.")
    last_import: dt.datetime | None
    configured: list[str] = Field(..., description="MAMORI_ADVISORY_ECOSYSTEMS.")
    feeds: list[FeedOut]


class FindingOut(Schema):
    id: int
    client: str = Field(..., description="Code of the server's client.")
    server: int = Field(..., alias="server_id")
    ecosystem: str
    package: str = Field(..., description="As the advisory names it (Debian: the source package).")
    binaries: list[str] = Field(
        ..., description="The binary packages installed from a source package (Debian, Ubuntu)."
    )
    installed_version: str
    advisory: str
    aliases: list[str]
    summary: str
    level: str = Field(..., description="critical, high, medium, low or unknown.")
    cvss_vector: str
    cvss_score: float | None
    fixed_version: str
    official_fix: bool = Field(..., description="A fixed version exists (004 §8.2).")
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    close_reason: str

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.server.client.code

    @staticmethod
    def resolve_advisory(obj) -> str:
        return obj.advisory.osv_id

    @staticmethod
    def resolve_aliases(obj) -> list[str]:
        return obj.advisory.aliases

    @staticmethod
    def resolve_summary(obj) -> str:
        return obj.advisory.summary

    @staticmethod
    def resolve_cvss_vector(obj) -> str:
        return obj.advisory.severity_vector

    @staticmethod
    def resolve_cvss_score(obj) -> float | None:
        return obj.advisory.severity_score


class UpdateOut(Schema):
    id: int
    client: str
    server: int | None = Field(None, alias="server_id")
    site: int | None = Field(None, alias="site_id")
    package: str
    from_version: str
    to_version: str
    kind: str
    method: str
    reason: str
    advisories: list[str]
    performed_at: dt.datetime
    performed_by: str = Field(..., alias="performed_by_label")
    notify_client: bool
    notified_at: dt.datetime | None
    state: str
    command: str
    output: str
    exit_status: int | None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code


class UpdateIn(Input):
    client: str = Field(..., description="Code of the client.")
    server: int | None = Field(None, description="The server updated (or run on).")
    site: int | None = Field(None, description="The site updated.")
    package: str = Field(..., min_length=1, max_length=200, description="What was updated.")
    from_version: str = Field("", max_length=200)
    to_version: str = Field("", max_length=200)
    kind: KindName = "planned"  # type: ignore[valid-type]
    method: MethodName = Field(  # type: ignore[valid-type]
        "manual", description="manual: recorded as done; apt, dnf, wp_plugin, wp_core: run."
    )
    wp_path: str = Field("", max_length=500, description="For wp-cli: the site's directory.")
    performed_at: Moment | None = Field(None, description="Done by hand: when. Empty: now.")
    reason: str = Field("", max_length=5000)
    advisories: list[str] = Field(default_factory=list, max_length=50)
    notify_client: bool = True


@router.get("/advisories/data", response=DataAgeOut, summary="How fresh the vulnerability data is")
def advisory_data(request: HttpRequest):
    return feeds.data_age()


@router.get(
    "/servers/{server_id}/findings",
    response={200: list[FindingOut], 404: Error},
    summary="A server's vulnerability findings",
    description="Open ones unless `closed=true` (then closed ones too).",
)
@paginate
def list_server_findings(request: HttpRequest, server_id: int, closed: bool = False):
    server = get_object_or_404(Server.objects.visible_to(request.auth), pk=server_id)
    qs = Finding.objects.filter(server=server).select_related("advisory", "server__client")
    if not closed:
        qs = qs.filter(closed_at__isnull=True)
    return qs.order_by("-opened_at", "pk")


def _updates(request: HttpRequest):
    return UpdateRecord.objects.visible_to(request.auth).select_related("client")


@router.get("/updates", response=list[UpdateOut], summary="List updates and repairs")
@paginate
def list_updates(request: HttpRequest, client: str | None = None, server: int | None = None):
    qs = _updates(request)
    if client:
        qs = qs.filter(client__code=client)
    if server is not None:
        qs = qs.filter(server_id=server)
    return qs


@router.get("/updates/{update_id}", response={200: UpdateOut, 404: Error}, summary="Read an update")
def get_update(request: HttpRequest, update_id: int):
    return get_object_or_404(_updates(request), pk=update_id)


@router.post(
    "/updates",
    response={201: UpdateOut, 403: Error, 422: Error},
    summary="Record an update or repair",
    description="`method` manual records it as done; apt, dnf, wp_plugin or wp_core queue it "
    "to run on the server over SSH (state queued, then running, succeeded or failed).",
)
def create_update(request: HttpRequest, payload: UpdateIn):
    client = Client.objects.visible_to(request.auth).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    require_change(request.auth, client, UpdateRecord.change_rule)
    values = payload.dict()
    problems = []
    for field, model in (("server", Server), ("site", Site)):
        if values[field] is None:
            continue
        values[field] = model.objects.visible_to(request.auth).filter(pk=values[field]).first()
        if values[field] is None:
            problems.append(problem(field, f"No {field} {getattr(payload, field)}."))
    if problems:
        raise invalid(problems)
    try:
        if payload.method == UpdateMethod.MANUAL:
            record = updates.record_update(request.auth, client, values, request=request)
        else:
            record = updates.start_update(request.auth, client, values, request=request)
    except updates.UpdateError as exc:
        raise invalid(problem("", str(exc))) from None
    return Status(201, get_object_or_404(_updates(request), pk=record.pk))
