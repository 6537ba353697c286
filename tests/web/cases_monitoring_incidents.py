"""Tenancy cases for incident pages (see tests/web/tenancy.py)."""

import datetime as dt

from mamori.clients.models import Client
from mamori.monitoring.models import Incident
from tests.web.tenancy import PAGE, Case

EXEMPT: dict[str, str] = {}


def acme_incident() -> Incident:
    incident, _ = Incident.objects.get_or_create(
        client=Client.objects.get(code="acme"),
        title="www.acme.example: HTTPS",
        defaults={"started_at": dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC)},
    )
    return incident


def incident_kwargs(s) -> dict:
    return {"pk": acme_incident().pk}


CASES: dict[str, Case] = {
    "incident_detail": Case(PAGE, incident_kwargs),
}
