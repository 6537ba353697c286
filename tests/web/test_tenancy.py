"""Tenancy of every web page (ACC-01), generated from the URL conf.

Every named URL of ``mamori.urls`` must be either described in ``CASES`` (how to fill in its
parameters with ``acme``'s objects, and what kind of view it is) or listed in ``EXEMPT`` with a
reason; ``test_it_covers_every_url`` fails for a new URL that is neither. Each case is then
requested as anonymous, owner (client admin of acme), member (viewer of acme), outsider (admin of
globex), an unassigned subcontractor, and acme's assigned subcontractor and provider staff.
The API has its own generated test in tests/api/test_tenancy.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from mamori.core.models import Role
from mamori.inventory.models import Endpoint

pytestmark = pytest.mark.req("ACC-01")

# URLs that are not about a client's data, with the reason.
EXEMPT = {
    "login": "the sign-in page is public",
    "logout": "acts on the caller's own session only",
    "set_language": "changes the caller's own preference only",
}
API_NAMESPACE = "api"  # covered by tests/api/test_tenancy.py

# Text that only acme's data contains: an outsider's page must not show any of it.
ACME_MARKERS = ("acme.example", "株式会社アクメ", "Jane Smith")

PAGE = "page"  # GET; shows one of acme's objects
LIST = "list"  # GET; shows whatever the user may see
FORM = "form"  # GET shows a form to change data; POST changes it
ACTION = "action"  # POST only


@dataclass
class Case:
    kind: str
    kwargs: Callable = field(default=lambda s: {})
    # POST data that would succeed for the owner.
    post: Callable | None = None


def endpoint_data(s) -> dict:
    return {
        "client": s.acme.pk,
        "host": "new.acme.example",
        "port": 443,
        "sni": "",
        "site": s.site.pk,
        "enabled": "on",
    }


CASES: dict[str, Case] = {
    "dashboard": Case(LIST),
    "client_list": Case(LIST),
    "client_detail": Case(PAGE, lambda s: {"code": s.acme.code}),
    "certificate_list": Case(LIST),
    "certificate_detail": Case(PAGE, lambda s: {"fingerprint": s.expiring_cert.fingerprint_sha256}),
    "certificate_pem": Case(PAGE, lambda s: {"fingerprint": s.expiring_cert.fingerprint_sha256}),
    "endpoint_list": Case(LIST),
    "endpoint_detail": Case(PAGE, lambda s: {"pk": s.problem_endpoint.pk}),
    "endpoint_add": Case(FORM, post=endpoint_data),
    "endpoint_edit": Case(
        FORM,
        lambda s: {"pk": s.problem_endpoint.pk},
        post=lambda s: {**endpoint_data(s), "host": "shop2.acme.example"},
    ),
    "endpoint_delete": Case(FORM, lambda s: {"pk": s.problem_endpoint.pk}, post=lambda s: {}),
    "endpoint_check": Case(ACTION, lambda s: {"pk": s.problem_endpoint.pk}, post=lambda s: {}),
    "inventory_import": Case(FORM, post=lambda s: {}),
    "notice_list": Case(LIST),
    "notice_detail": Case(PAGE, lambda s: {"pk": s.notice.pk}),
}


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
    assert not missing, f"new URLs: add them to CASES or EXEMPT in {__file__}: {sorted(missing)}"
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
    user = request.getfixturevalue(role)
    client.force_login(user)
    response = client.get(url_of(name, scene))
    if CASES[name].kind == FORM and not user.can_edit:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    if CASES[name].kind in (PAGE, LIST) and name != "certificate_pem":
        body = response.content.decode()
        assert any(marker in body for marker in ACME_MARKERS), f"{name} shows nothing of acme"


@pytest.fixture
def stranger(make_user):
    """A subcontractor assigned to no client."""
    return make_user("stranger", Role.SUBCONTRACTOR)


@pytest.mark.parametrize("role", ["outsider", "stranger"])
@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.kind != ACTION))
def test_it_hides_acme_from_outsiders(name, role, scene, client, request):
    client.force_login(request.getfixturevalue(role))
    response = client.get(url_of(name, scene))
    if has_object(name, scene):
        assert response.status_code == 404
    else:
        assert response.status_code == 200
    body = response.content.decode()
    for marker in ACME_MARKERS:
        assert marker not in body, f"{name} shows {marker!r} to {role}"


WRITES = sorted(n for n, c in CASES.items() if c.post is not None)


@pytest.mark.parametrize("name", WRITES)
def test_it_refuses_changes_by_viewers(name, scene, member, client):
    client.force_login(member)
    before = list(Endpoint.objects.values().order_by("pk"))
    response = client.post(url_of(name, scene), CASES[name].post(scene))
    assert response.status_code == 403
    assert list(Endpoint.objects.values().order_by("pk")) == before


@pytest.mark.parametrize("name", WRITES)
def test_it_refuses_changes_by_outsiders(name, scene, outsider, client):
    client.force_login(outsider)
    before = list(Endpoint.objects.values().order_by("pk"))
    response = client.post(url_of(name, scene), CASES[name].post(scene))
    if has_object(name, scene):
        assert response.status_code == 404
    else:
        # Forms without an object: acme is simply not among the outsider's choices.
        assert response.status_code == 200
        assert "acme.example" not in response.content.decode().replace("new.acme.example", "")
    assert list(Endpoint.objects.values().order_by("pk")) == before


@pytest.mark.parametrize("name", WRITES)
def test_it_lets_the_owner_change_acme(name, scene, owner, client):
    client.force_login(owner)
    response = client.post(url_of(name, scene), CASES[name].post(scene))
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        # Only the import, posted without a file, answers with its form again.
        assert name == "inventory_import"
