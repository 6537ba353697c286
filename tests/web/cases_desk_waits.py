"""Tenancy cases of the desk's waits, suspension and personal-data incident pages (see
tests/web/tenancy.py). The objects are made lazily: a request of acme with a question asked two
months ago and never answered (so its work may be suspended), and a personal-data incident."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from mamori.clients.models import Client, ClientWait
from mamori.desk.models import DataIncident, Direction, Request, RequestMessage
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})
# Personal-data incidents: the provider's staff and the client's administrator (not its viewer).
INCIDENT_READERS = STAFF | {"owner"}

EXEMPT: dict[str, str] = {}


def waits_request() -> Request:
    """acme's request with a question unanswered for two months."""
    acme = Client.objects.get(code="acme")
    req, created = Request.objects.get_or_create(
        client=acme,
        subject="Update the staff page of www.acme.example",
        defaults={"channel": "email", "received_at": timezone.now() - dt.timedelta(days=70)},
    )
    if created:
        RequestMessage.objects.create(
            request=req,
            direction=Direction.OUTBOUND,
            at=timezone.now() - dt.timedelta(days=65),
            body="Which photo of Jane Smith should we use?",
            is_question=True,
        )
    return req


def waiting_request() -> Request:
    """The same request, waiting for the client (for "the client answered")."""
    req = waits_request()
    if not ClientWait.objects.of(req).open().exists():
        ClientWait.objects.create(
            client=req.client, target=req, awaited="The new photo", since=timezone.now()
        )
    return req


def suspended_request() -> Request:
    req = waits_request()
    Request.objects.filter(pk=req.pk).exclude(state="suspended").update(
        state="suspended", suspended_at=timezone.now(), state_before_suspension="open"
    )
    return req


def acme_data_incident() -> DataIncident:
    acme = Client.objects.get(code="acme")
    incident = DataIncident.objects.filter(client=acme).first()
    if incident is None:
        incident = DataIncident.objects.create(
            client=acme,
            kind="loss",
            what="A printed list of acme.example contacts",
            whose="Jane Smith and two colleagues",
            discovered_at=timezone.now() - dt.timedelta(days=1),
            reported_at=timezone.now() - dt.timedelta(days=1),
        )
    return incident


def rows_after(make):
    """The snapshot of a case: its object made first (the URL makes it too), then the rows."""
    return lambda: (make(), desk_rows())[1]


def desk_rows():
    return [
        list(Request.objects.values().order_by("pk")),
        list(ClientWait.objects.values().order_by("pk")),
        list(DataIncident.objects.values().order_by("pk")),
    ]


CASES: dict[str, Case] = {
    "request_waits": Case(PAGE, lambda s: {"pk": waits_request().pk}, readers=ACME_PEOPLE),
    "request_wait": Case(
        ACTION,
        lambda s: {"pk": waits_request().pk},
        post=lambda s: {"awaited": "Access to the CMS", "since": ""},
        writers=STAFF,
        snapshot=rows_after(waits_request),
    ),
    "request_wait_end": Case(
        ACTION,
        lambda s: {"pk": waiting_request().pk},
        post=lambda s: {"until": ""},
        writers=STAFF,
        snapshot=rows_after(waiting_request),
    ),
    "request_suspend": Case(
        ACTION,
        lambda s: {"pk": waits_request().pk},
        post=lambda s: {"reason": "No answer to our question for two months"},
        writers=STAFF,
        snapshot=rows_after(waits_request),
    ),
    "request_resume": Case(
        ACTION,
        lambda s: {"pk": suspended_request().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=rows_after(suspended_request),
    ),
    # The list has acme's question in it (made here; the URL takes no parameter).
    "desk_unanswered": Case(LIST, lambda s: waits_request() and {}, readers=STAFF),
    "data_incident_detail": Case(
        PAGE, lambda s: {"pk": acme_data_incident().pk}, readers=INCIDENT_READERS
    ),
    "data_incident_measures": Case(
        ACTION,
        lambda s: {"pk": acme_data_incident().pk},
        post=lambda s: {"text": "The list was found and shredded."},
        writers=STAFF,
        snapshot=rows_after(acme_data_incident),
    ),
    "data_incident_add": Case(
        FORM,
        lambda s: {"code": s.acme.code},
        post=lambda s: {
            "kind": "theft",
            "what": "A laptop with the contact list",
            "whose": "acme.example staff",
            "discovered_at": "2026-11-01T10:00",
        },
        writers=STAFF,
        snapshot=rows_after(acme_data_incident),
    ),
}
