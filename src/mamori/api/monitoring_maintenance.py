"""Maintenance windows (MON-06): read them with their next occurrence, plan and cancel them.

Reading is for whoever sees the client. Planning and cancelling windows is for provider staff
who see the client; cancelling tells the client, once, about each announced occurrence that has
not started yet (:func:`mamori.monitoring.maintenance.cancel`). Every write is audited with the
actions the web pages use (``maintenance.add``, ``maintenance.cancel``).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import invalid, invalid_from, problem
from mamori.api.schemas import Day, Error, Input, Moment
from mamori.clients.models import Client
from mamori.core.permissions import require_change
from mamori.inventory.models import Server, Site
from mamori.monitoring import maintenance
from mamori.monitoring.models import MaintenanceWindow, Recurrence

router = Router(tags=["monitoring"])

RecurrenceName = Literal[tuple(Recurrence.values)]  # type: ignore[valid-type]

#: The longest notice period accepted, as in the web form: a year.
MAX_NOTIFY_HOURS = 24 * 366
#: How far past now (or the window's start) the next occurrence is looked for.
LOOKAHEAD = dt.timedelta(days=400)


def next_occurrence(
    window: MaintenanceWindow, now: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime] | None:
    """The (start, end) of the first occurrence of ``window`` ending after ``now``, or None
    (cancelled, or all of it is over)."""
    now = now or timezone.now()
    horizon = max(now, window.starts_at) + LOOKAHEAD
    return next(maintenance.occurrences(window, now, horizon), None)


def _next(obj: MaintenanceWindow) -> tuple[dt.datetime, dt.datetime] | None:
    if not hasattr(obj, "_api_next"):
        obj._api_next = next_occurrence(obj)
    return obj._api_next


class WindowOut(Schema):
    id: int
    client: str
    site: int | None = Field(None, alias="site_id")
    server: int | None = Field(None, alias="server_id")
    title: str
    description: str
    starts_at: dt.datetime = Field(..., description="Start of the first occurrence.")
    ends_at: dt.datetime = Field(..., description="End of the first occurrence.")
    recurrence: str = Field(..., description="none, daily, weekly or monthly.")
    repeat_until: dt.date | None
    notify_hours_before: int
    cancelled_at: dt.datetime | None
    created_at: dt.datetime
    next_starts_at: dt.datetime | None = Field(
        None, description="Start of the next occurrence ending after now (none: all over)."
    )
    next_ends_at: dt.datetime | None = None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_next_starts_at(obj) -> dt.datetime | None:
        found = _next(obj)
        return found[0] if found else None

    @staticmethod
    def resolve_next_ends_at(obj) -> dt.datetime | None:
        found = _next(obj)
        return found[1] if found else None


class WindowIn(Input):
    client: str = Field(..., description="Code of the client.")
    site: int | None = Field(None, description="Empty with no server: the whole client.")
    server: int | None = Field(
        None, description="Covers the server's checks and those of the sites it hosts."
    )
    title: str = Field(..., min_length=1, max_length=200)
    description: str = Field("", max_length=10000)
    starts_at: Moment
    ends_at: Moment
    recurrence: RecurrenceName = "none"  # type: ignore[valid-type]
    repeat_until: Day | None = Field(None, description="Empty: for ever.")
    notify_hours_before: int = Field(72, ge=0, le=MAX_NOTIFY_HOURS)


def _windows(request: HttpRequest):
    return MaintenanceWindow.objects.visible_to(request.auth).select_related(
        "client", "site", "server"
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _place(request: HttpRequest, window: MaintenanceWindow, site: int | None, server: int | None):
    """Site and server among those the caller sees (the model says whether they belong to the
    window's client)."""
    problems = []
    if site is not None and server is not None:
        problems.append(problem("server", "Choose a site or a server, not both."))
    for field, model, value in (("site", Site, site), ("server", Server, server)):
        if value is None:
            continue
        target = model.objects.visible_to(request.auth).filter(pk=value).first()
        if target is None:
            problems.append(problem(field, f"No {field} {value}."))
        setattr(window, field, target)
    if problems:
        raise invalid(problems)


@router.get(
    "/maintenance-windows",
    response=list[WindowOut],
    summary="List maintenance windows",
    description="With `upcoming=true`, only windows with an occurrence ending after now "
    "(soonest first).",
)
@paginate
def list_maintenance_windows(
    request: HttpRequest, client: str | None = None, upcoming: bool = False
):
    qs = _windows(request)
    if client:
        qs = qs.filter(client__code=client)
    if not upcoming:
        return qs.order_by("-starts_at", "-pk")
    windows = [w for w in qs.filter(cancelled_at__isnull=True) if _next(w) is not None]
    return sorted(windows, key=lambda w: (_next(w)[0], w.pk))


@router.get(
    "/maintenance-windows/{window_id}",
    response={200: WindowOut, 404: Error},
    summary="Read a maintenance window",
)
def get_maintenance_window(request: HttpRequest, window_id: int):
    return get_object_or_404(_windows(request), pk=window_id)


@router.post(
    "/maintenance-windows",
    response={201: WindowOut, 403: Error, 422: Error},
    summary="Plan a maintenance window",
    description="Provider staff who see the client.",
)
def create_maintenance_window(request: HttpRequest, payload: WindowIn):
    client = Client.objects.visible_to(request.auth).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    require_change(request.auth, client, MaintenanceWindow.change_rule)
    window = MaintenanceWindow(
        client=client,
        title=payload.title,
        description=payload.description,
        starts_at=_aware(payload.starts_at),
        ends_at=_aware(payload.ends_at),
        recurrence=payload.recurrence,
        repeat_until=payload.repeat_until,
        notify_hours_before=payload.notify_hours_before,
        created_by=request.auth,
    )
    _place(request, window, payload.site, payload.server)
    try:
        maintenance.add_window(window, actor=request.auth, request=request)
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return Status(201, get_object_or_404(_windows(request), pk=window.pk))


@router.post(
    "/maintenance-windows/{window_id}/cancel",
    response={200: WindowOut, 403: Error, 404: Error},
    summary="Cancel a maintenance window",
    description="It covers nothing from now on; the client is told once about each announced "
    "occurrence that has not started yet. Cancelling again changes nothing.",
)
def cancel_maintenance_window(request: HttpRequest, window_id: int):
    window = get_object_or_404(_windows(request), pk=window_id)
    maintenance.cancel_window(window, actor=request.auth, request=request)
    return get_object_or_404(_windows(request), pk=window.pk)
