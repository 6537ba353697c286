"""Uptime checks (MON-01) and their roll-ups (MON-10).

Reading is for whoever sees the client. Adding, changing and deleting checks is for provider
staff who see the client. ``settings`` are validated per kind
(:func:`mamori.monitoring.kinds.validate_settings`); each problem comes back with its place
(``["body", "payload", "settings", "port"]``). Every write is audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import invalid, invalid_from, problem
from mamori.api.schemas import Error, Input, Moment
from mamori.clients.models import Client
from mamori.core.permissions import require_change
from mamori.inventory.models import Server, Site
from mamori.monitoring import checks, outcomes
from mamori.monitoring.kinds import CheckKind
from mamori.monitoring.models import Check, Resolution, Rollup

router = Router(tags=["monitoring"])

KindName = Literal[tuple(CheckKind.values)]  # type: ignore[valid-type]
ResolutionName = Literal[tuple(Resolution.values)]  # type: ignore[valid-type]
WRITABLE = (
    "name",
    "kind",
    "settings",
    "interval_seconds",
    "timeout_seconds",
    "failures_to_confirm",
    "recoveries_to_confirm",
    "enabled",
)


class CheckOut(Schema):
    id: int
    client: str
    site: int | None = Field(None, alias="site_id")
    server: int | None = Field(None, alias="server_id")
    name: str
    kind: str
    settings: dict[str, Any]
    interval_seconds: int
    timeout_seconds: int
    failures_to_confirm: int
    recoveries_to_confirm: int
    enabled: bool
    state: str = Field(..., description="up, down or unknown (confirmed).")
    state_changed_at: datetime | None
    last_run_at: datetime | None
    last_result: dict[str, Any] = Field(
        ..., description="As the probe reported it: error_code, params, a technical detail."
    )
    last_message: str = Field(
        "", description="The last result in one sentence of the user's language."
    )

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_last_message(obj) -> str:
        return outcomes.of_last_result(obj)


class CheckIn(Input):
    client: str = Field(..., description="Code of the client.")
    site: int | None = None
    server: int | None = None
    name: str = Field(..., min_length=1, max_length=200)
    kind: KindName  # type: ignore[valid-type]
    settings: dict[str, Any] = Field(..., description="Per kind; see the monitoring docs.")
    interval_seconds: int = 60
    timeout_seconds: int = 10
    failures_to_confirm: int = 2
    recoveries_to_confirm: int = 2
    enabled: bool = True


class CheckPatch(Input):
    site: int | None = None
    server: int | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: KindName | None = None  # type: ignore[valid-type]
    settings: dict[str, Any] | None = None
    interval_seconds: int | None = None
    timeout_seconds: int | None = None
    failures_to_confirm: int | None = None
    recoveries_to_confirm: int | None = None
    enabled: bool | None = None


class RollupOut(Schema):
    start: datetime
    count: int
    up_count: int
    availability: float
    mean_ms: float | None
    min_ms: int
    max_ms: int
    p95_ms: int | None

    @staticmethod
    def resolve_mean_ms(obj) -> float | None:
        return round(obj.sum_ms / obj.count, 1) if obj.count else None


class RollupsOut(Schema):
    check: int
    client: str
    resolution: str
    rollups: list[RollupOut]


def _checks(request: HttpRequest):
    return Check.objects.visible_to(request.auth).select_related("client")


def _placed(client_id: int, site: int | None, server: int | None) -> dict:
    """Site and server by id, among the client's own (the service checks the rest)."""
    problems, placed = [], {}
    for field, model, value in (("site", Site, site), ("server", Server, server)):
        placed[field] = None
        if value is not None:
            placed[field] = model.objects.filter(pk=value, client_id=client_id).first()
            if placed[field] is None:
                problems.append(problem(field, f"No {field} {value} of this client."))
    if problems:
        raise invalid(problems)
    return placed


@router.get("/checks", response=list[CheckOut], summary="List checks")
@paginate
def list_checks(
    request: HttpRequest,
    client: str | None = None,
    state: str | None = None,
    kind: str | None = None,
    enabled: bool | None = None,
    q: str | None = None,
):
    qs = _checks(request)
    if client:
        qs = qs.filter(client__code=client)
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by("client__name", "name", "pk")


@router.get("/checks/{check_id}", response={200: CheckOut, 404: Error}, summary="Read a check")
def get_check(request: HttpRequest, check_id: int):
    return get_object_or_404(_checks(request), pk=check_id)


@router.post(
    "/checks",
    response={201: CheckOut, 403: Error, 422: Error},
    summary="Add a check",
    description="Provider staff who see the client.",
)
def create_check(request: HttpRequest, payload: CheckIn):
    client = Client.objects.visible_to(request.auth).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    fields = {name: getattr(payload, name) for name in WRITABLE}
    require_change(request.auth, client, Check.change_rule)
    fields |= _placed(client.pk, payload.site, payload.server)
    try:
        check = checks.create_check(client, actor=request.auth, request=request, **fields)
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return Status(201, get_object_or_404(_checks(request), pk=check.pk))


@router.patch(
    "/checks/{check_id}",
    response={200: CheckOut, 403: Error, 404: Error, 422: Error},
    summary="Change a check",
    description="Only the fields given change. Changing `kind` needs its `settings` too.",
)
def update_check(request: HttpRequest, check_id: int, payload: CheckPatch):
    check = get_object_or_404(_checks(request), pk=check_id)
    require_change(request.auth, check)
    given = payload.dict(exclude_unset=True)
    fields = {name: given[name] for name in WRITABLE if given.get(name) is not None}
    if "site" in given or "server" in given:
        fields |= _placed(
            check.client_id,
            given.get("site", check.site_id),
            given.get("server", check.server_id),
        )
    try:
        checks.update_check(check, actor=request.auth, request=request, **fields)
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return get_object_or_404(_checks(request), pk=check.pk)


@router.delete(
    "/checks/{check_id}",
    response={204: None, 403: Error, 404: Error},
    summary="Delete a check",
    description="Its samples and roll-ups go with it; its incidents stay.",
)
def delete_check(request: HttpRequest, check_id: int):
    check = get_object_or_404(_checks(request), pk=check_id)
    checks.delete_check(check, actor=request.auth, request=request)
    return Status(204, None)


@router.get(
    "/checks/{check_id}/rollups",
    response={200: RollupsOut, 404: Error},
    summary="A check's roll-ups",
    description="Buckets of `resolution` (5m, 1h, 1d) from `since` (default: 24 h, 30 days or "
    "a year ago), oldest first, at most 10,000.",
)
def check_rollups(
    request: HttpRequest,
    check_id: int,
    resolution: ResolutionName = "1h",  # type: ignore[valid-type]
    since: Moment | None = None,
    until: Moment | None = None,
):
    check = get_object_or_404(_checks(request), pk=check_id)
    back = {"5m": timedelta(hours=24), "1h": timedelta(days=30), "1d": timedelta(days=365)}
    start = since or timezone.now() - back[resolution]
    qs = Rollup.objects.filter(uptime_check=check, resolution=resolution, start__gte=start)
    if until:
        qs = qs.filter(start__lt=until)
    return {
        "check": check.pk,
        "client": check.client.code,
        "resolution": resolution,
        "rollups": list(qs.order_by("start")[:10_000]),
    }
