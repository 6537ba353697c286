"""The one "may change" rule, per rule and role (ACC-01): ``may_change``, ``changeable`` and
``changes_every_client`` read one table, so a record's check and a list's filter agree.
tests/web/test_may_change.py proves that the pages and the API follow it."""

from __future__ import annotations

import pytest

from mamori.clients.models import Client, Contact
from mamori.core.models import Role
from mamori.core.permissions import (
    Rule,
    changeable,
    changes_every_client,
    client_id_of,
    may_change,
    rule_of,
)
from mamori.inventory.models import Endpoint
from mamori.lifecycle.models import DeploymentTarget, ManagedCertificate
from mamori.monitoring.models import Check, Incident
from mamori.notices.models import ContactChannel
from mamori.vault.models import Secret

pytestmark = pytest.mark.req("ACC-01")

ROLES = ("provider_admin", "operator", "subcontractor", "stranger", "owner", "member", "outsider")
#: rule -> the roles that may change acme's records under it.
EXPECTED = {
    Rule.EDITOR: {"provider_admin", "operator", "subcontractor", "owner"},
    Rule.STAFF: {"provider_admin", "operator", "subcontractor"},
    Rule.CLIENT_ADMIN: {"provider_admin", "operator", "owner"},
}


@pytest.fixture
def people(request, acme, globex, make_user):
    found = {r: request.getfixturevalue(r) for r in ROLES if r != "stranger"}
    found["stranger"] = make_user("stranger", Role.SUBCONTRACTOR)
    return found


@pytest.mark.parametrize("rule", list(Rule))
@pytest.mark.parametrize("role", ROLES)
def test_each_rule_lets_its_people_change_acme(rule, role, people, acme, globex):
    user = people[role]
    allowed = role in EXPECTED[rule]
    assert may_change(user, acme, rule) is allowed
    assert may_change(user, acme.pk, rule) is allowed
    assert (acme in changeable(Client.objects.all(), user, rule)) is allowed
    # globex: only those who see every client (and its own administrator where the rule has
    # client administrators).
    assert may_change(user, globex, rule) is (
        role in {"provider_admin", "operator"}
        or (role == "outsider" and rule in (Rule.EDITOR, Rule.CLIENT_ADMIN))
    )


def test_models_name_their_rule():
    assert rule_of(Endpoint) is Rule.EDITOR  # the default
    for model in (Check, Incident, Secret, ManagedCertificate, DeploymentTarget):
        assert rule_of(model) is Rule.STAFF, model
    assert rule_of(Contact) is Rule.CLIENT_ADMIN
    assert rule_of(ContactChannel) is Rule.EDITOR
    assert rule_of(Check, Rule.EDITOR) is Rule.EDITOR


def test_a_record_is_judged_by_its_rule_and_its_client(people, acme):
    check = Check.objects.create(
        client=acme, name="tcp", kind="tcp", settings={"host": "a.example", "port": 1}
    )
    jane = Contact.objects.get(client=acme, name="Jane Smith")
    for role, user in people.items():
        assert may_change(user, check) is (role in EXPECTED[Rule.STAFF]), role
        assert may_change(user, jane) is (role in EXPECTED[Rule.CLIENT_ADMIN]), role
    assert set(changeable(Check.objects.all(), people["subcontractor"])) == {check}
    assert not changeable(Check.objects.all(), people["owner"]).exists()


def test_the_client_of_a_record_is_found_through_its_lookup(acme):
    managed = ManagedCertificate.objects.create(client=acme, name="www", names=["a.example"])
    target = DeploymentTarget(managed=managed, name="web")
    assert client_id_of(target) == acme.pk
    assert client_id_of(acme) == client_id_of(acme.pk) == acme.pk
    assert client_id_of(DeploymentTarget(name="orphan")) is None


def test_nobody_changes_without_a_client_or_a_session(people, acme):
    assert not may_change(None, acme, Rule.STAFF)
    assert not may_change(people["provider_admin"], None, Rule.STAFF)
    people["operator"].is_active = False
    assert not may_change(people["operator"], acme, Rule.STAFF)


def test_provider_wide_work_is_for_staff_who_change_every_client(people):
    assert {r for r, u in people.items() if changes_every_client(u, Rule.STAFF)} == {
        "provider_admin",
        "operator",
    }
