"""Support hours (MNT-05): the provider's closed days, a contract's support hours and targets, a
request's targets in business time.

Closed days are the provider's own (every signed-in user reads them; its administrators and
operators change them). A contract's support hours are read by whoever sees the contract and
set by the provider's staff who see it. Writes go through :mod:`mamori.desk.hours_services`,
with the same validation as the pages, the command line and the import.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from mamori.api.contract_terms import visible_contract
from mamori.api.errors import invalid, invalid_from, problem
from mamori.api.schemas import Day, Error, Input
from mamori.clients.models import Contract
from mamori.desk import hours, hours_services, targets
from mamori.desk.models import ClosedDay, Request, SupportHours
from mamori.desk.services import DeskError

router = Router(tags=["desk"])

DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TimeText = Field(..., pattern=r"^\d{2}:\d{2}$", description="HH:MM, Japan time.")


@contextlib.contextmanager
def desk_answers() -> Iterator[None]:
    """A refused write: 422 naming the field (PermissionDenied answers 403 on its own)."""
    try:
        yield
    except DeskError as e:
        raise invalid_from(e) from None


# --- closed days ----------------------------------------------------------------------------------


class ClosedDayOut(Schema):
    id: int
    first: Day
    last: Day
    name: str


class ClosedDayIn(Input):
    first: Day
    last: Day
    name: str = Field(..., min_length=1, max_length=100)


@router.get("/desk/closed-days", response={200: list[ClosedDayOut]}, summary="List the closed days")
def list_closed_days(request: HttpRequest):
    return ClosedDay.objects.order_by("first")


@router.post(
    "/desk/closed-days",
    response={201: ClosedDayOut, 403: Error, 422: Error},
    summary="Add closed days",
    description="The provider's administrators and operators. `first` to `last` inclusive, at "
    "most 62 days.",
)
def create_closed_day(request: HttpRequest, payload: ClosedDayIn):
    with desk_answers():
        closed = hours_services.add_closed_day(
            payload.first, payload.last, payload.name, actor=request.auth, http_request=request
        )
    return Status(201, closed)


@router.delete(
    "/desk/closed-days/{closed_day_id}",
    response={204: None, 403: Error, 404: Error},
    summary="Remove closed days",
)
def delete_closed_day(request: HttpRequest, closed_day_id: int):
    closed = get_object_or_404(ClosedDay, pk=closed_day_id)
    hours_services.remove_closed_day(closed, actor=request.auth, http_request=request)
    return Status(204, None)


# --- a contract's support hours ----------------------------------------------------------------


class SupportHoursOut(Schema):
    client: str
    contract: int
    own: bool = Field(..., description="False: the contract uses the defaults (settings).")
    weekdays: list[str]
    opens: str
    closes: str
    first_response_minutes: int | None = Field(
        ..., description="Set on the contract; null: the default."
    )
    resolution_minutes: int | None
    effective_first_response_minutes: int
    effective_resolution_minutes: int
    next_business_days: list[Day]


class SupportHoursIn(Input):
    weekdays: list[DayName] = Field(..., min_length=1, max_length=7)  # type: ignore[valid-type]
    opens: str = TimeText
    closes: str = TimeText
    first_response_minutes: int | None = Field(
        None, ge=1, le=hours_services.MAX_FIRST_RESPONSE, description="Null: the default."
    )
    resolution_minutes: int | None = Field(
        None, ge=1, le=hours_services.MAX_RESOLUTION, description="Null: the default."
    )


def _support_hours_out(contract: Contract) -> dict:
    row = SupportHours.objects.filter(contract=contract).first()
    calendar = hours.for_contract(contract)
    return {
        "client": contract.client.code,
        "contract": contract.pk,
        "own": row is not None,
        "weekdays": [hours.DAY_NAMES[d] for d in sorted(calendar.weekdays)],
        "opens": f"{calendar.opens:%H:%M}",
        "closes": f"{calendar.closes:%H:%M}",
        "first_response_minutes": row.first_response_minutes if row else None,
        "resolution_minutes": row.resolution_minutes if row else None,
        "effective_first_response_minutes": calendar.first_response_minutes,
        "effective_resolution_minutes": calendar.resolution_minutes,
        "next_business_days": calendar.business_days(timezone.localdate(), 5),
    }


@router.get(
    "/contracts/{contract_id}/support-hours",
    response={200: SupportHoursOut, 404: Error},
    summary="Get a contract's support hours",
)
def get_support_hours(request: HttpRequest, contract_id: int):
    return _support_hours_out(visible_contract(request, contract_id))


@router.put(
    "/contracts/{contract_id}/support-hours",
    response={200: SupportHoursOut, 403: Error, 404: Error, 422: Error},
    summary="Set a contract's support hours",
    description="Provider staff who see the client.",
)
def set_support_hours(request: HttpRequest, contract_id: int, payload: SupportHoursIn):
    contract = visible_contract(request, contract_id)
    times: dict[str, dt.time] = {}
    for name in ("opens", "closes"):
        try:
            times[name] = hours.parse_time(getattr(payload, name))
        except hours.HoursError:
            raise invalid(problem(name, "Input should be a time of day: HH:MM.")) from None
    with desk_answers():
        hours_services.set_support_hours(
            contract,
            weekdays=[hours.DAY_NAMES.index(d) for d in payload.weekdays],
            opens=times["opens"],
            closes=times["closes"],
            first_response_minutes=payload.first_response_minutes,
            resolution_minutes=payload.resolution_minutes,
            actor=request.auth,
            http_request=request,
        )
    return _support_hours_out(contract)


# --- a request's targets -----------------------------------------------------------------------


class RequestTargetOut(Schema):
    target: Literal["first_response", "resolution"]
    due: dt.datetime
    state: Literal["on_time", "due_soon", "late", "met", "met_late", "paused"]
    business_minutes: int = Field(
        ...,
        description="Left before the due time (negative: over it); for a met target, how far "
        "ahead of it (negative: after it).",
    )
    met_at: dt.datetime | None


class RequestTargetsOut(Schema):
    client: str
    request: str
    targets: list[RequestTargetOut]


@router.get(
    "/requests/{request_id}/targets",
    response={200: RequestTargetsOut, 404: Error},
    summary="A request's targets in business time",
)
def get_request_targets(request: HttpRequest, request_id: int):
    req = get_object_or_404(
        Request.objects.visible_to(request.auth).select_related("client", "contract"),
        pk=request_id,
    )
    now = timezone.now()
    return {
        "client": req.client.code,
        "request": req.number,
        "targets": [
            {
                "target": t.target,
                "due": t.due,
                "state": t.state,
                "business_minutes": t.minutes,
                "met_at": t.met_at,
            }
            for t in targets.state(req, now)
        ],
    }
