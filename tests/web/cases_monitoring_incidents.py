"""Tenancy cases for incident pages (see tests/web/tenancy.py).

acme's incident is recorded by hand (no check), acknowledged by nobody yet and attributed to
its hosting provider, so that every staff action on it succeeds for a writer.
"""

import datetime as dt

from mamori.clients.models import Client, ClientWait
from mamori.monitoring.models import Cause, Incident, IncidentEvent
from tests.web.tenancy import ACME_EDITORS, ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_incident() -> Incident:
    incident, _ = Incident.objects.get_or_create(
        client=Client.objects.get(code="acme"),
        title="www.acme.example: HTTPS",
        defaults={
            "started_at": dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC),
            "cause": Cause.HOSTING,
        },
    )
    return incident


def incident_kwargs(s) -> dict:
    return {"pk": acme_incident().pk}


def incident_rows() -> tuple[list[dict], list[dict]]:
    acme_incident()
    return (
        list(Incident.objects.values().order_by("pk")),
        list(IncidentEvent.objects.values().order_by("pk")),
    )


def listing(s) -> dict:
    acme_incident()
    return {}


def waiting(s) -> dict:
    """acme's incident waits on the client (set up directly: no event, so the snapshot of a
    refused user's attempt stays the same)."""
    incident = acme_incident()
    if not ClientWait.objects.of(incident).open().exists():
        ClientWait.objects.create(
            client=incident.client, target=incident, awaited="Access", since=incident.started_at
        )
    return {}


def staff_action(post) -> Case:
    return Case(ACTION, incident_kwargs, post=post, writers=STAFF, snapshot=incident_rows)


CASES: dict[str, Case] = {
    "incident_list": Case(LIST, listing, readers=ACME_PEOPLE),
    "incident_detail": Case(PAGE, incident_kwargs, readers=ACME_PEOPLE),
    "incident_report": Case(PAGE, incident_kwargs, readers=ACME_PEOPLE),
    # Opening by hand is staff work; a client user is refused whatever the client, so the
    # outsider's POST (expected to answer the form again) is tested in
    # tests/monitoring/test_incident_pages.py instead.
    "incident_add": Case(FORM, writers=STAFF, snapshot=incident_rows),
    "incident_acknowledge": staff_action(lambda s: {}),
    "incident_note": Case(
        ACTION,
        incident_kwargs,
        post=lambda s: {"text": "The client confirms the shop is unreachable."},
        writers=ACME_EDITORS,
        snapshot=incident_rows,
    ),
    "incident_cause": staff_action(
        lambda s: {
            "cause": "carrier",
            "cause_detail": "Carrier fibre cut",
            "impact": "Shop unreachable",
            "actions": "Waited for the carrier",
            "prevention": "Second carrier",
        }
    ),
    "incident_emergency": staff_action(lambda s: {"text": "Blocked 203.0.113.9", "minutes": "30"}),
    "incident_stop": staff_action(lambda s: {"reason": "Load average 80: stopped the web server"}),
    "incident_close": staff_action(lambda s: {}),
    # Issue 16: its recovery time, recorded by hand, and waiting on the client (CT-09).
    "incident_recovery": staff_action(lambda s: {"recovered_at": "2026-11-01T15:00"}),
    "incident_wait": staff_action(lambda s: {"awaited": "Access to the admin panel"}),
    "incident_wait_end": staff_action(waiting),
}
