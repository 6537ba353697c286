"""Incidents (MON-03, MON-05, MON-08, MON-09): read them with their timelines, add notes and
attribute their cause.

Reading is for whoever sees the client. Notes are for provider staff and the client's
administrators (viewers read only); the cause, with the report's impact, actions and
prevention, is for provider staff who see the client. Every write is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import invalid_from
from mamori.api.schemas import Error, Input
from mamori.clients import waits
from mamori.clients.models import ClientWait
from mamori.monitoring import incidents
from mamori.monitoring.incidents import IncidentError
from mamori.monitoring.models import Cause, Incident

router = Router(tags=["monitoring"])

CauseName = Literal[tuple(Cause.values)]  # type: ignore[valid-type]


class IncidentEventOut(Schema):
    id: int
    kind: str
    at: datetime
    by: str | None
    text: str = Field(..., description="As written (a check's events: the probe's detail).")
    code: str = Field("", description="For a check's events: the result's code.")
    message: str = Field("", description="The event in the user's language.")
    minutes: int | None
    billable: bool

    @staticmethod
    def resolve_by(obj) -> str | None:
        return obj.user.get_username() if obj.user_id else None

    @staticmethod
    def resolve_code(obj) -> str:
        return (obj.data or {}).get("error_code") or ""

    @staticmethod
    def resolve_message(obj) -> str:
        return obj.shown_text


class ClientWaitOut(Schema):
    id: int
    awaited: str
    since: datetime
    until: datetime | None
    by: str | None

    @staticmethod
    def resolve_by(obj) -> str | None:
        return obj.started_by.get_username() if obj.started_by_id else None


class IncidentOut(Schema):
    id: int
    client: str
    title: str
    state: str
    site: int | None = Field(None, alias="site_id")
    server: int | None = Field(None, alias="server_id")
    check: int | None = Field(None, alias="uptime_check_id")
    total_outage: bool
    started_at: datetime
    confirmed_at: datetime | None
    acknowledged_at: datetime | None
    recovered_at: datetime | None = Field(
        None,
        description="When the service came back (a check's recovery, or recorded by an operator "
        "for an incident opened by hand); not the closing time.",
    )
    opened_by_hand: bool
    closed_at: datetime | None
    downtime_minutes: int
    cause: str
    counts_against_sla: bool

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_downtime_minutes(obj) -> int:
        return int(obj.downtime().total_seconds() // 60)


class IncidentDetailOut(IncidentOut):
    cause_detail: str
    impact: str
    actions: str
    prevention: str
    events: list[IncidentEventOut]
    waiting_for_client: bool
    client_waits: list[ClientWaitOut]

    @staticmethod
    def resolve_waiting_for_client(obj) -> bool:
        return waits.open_wait(obj) is not None

    @staticmethod
    def resolve_events(obj) -> list:
        return list(obj.events.select_related("user"))

    @staticmethod
    def resolve_client_waits(obj) -> list:
        return list(ClientWait.objects.of(obj).select_related("started_by"))


class IncidentRecoveryIn(Input):
    recovered_at: datetime = Field(..., description="When the service came back.")


class IncidentWaitIn(Input):
    awaited: str = Field(..., min_length=1, max_length=2000, description="What is awaited.")
    since: datetime | None = Field(None, description="Default: now.")


class IncidentWaitEndIn(Input):
    until: datetime | None = Field(None, description="Default: now.")


class NoteIn(Input):
    text: str = Field(..., min_length=1, max_length=5000)


class CauseIn(Input):
    cause: CauseName  # type: ignore[valid-type]
    cause_detail: str = Field("", max_length=10000)
    impact: str | None = Field(None, max_length=10000, description="Unchanged when omitted.")
    actions: str | None = Field(None, max_length=10000, description="Unchanged when omitted.")
    prevention: str | None = Field(None, max_length=10000, description="Unchanged when omitted.")


def _incidents(request: HttpRequest):
    return Incident.objects.visible_to(request.auth).select_related("client")


@router.get("/incidents", response=list[IncidentOut], summary="List incidents")
@paginate
def list_incidents(request: HttpRequest, state: str | None = None, client: str | None = None):
    qs = _incidents(request)
    if state:
        qs = qs.filter(state=state)
    if client:
        qs = qs.filter(client__code=client)
    return qs.order_by("-started_at", "-pk")


@router.get(
    "/incidents/{incident_id}",
    response={200: IncidentDetailOut, 404: Error},
    summary="Read an incident with its timeline",
)
def get_incident(request: HttpRequest, incident_id: int):
    return get_object_or_404(_incidents(request), pk=incident_id)


@router.post(
    "/incidents/{incident_id}/notes",
    response={201: IncidentEventOut, 403: Error, 404: Error, 422: Error},
    summary="Add a note to an incident's timeline",
)
def add_incident_note(request: HttpRequest, incident_id: int, payload: NoteIn):
    incident = get_object_or_404(_incidents(request), pk=incident_id)
    try:
        event = incidents.add_note(incident, request.auth, payload.text, request=request)
    except IncidentError as exc:
        raise invalid_from(exc) from None
    return Status(201, event)


@router.post(
    "/incidents/{incident_id}/cause",
    response={200: IncidentDetailOut, 403: Error, 404: Error, 422: Error},
    summary="Attribute an incident's cause (and write its report)",
)
def set_incident_cause(request: HttpRequest, incident_id: int, payload: CauseIn):
    incident = get_object_or_404(_incidents(request), pk=incident_id)
    try:
        incidents.set_cause(
            incident,
            request.auth,
            payload.cause,
            payload.cause_detail,
            impact=payload.impact,
            actions=payload.actions,
            prevention=payload.prevention,
            request=request,
        )
    except IncidentError as exc:
        raise invalid_from(exc) from None
    return get_object_or_404(_incidents(request), pk=incident.pk)


@router.post(
    "/incidents/{incident_id}/recovery",
    response={200: IncidentDetailOut, 403: Error, 404: Error, 422: Error},
    summary="Record when the service came back (an incident opened by hand)",
)
def record_incident_recovery(request: HttpRequest, incident_id: int, payload: IncidentRecoveryIn):
    incident = get_object_or_404(_incidents(request), pk=incident_id)
    try:
        incidents.record_recovery(incident, request.auth, payload.recovered_at, request=request)
    except IncidentError as exc:
        raise invalid_from(exc) from None
    return get_object_or_404(_incidents(request), pk=incident.pk)


@router.post(
    "/incidents/{incident_id}/waiting",
    response={200: IncidentDetailOut, 403: Error, 404: Error, 422: Error},
    summary="Put an incident in waiting for the client (CT-09)",
)
def start_incident_wait(request: HttpRequest, incident_id: int, payload: IncidentWaitIn):
    incident = get_object_or_404(_incidents(request), pk=incident_id)
    try:
        incidents.wait_for_client(
            incident, request.auth, payload.awaited, since=payload.since, request=request
        )
    except IncidentError as exc:
        raise invalid_from(exc) from None
    return get_object_or_404(_incidents(request), pk=incident.pk)


@router.post(
    "/incidents/{incident_id}/waiting/end",
    response={200: IncidentDetailOut, 403: Error, 404: Error, 422: Error},
    summary="End an incident's wait for the client (CT-09)",
)
def end_incident_wait(request: HttpRequest, incident_id: int, payload: IncidentWaitEndIn):
    incident = get_object_or_404(_incidents(request), pk=incident_id)
    try:
        incidents.end_client_wait(incident, request.auth, until=payload.until, request=request)
    except IncidentError as exc:
        raise invalid_from(exc) from None
    return get_object_or_404(_incidents(request), pk=incident.pk)
