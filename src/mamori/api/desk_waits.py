"""The desk's waits on the client (CT-09), what is unanswered for a month and the suspension of
a request's work (NOT-05), and personal-data incidents (ACC-04).

Reading a request's waits is for whoever sees the request; starting and ending a wait,
suspending and resuming are for provider staff who see the client. The unanswered list is the
provider staff's. Personal-data incidents are read by provider staff and the client's
administrators, and recorded by provider staff: recording one reports it to the client at once.
Every write goes through :mod:`mamori.desk.waits` and is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import forbidden, invalid, invalid_from, problem
from mamori.api.schemas import Error, Input
from mamori.clients.models import Client, ClientWait, Contact
from mamori.desk import waits
from mamori.desk.models import DataIncident, DataIncidentKind, Request
from mamori.desk.services import DeskError
from mamori.desk.wait_views import may_read_data_incidents

router = Router(tags=["desk"])

KindName = Literal[tuple(DataIncidentKind.values)]  # type: ignore[valid-type]


class WaitOut(Schema):
    id: int
    awaited: str
    since: datetime
    until: datetime | None


class RequestWaitsOut(Schema):
    number: str
    client: str
    state: str
    waiting_for_client: bool
    waits: list[WaitOut]
    suspended_at: datetime | None
    suspension_reason: str


class RequestWaitIn(Input):
    awaited: str = Field(..., min_length=1, max_length=2000, description="What is awaited.")
    since: datetime | None = Field(None, description="Default: now.")


class WaitEndIn(Input):
    until: datetime | None = Field(None, description="Default: now (the client answered).")


class SuspendIn(Input):
    reason: str = Field(
        ..., min_length=1, max_length=2000, description="Why; the client is told, once."
    )


class UnansweredOut(Schema):
    kind: Literal["question", "wait"]
    id: int = Field(..., description="The question's message id, or the wait's id.")
    client: str
    request: str | None = Field(None, description="The desk request's number (R-…), if any.")
    task: str
    what: str
    asked_at: datetime
    unanswered_since: datetime = Field(..., description="When the month had passed.")


class DataIncidentOut(Schema):
    id: int
    client: str
    kind: str
    what: str
    whose: str
    contacts: list[int]
    occurred_at: datetime | None
    discovered_at: datetime
    measures: str
    reported_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_contacts(obj) -> list[int]:
        return sorted(c.pk for c in obj.contacts.all())


class DataIncidentIn(Input):
    client: str = Field(..., description="The client's code.")
    kind: KindName  # type: ignore[valid-type]
    what: str = Field(..., min_length=1, max_length=10000, description="What data.")
    whose: str = Field(..., min_length=1, max_length=10000, description="Whose data.")
    contacts: list[int] = Field(default_factory=list, description="Contacts concerned (ids).")
    occurred_at: datetime | None = None
    discovered_at: datetime
    measures: str = Field("", max_length=10000)


class MeasuresIn(Input):
    text: str = Field(..., min_length=1, max_length=10000, description="Added to the measures.")


def _requests(request: HttpRequest):
    return Request.objects.visible_to(request.auth).select_related("client")


def _waits_out(req: Request) -> dict:
    spans = list(ClientWait.objects.of(req))
    return {
        "number": req.number,
        "client": req.client.code,
        "state": req.state,
        "waiting_for_client": any(w.until is None for w in spans),
        "waits": spans,
        "suspended_at": req.suspended_at,
        "suspension_reason": req.suspension_reason,
    }


@router.get(
    "/requests/{request_id}/waiting",
    response={200: RequestWaitsOut, 404: Error},
    summary="A request's waits on the client and its suspension (CT-09, NOT-05)",
)
def get_request_waits(request: HttpRequest, request_id: int):
    return _waits_out(get_object_or_404(_requests(request), pk=request_id))


@router.post(
    "/requests/{request_id}/waiting",
    response={200: RequestWaitsOut, 403: Error, 404: Error, 422: Error},
    summary="Put a request in waiting for the client (CT-09)",
)
def start_request_wait(request: HttpRequest, request_id: int, payload: RequestWaitIn):
    req = get_object_or_404(_requests(request), pk=request_id)
    try:
        waits.wait_on_client(
            req, request.auth, payload.awaited, since=payload.since, http_request=request
        )
    except DeskError as exc:
        raise invalid_from(exc) from None
    return _waits_out(req)


@router.post(
    "/requests/{request_id}/waiting/end",
    response={200: RequestWaitsOut, 403: Error, 404: Error, 422: Error},
    summary="End a request's wait for the client (CT-09)",
)
def end_request_wait(request: HttpRequest, request_id: int, payload: WaitEndIn):
    req = get_object_or_404(_requests(request), pk=request_id)
    try:
        waits.end_wait(req, request.auth, until=payload.until, http_request=request)
    except DeskError as exc:
        raise invalid_from(exc) from None
    return _waits_out(req)


@router.post(
    "/requests/{request_id}/suspend",
    response={200: RequestWaitsOut, 403: Error, 404: Error, 422: Error},
    summary="Suspend a request's work, unanswered for a month; the client is told once (NOT-05)",
)
def suspend_request(request: HttpRequest, request_id: int, payload: SuspendIn):
    req = get_object_or_404(_requests(request), pk=request_id)
    try:
        req = waits.suspend(req, request.auth, payload.reason, http_request=request)
    except DeskError as exc:
        raise invalid_from(exc) from None
    return _waits_out(req)


@router.post(
    "/requests/{request_id}/resume",
    response={200: RequestWaitsOut, 403: Error, 404: Error, 422: Error},
    summary="Resume a suspended request's work (NOT-05)",
)
def resume_request(request: HttpRequest, request_id: int):
    req = get_object_or_404(_requests(request), pk=request_id)
    try:
        req = waits.resume(req, request.auth, http_request=request)
    except DeskError as exc:
        raise invalid_from(exc) from None
    return _waits_out(req)


@router.get(
    "/desk/unanswered",
    response={200: list[UnansweredOut], 403: Error},
    summary="Questions and waits unanswered for a month (NOT-05)",
)
def list_unanswered(request: HttpRequest):
    if not request.auth.is_provider_staff:
        raise forbidden()
    return [u.as_row() for u in waits.unanswered(request.auth)]


def _incidents(request: HttpRequest):
    """The personal-data incidents the caller may read: provider staff's clients, a client
    administrator's own (a client's viewers read none)."""
    user = request.auth
    qs = DataIncident.objects.visible_to(user).select_related("client")
    if not user.is_provider_staff and not (
        user.client_id and may_read_data_incidents(user, user.client)
    ):
        raise forbidden()
    return qs.prefetch_related("contacts")


@router.get(
    "/data-incidents",
    response=list[DataIncidentOut],
    summary="List personal-data incidents (ACC-04)",
)
@paginate
def list_data_incidents(request: HttpRequest, client: str | None = None):
    qs = _incidents(request)
    if client:
        qs = qs.filter(client__code=client)
    return qs.order_by("-discovered_at", "-pk")


@router.get(
    "/data-incidents/{data_incident_id}",
    response={200: DataIncidentOut, 403: Error, 404: Error},
    summary="Read a personal-data incident (ACC-04)",
)
def get_data_incident(request: HttpRequest, data_incident_id: int):
    return get_object_or_404(_incidents(request), pk=data_incident_id)


@router.post(
    "/data-incidents",
    response={201: DataIncidentOut, 403: Error, 422: Error},
    summary="Record a personal-data incident and report it to the client at once (ACC-04)",
)
def create_data_incident(request: HttpRequest, payload: DataIncidentIn):
    client = Client.objects.visible_to(request.auth).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    contacts = list(Contact.objects.filter(client=client, pk__in=payload.contacts))
    if len(contacts) != len(set(payload.contacts)):
        raise invalid(problem("contacts", "Unknown contact of this client."))
    try:
        incident = waits.record_data_incident(
            client,
            kind=payload.kind,
            what=payload.what,
            whose=payload.whose,
            contacts=contacts,
            occurred_at=payload.occurred_at,
            discovered_at=payload.discovered_at,
            measures=payload.measures,
            actor=request.auth,
            http_request=request,
        )
    except DeskError as exc:
        raise invalid_from(exc) from None
    return Status(201, incident)


@router.post(
    "/data-incidents/{data_incident_id}/measures",
    response={200: DataIncidentOut, 403: Error, 404: Error, 422: Error},
    summary="Add a measure or a correction to a personal-data incident (ACC-04)",
)
def add_data_incident_measures(request: HttpRequest, data_incident_id: int, payload: MeasuresIn):
    incident = get_object_or_404(_incidents(request), pk=data_incident_id)
    try:
        incident = waits.add_measures(incident, request.auth, payload.text, http_request=request)
    except DeskError as exc:
        raise invalid_from(exc) from None
    return incident
