"""A request's targets in business time (MNT-05): when the first response and the resolution
are due, whether they are on time, due soon, late or met, and the operators' alerts.

A target is ``received_at`` + the contract's target in business minutes (:mod:`desk.hours`),
pushed later by the business time the request spent waiting on the client (its
:class:`~mamori.clients.models.ClientWait` spans: the client's time, not the provider's). While
a wait is open the clock is stopped: the due times move with it, and nothing is alerted.

Alerts (the periodic job ``desk_targets``, :func:`check_due`): each target of an active request
alerts the operators once when ``MAMORI_DESK_ALERT_BEFORE_MINUTES`` business minutes or fewer
are left, and once more when it is missed; each under an event key naming the due time, so a due
time that moves (a wait on the client) alerts again and a re-run never does. A request found
already late is alerted only as missed. A suspended request is not alerted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mamori.clients import waits as client_waits
from mamori.desk import hours
from mamori.desk.models import ACTIVE_STATES, Request, RequestState

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
TARGETS = (FIRST_RESPONSE, RESOLUTION)


class State:
    """What a target's state is (a code; pages word it in the reader's language)."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    LATE = "late"
    MET = "met"
    MET_LATE = "met_late"
    PAUSED = "paused"  # waiting on the client: the clock is stopped


@dataclass(frozen=True)
class Due:
    first_response: dt.datetime
    resolution: dt.datetime


@dataclass(frozen=True)
class TargetState:
    target: str  # FIRST_RESPONSE or RESOLUTION
    due: dt.datetime | None
    state: str  # State
    # Business minutes left before ``due`` (positive) or over it (negative); for a met target,
    # the business minutes it was met before (positive) or after (negative) the due time.
    minutes: int
    met_at: dt.datetime | None = None


def due_times(
    req: Request, waits: Iterable[tuple[dt.datetime, dt.datetime]], calendar: hours.Hours
) -> Due:
    """The due times of ``req`` under ``calendar``, the business time of ``waits`` (spans on
    the client) not counted."""
    waits = list(waits)
    return Due(
        first_response=calendar.add_business_minutes(
            req.received_at, calendar.first_response_minutes, waits
        ),
        resolution=calendar.add_business_minutes(
            req.received_at, calendar.resolution_minutes, waits
        ),
    )


def calendar_of(req: Request, closed=None) -> hours.Hours:
    return hours.for_contract(req.contract, closed)


def refresh(req: Request, now: dt.datetime | None = None, closed=None) -> bool:
    """Compute and store ``req``'s due times; True when they changed. Safe to run again."""
    now = now or timezone.now()
    due = due_times(req, client_waits.spans(req, now), calendar_of(req, closed))
    first = due.first_response.replace(microsecond=0)
    resolution = due.resolution.replace(microsecond=0)
    if req.first_response_due == first and req.resolution_due == resolution:
        return False
    Request.objects.filter(pk=req.pk).update(first_response_due=first, resolution_due=resolution)
    req.first_response_due, req.resolution_due = first, resolution
    return True


def state(
    req: Request,
    now: dt.datetime | None = None,
    calendar: hours.Hours | None = None,
    waiting: bool | None = None,
) -> list[TargetState]:
    """The state of each target of ``req`` at ``now``, from its stored due times."""
    now = now or timezone.now()
    calendar = calendar or calendar_of(req)
    if waiting is None:
        waiting = client_waits.open_wait(req) is not None
    alert_before = settings.MAMORI_DESK_ALERT_BEFORE_MINUTES
    result = []
    for target, due, met_at in (
        (FIRST_RESPONSE, req.first_response_due, req.first_responded_at),
        (RESOLUTION, req.resolution_due, req.resolved_at or req.closed_at),
    ):
        if due is None:
            continue
        if met_at is not None:
            minutes = calendar.business_minutes_between(met_at, due)
            code = State.MET if met_at <= due else State.MET_LATE
            result.append(TargetState(target, due, code, minutes, met_at))
            continue
        minutes = calendar.business_minutes_between(now, due)
        if now >= due:
            code = State.LATE
        elif waiting:
            code = State.PAUSED
        elif minutes <= alert_before:
            code = State.DUE_SOON
        else:
            code = State.ON_TIME
        result.append(TargetState(target, due, code, minutes))
    return result


@dataclass
class Report:
    refreshed: int = 0
    alerts: int = 0


def check_due(now: dt.datetime | None = None) -> Report:
    """The periodic job ``desk_targets``: refresh the due times of active requests and alert
    the operators of targets due soon or missed (see the module's text)."""
    now = now or timezone.now()
    closed = hours.closed_ranges()
    report = Report()
    requests = (
        Request.objects.filter(state__in=ACTIVE_STATES)
        .select_related("client", "contract")
        .order_by("pk")
    )
    calendars: dict[int | None, hours.Hours] = {}
    for req in requests.iterator():
        if req.contract_id not in calendars:
            calendars[req.contract_id] = hours.for_contract(req.contract, closed)
        calendar = calendars[req.contract_id]
        with transaction.atomic():
            due = due_times(req, client_waits.spans(req, now), calendar)
            first = due.first_response.replace(microsecond=0)
            resolution = due.resolution.replace(microsecond=0)
            if (req.first_response_due, req.resolution_due) != (first, resolution):
                Request.objects.filter(pk=req.pk).update(
                    first_response_due=first, resolution_due=resolution
                )
                req.first_response_due, req.resolution_due = first, resolution
                report.refreshed += 1
        if req.state == RequestState.SUSPENDED:
            continue
        for target in state(req, now, calendar):
            if target.state in (State.DUE_SOON, State.LATE):
                report.alerts += _alert(req, target)
    return report


def _alert(req: Request, target: TargetState) -> int:
    from mamori.notices import services as notices
    from mamori.notices.models import NoticeKind

    late = target.state == State.LATE
    stage = "late" if late else "due"
    # In UTC: the same instant read back from the database or just computed names one key.
    due_utc = target.due.astimezone(dt.UTC).isoformat()
    key = f"desk-{stage}:{req.pk}:{target.target}:{due_utc}"
    result = notices.enqueue(
        NoticeKind.DESK_DUE,
        key,
        notices.operator_recipients(req.client),
        {
            "client": req.client,
            "req": req,
            "target": target.target,
            "due": target.due,
            "late": late,
            "minutes": abs(target.minutes),
            "url": req.get_absolute_url(),
        },
        client=req.client,
        links={"request": req},
    )
    return len(result.created)
