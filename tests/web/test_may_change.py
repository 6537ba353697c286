"""Who may change what: the pages and the API agree, and both follow ``may_change`` (ACC-01).

One table, :data:`WRITES`, names each kind of write with the rule it follows and how the page
and the API make it. Every write is then tried by each of acme's people and by those of no
concern to acme, once through the page and once through the API; a write counts as done when
it left an audit record (ACC-03: every change has one) and as refused when it left nothing at
all, with a 403 or 404 (422 for an unknown client in the API). Both channels are compared with
the same expectation, the people of the write's rule, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.clients.models import Client, Contact
from mamori.core.models import AuditEvent, Role
from mamori.core.permissions import Rule, may_change
from mamori.core.tokens import create_token
from mamori.inventory.models import Site
from mamori.lifecycle.models import ManagedCertificate
from mamori.monitoring.models import Check, Incident, MaintenanceWindow
from mamori.vault.models import Secret
from tests.vault.conftest import KEYSTORE_DB
from tests.web.cases_monitoring_checks import acme_check, edit_post
from tests.web.cases_monitoring_incidents import acme_incident
from tests.web.cases_monitoring_maintenance import acme_window

pytestmark = pytest.mark.req("ACC-01")

#: Everyone tried: acme's people, an unassigned subcontractor and globex's administrator.
ROLES = (
    "provider_admin",
    "operator",
    "subcontractor",
    "stranger",
    "owner",
    "member",
    "outsider",
)
#: Who each rule lets change acme's records.
ALLOWED = {
    Rule.STAFF: {"provider_admin", "operator", "subcontractor"},
    Rule.EDITOR: {"provider_admin", "operator", "subcontractor", "owner"},
    Rule.CLIENT_ADMIN: {"provider_admin", "operator", "owner"},
}


def acme() -> Client:
    return Client.objects.get(code="acme")


def acme_site() -> Site:
    site, _ = Site.objects.get_or_create(
        client=acme(), name="www", defaults={"url": "https://www.acme.example/"}
    )
    return site


def jane() -> Contact:
    return Contact.objects.get(client=acme(), name="Jane Smith")


def later(days: int) -> str:
    return (timezone.now() + dt.timedelta(days=days)).replace(microsecond=0).isoformat()


@dataclass
class Write:
    rule: Rule
    #: What ``may_change`` is asked: the record, or acme for a new one (with the model's rule).
    target: Callable[[], object]
    #: (URL name, its kwargs, POST data); None where the API alone makes it.
    page: tuple[str, Callable[[], dict], Callable[[], dict]] | None
    #: (method, path, body); None where there is no API route for it.
    api: tuple[str, Callable[[], str], Callable[[], dict | None]] | None
    #: Test marks (the vault's writes need the keystore database).
    marks: tuple = ()


def _no_kwargs() -> dict:
    return {}


def _check_page_post() -> dict:
    return edit_post(None) | {"client": acme().pk, "name": "shop.acme.example HTTPS"}


WRITES: dict[str, Write] = {
    "check.create": Write(
        Rule.STAFF,
        lambda: acme(),
        ("check_add", _no_kwargs, _check_page_post),
        (
            "post",
            lambda: "/api/v1/checks",
            lambda: {
                "client": "acme",
                "name": "api.acme.example",
                "kind": "tcp",
                "settings": {"host": "api.acme.example", "port": 443},
            },
        ),
    ),
    "check.update": Write(
        Rule.STAFF,
        acme_check,
        ("check_edit", lambda: {"pk": acme_check().pk}, lambda: edit_post(None)),
        ("patch", lambda: f"/api/v1/checks/{acme_check().pk}", lambda: {"interval_seconds": 120}),
    ),
    "check.pause": Write(
        Rule.STAFF,
        acme_check,
        ("check_pause", lambda: {"pk": acme_check().pk}, dict),
        ("patch", lambda: f"/api/v1/checks/{acme_check().pk}", lambda: {"enabled": False}),
    ),
    "check.delete": Write(
        Rule.STAFF,
        acme_check,
        ("check_delete", lambda: {"pk": acme_check().pk}, dict),
        ("delete", lambda: f"/api/v1/checks/{acme_check().pk}", lambda: None),
    ),
    "incident.note": Write(
        Rule.EDITOR,
        acme_incident,
        (
            "incident_note",
            lambda: {"pk": acme_incident().pk},
            lambda: {"text": "The shop answers again."},
        ),
        (
            "post",
            lambda: f"/api/v1/incidents/{acme_incident().pk}/notes",
            lambda: {"text": "The shop answers again."},
        ),
    ),
    "incident.cause": Write(
        Rule.STAFF,
        acme_incident,
        (
            "incident_cause",
            lambda: {"pk": acme_incident().pk},
            lambda: {"cause": "carrier", "cause_detail": "Fibre cut", "impact": "Shop down"},
        ),
        (
            "post",
            lambda: f"/api/v1/incidents/{acme_incident().pk}/cause",
            lambda: {"cause": "carrier", "cause_detail": "Fibre cut", "impact": "Shop down"},
        ),
    ),
    "incident.acknowledge": Write(
        Rule.STAFF,
        acme_incident,
        ("incident_acknowledge", lambda: {"pk": acme_incident().pk}, dict),
        None,
    ),
    "incident.emergency_measure": Write(
        Rule.STAFF,
        acme_incident,
        (
            "incident_emergency",
            lambda: {"pk": acme_incident().pk},
            lambda: {"text": "Blocked 203.0.113.9", "minutes": "30"},
        ),
        None,
    ),
    "maintenance.add": Write(
        Rule.STAFF,
        lambda: acme(),
        (
            "maintenance_add",
            _no_kwargs,
            lambda: {
                "client": acme().pk,
                "site": acme_site().pk,
                "title": "PHP upgrade",
                "starts_at": later(3)[:16],
                "ends_at": later(3)[:11] + "23:59",
                "recurrence": "none",
                "notify_hours_before": 24,
            },
        ),
        (
            "post",
            lambda: "/api/v1/maintenance-windows",
            lambda: {
                "client": "acme",
                "site": acme_site().pk,
                "title": "PHP upgrade",
                "starts_at": later(3),
                "ends_at": later(4),
            },
        ),
    ),
    "maintenance.cancel": Write(
        Rule.STAFF,
        acme_window,
        ("maintenance_cancel", lambda: {"pk": acme_window().pk}, dict),
        ("post", lambda: f"/api/v1/maintenance-windows/{acme_window().pk}/cancel", lambda: None),
    ),
    "secret.create": Write(
        Rule.STAFF,
        lambda: acme(),
        (
            "secret_add",
            lambda: {"code": "acme"},
            lambda: {"kind": "server_login", "name": "web02 root", "value": "s3cret"},
        ),
        (
            "post",
            lambda: "/api/v1/vault/secrets",
            lambda: {"client": "acme", "kind": "server_login", "name": "web02", "value": "s3"},
        ),
        marks=(KEYSTORE_DB,),
    ),
    "contact.update": Write(
        Rule.CLIENT_ADMIN,
        jane,
        (
            "contact_edit",
            lambda: {"pk": jane().pk},
            lambda: {"name": "Jane Doe", "email": "jane@example.com", "language": "en"},
        ),
        None,
    ),
    "managed.create": Write(
        Rule.STAFF,
        lambda: acme(),
        None,
        (
            "post",
            lambda: "/api/v1/managed-certificates",
            lambda: {
                "client": "acme",
                "name": "shop",
                "names": ["shop.acme.example"],
                "issuer": "manual",
                "ca_name": "Example Trust",
            },
        ),
    ),
}

#: The model whose rule a write on acme (a new record) follows.
NEW_RECORD_OF = {
    "check.create": Check,
    "maintenance.add": MaintenanceWindow,
    "secret.create": Secret,
    "managed.create": ManagedCertificate,
}


def _params(channel: str) -> list:
    return [
        pytest.param(name, role, id=f"{name}-{role}", marks=write.marks)
        for name, write in WRITES.items()
        if getattr(write, channel) is not None
        for role in ROLES
    ]


@pytest.fixture
def stranger(make_user):
    """A subcontractor assigned to no client."""
    return make_user("stranger", Role.SUBCONTRACTOR)


@pytest.fixture
def people(request, acme, globex):
    """Every role of :data:`ROLES`, and acme's records the writes need."""
    acme_check()
    acme_incident()
    acme_window()
    acme_site()
    return {role: request.getfixturevalue(role) for role in ROLES}


def audit_count() -> int:
    return AuditEvent.objects.count()


def test_the_table_states_each_rule_as_the_models_do():
    for name, model in NEW_RECORD_OF.items():
        assert model.change_rule == WRITES[name].rule, name
    assert Check.change_rule == Incident.change_rule == Rule.STAFF
    assert Contact.change_rule == Rule.CLIENT_ADMIN


@pytest.mark.parametrize("role", ROLES)
def test_may_change_answers_as_the_table(role, people):
    for name, write in WRITES.items():
        target = write.target()
        expected = role in ALLOWED[write.rule]
        assert may_change(people[role], target, write.rule) == expected, name
        if not isinstance(target, Client) and name != "incident.note":
            # A record's own rule is the table's (a note is the EDITOR rule of its incident).
            assert may_change(people[role], target) == expected, name


@pytest.mark.parametrize(("name", "role"), _params("page"))
def test_the_page_lets_exactly_the_rules_people_write(name, role, people, client):
    write = WRITES[name]
    url_name, kwargs, post = write.page
    client.force_login(people[role])
    before = audit_count()
    response = client.post(reverse(url_name, kwargs=kwargs()), post())
    done = audit_count() > before
    if role in ALLOWED[write.rule]:
        assert done, f"{name} by {role}: {response.status_code}"
        assert response.status_code in (200, 302)
    else:
        assert not done
        # 403, 404 for a record the user does not see, or the blank form answered again when
        # acme is not among the user's clients.
        assert response.status_code in (200, 403, 404)
        if response.status_code == 200:
            assert not kwargs() and role in ("stranger", "outsider")


@pytest.mark.parametrize(("name", "role"), _params("api"))
def test_the_api_lets_exactly_the_rules_people_write(name, role, people, client):
    write = WRITES[name]
    method, path, body = write.api
    token = create_token(people[role], "test")[1]
    before = audit_count()
    data = body()
    response = client.generic(
        method.upper(),
        path(),
        json.dumps(data) if data is not None else "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    done = audit_count() > before
    if role in ALLOWED[write.rule]:
        assert done and 200 <= response.status_code < 300, response.content
    else:
        assert not done
        # 403; 404 for a record the caller does not see; 422 for a client it does not see.
        assert response.status_code in (403, 404, 422), response.content
        if response.status_code == 403:
            assert response.json() == {"detail": "Forbidden"}
