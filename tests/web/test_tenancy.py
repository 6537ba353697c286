"""Tenancy of every web page (ACC-01), generated from the URL conf.

Every named URL of ``mamori.urls`` must be either described in a ``CASES`` (how to fill in its
parameters with ``acme``'s objects, what kind of view it is, who may read and write) or listed
in an ``EXEMPT`` with a reason, in one of the ``tests/web/cases_<app>.py`` modules;
``test_it_covers_every_url`` fails for a new URL that is neither. Each case is then
requested as anonymous, owner (client admin of acme), member (viewer of acme), outsider (admin of
globex), an unassigned subcontractor, and acme's assigned subcontractor and provider staff.
The API has its own generated test in tests/api/test_tenancy.py.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

import tests.web
from mamori.core.models import Role
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

pytestmark = pytest.mark.req("ACC-01")

API_NAMESPACE = "api"  # covered by tests/api/test_tenancy.py

# Text that only acme's data contains: an outsider's page must not show any of it.
ACME_MARKERS = ("acme.example", "株式会社アクメ", "Jane Smith")


def _collect() -> tuple[dict[str, Case], dict[str, str]]:
    cases: dict[str, Case] = {}
    exempt: dict[str, str] = {}
    for info in pkgutil.iter_modules(tests.web.__path__):
        if info.name.startswith("cases_"):
            module = importlib.import_module(f"tests.web.{info.name}")
            for name in set(module.CASES) & set(cases) | set(module.EXEMPT) & set(exempt):
                raise AssertionError(f"{name} is described twice ({info.name})")
            cases.update(module.CASES)
            exempt.update(module.EXEMPT)
    return cases, exempt


CASES, EXEMPT = _collect()


def named_urls(patterns=None, namespace: str | None = None) -> set[str]:
    names = set()
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == API_NAMESPACE:
                continue
            names |= named_urls(entry.url_patterns, entry.namespace)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"URL {entry.pattern} has no name: name it and add it to CASES"
            names.add(f"{namespace}:{entry.name}" if namespace else entry.name)
    return names


def url_of(name: str, scene) -> str:
    return reverse(name, kwargs=CASES[name].kwargs(scene))


def has_object(name: str, scene) -> bool:
    """Whether the URL names one of acme's objects (else it is a list or a blank form)."""
    return bool(CASES[name].kwargs(scene))


def test_it_covers_every_url():
    names = named_urls()
    missing = names - set(CASES) - set(EXEMPT)
    assert not missing, f"new URLs: describe them in tests/web/cases_<app>.py: {sorted(missing)}"
    stale = (set(CASES) | set(EXEMPT)) - names
    assert not stale, f"CASES/EXEMPT name URLs that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_it_sends_anonymous_users_to_sign_in(name, scene, client):
    url = url_of(name, scene)
    response = client.post(url) if CASES[name].kind == ACTION else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("role", ["owner", "member", "subcontractor", "operator", "provider_admin"])
@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.kind != ACTION))
def test_it_shows_acme_to_its_people(name, role, scene, client, request):
    case = CASES[name]
    client.force_login(request.getfixturevalue(role))
    response = client.get(url_of(name, scene))
    allowed = case.writers if case.kind == FORM else case.readers
    if role not in allowed:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    if case.kind in (PAGE, LIST) and case.shows_acme and name != "certificate_pem":
        body = response.content.decode()
        assert any(marker in body for marker in ACME_MARKERS), f"{name} shows nothing of acme"


@pytest.fixture
def stranger(make_user):
    """A subcontractor assigned to no client."""
    return make_user("stranger", Role.SUBCONTRACTOR)


# The outsiders hold the same roles as two of acme's people.
SAME_ROLE_AS = {"outsider": "owner", "stranger": "subcontractor"}


@pytest.mark.parametrize("role", ["outsider", "stranger"])
@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.kind != ACTION))
def test_it_hides_acme_from_outsiders(name, role, scene, client, request):
    case = CASES[name]
    client.force_login(request.getfixturevalue(role))
    response = client.get(url_of(name, scene))
    if has_object(name, scene):
        assert response.status_code == 404
    elif SAME_ROLE_AS[role] not in (case.writers if case.kind == FORM else case.readers):
        # A page closed to the role altogether (the audit trail): refused as for acme's people.
        assert response.status_code == 403
    else:
        assert response.status_code == 200
    body = response.content.decode()
    for marker in ACME_MARKERS:
        assert marker not in body, f"{name} shows {marker!r} to {role}"


WRITES = sorted(n for n, c in CASES.items() if c.post is not None)
REFUSED_WRITES = sorted(
    (name, role) for name in WRITES for role in sorted(ACME_PEOPLE - CASES[name].writers)
)


@pytest.mark.parametrize(("name", "role"), REFUSED_WRITES)
def test_it_refuses_changes_by_people_without_the_right(name, role, scene, client, request):
    case = CASES[name]
    client.force_login(request.getfixturevalue(role))
    before = case.snapshot()
    response = client.post(url_of(name, scene), case.post(scene))
    assert response.status_code == 403
    assert case.snapshot() == before


@pytest.mark.parametrize("name", WRITES)
def test_it_refuses_changes_by_outsiders(name, scene, outsider, client):
    case = CASES[name]
    client.force_login(outsider)
    before = case.snapshot()
    response = client.post(url_of(name, scene), case.post(scene))
    if has_object(name, scene):
        assert response.status_code == 404
    else:
        # Forms without an object: acme is simply not among the outsider's choices.
        assert response.status_code == 200
        assert "acme.example" not in response.content.decode().replace("new.acme.example", "")
    assert case.snapshot() == before


@pytest.mark.parametrize("name", WRITES)
def test_it_lets_a_writer_change_acme(name, scene, client, request):
    writers = CASES[name].writers
    role = "owner" if "owner" in writers else sorted(writers)[0]
    client.force_login(request.getfixturevalue(role))
    response = client.post(url_of(name, scene), CASES[name].post(scene))
    # 302 after a change; 200 for a form answered again or a download.
    assert response.status_code in (200, 302)
