"""Endpoints on the provider's own network (issue 13, "requests to internal addresses").

A client's administrator could add an endpoint on 127.0.0.1 and learn from its checks which
ports answer there: a port scanner of the provider's network. Now an endpoint reaches a
loopback, private or link-local address only if the provider's administrators or operators
allowed it; everyone else gets the same refusal from the page, the API and the import, and a
name that resolves to such an address is refused when the check connects. Every test empties
MAMORI_ALLOW_PRIVATE_NETWORKS, which the suite sets to loopback for its servers.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext, pgettext

from mamori.certificates import services as watch
from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.demo.pki import CertificateAuthority
from mamori.demo.servers import DemoServers, DemoSite
from mamori.inventory.models import Endpoint
from tests.support.recorder import fake_dns, recorder

pytestmark = pytest.mark.django_db

HOST_REFUSED = (
    "%(host)s is a %(kind)s address. Mamori checks only public addresses, unless the provider's "
    "administrators or operators allow a private address for this endpoint."
)
STAFF_ONLY = "Only the provider's administrators and operators may allow a private address."
NOT_ALLOWED = ["owner", "subcontractor"]  # a client's administrator, the provider's subcontractor
ALLOWED = ["provider_admin", "operator"]
PRIVATE_HOSTS = [
    ("127.0.0.1", "127.0.0.1", "loopback"),
    ("[::1]", "::1", "loopback"),
    ("localhost", "localhost", "loopback"),
    ("10.0.0.5", "10.0.0.5", "private"),
    ("169.254.169.254", "169.254.169.254", "link-local"),
]


@pytest.fixture(autouse=True)
def public_only(settings):
    settings.MAMORI_ALLOW_PRIVATE_NETWORKS = []


def in_language(response, message: str, **params) -> str:
    """``message`` as the page or API answer in ``response`` shows it."""
    with translation.override(response.headers["Content-Language"]):
        text = gettext(message)
        if "kind" in params:
            params["kind"] = pgettext("address kind", params["kind"])
        return text % params if params else text


def add_endpoint(client, acme, host: str, port: int = 443, **extra):
    data = {"client": acme.pk, "host": host, "port": port, "sni": "", "enabled": "on", **extra}
    return client.post(reverse("endpoint_add"), data)


def api_post(client, user, body: dict):
    _, token = create_token(user, "test")
    return client.post(
        "/api/v1/endpoints",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def upload(client, text: str):
    file = SimpleUploadedFile("acme.yaml", text.encode(), content_type="application/yaml")
    return client.post(reverse("inventory_import"), {"file": file})


# -- the page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", NOT_ALLOWED + ALLOWED)
@pytest.mark.parametrize(("typed", "stored", "kind"), PRIVATE_HOSTS)
def test_nobody_adds_an_endpoint_on_a_private_address_without_the_allowance(
    acme, client, request, role, typed, stored, kind
):
    client.force_login(request.getfixturevalue(role))
    response = add_endpoint(client, acme, typed)
    assert response.status_code == 200
    error = in_language(response, HOST_REFUSED, host=stored, kind=kind)
    assert escape(error) in response.content.decode()
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("role", NOT_ALLOWED)
def test_a_client_admin_or_subcontractor_cannot_allow_a_private_address_on_the_page(
    acme, client, request, role
):
    client.force_login(request.getfixturevalue(role))
    page = client.get(reverse("endpoint_add")).content.decode()
    assert (
        'name="allow_private_address"' in page
        and "disabled" in page.split('name="allow_private_address"')[1].split(">")[0]
    )
    # A forged form asking for it anyway: the box is read-only, so the host is refused.
    response = add_endpoint(client, acme, "127.0.0.1", allow_private_address="on")
    error = in_language(response, HOST_REFUSED, host="127.0.0.1", kind="loopback")
    assert escape(error) in response.content.decode()
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("role", ALLOWED)
def test_provider_staff_allow_a_private_endpoint_and_it_is_checked(
    acme, client, request, role, tmp_path
):
    # A real HTTPS server on loopback, serving a certificate of a private CA.
    ca = CertificateAuthority.create("Private Address Test Root")
    leaf = ca.issue(["intranet.acme.example"])
    servers = DemoServers(tmp_path / "https")
    port = servers.start([DemoSite("intranet", leaf.fullchain_pem, leaf.key_pem)])["intranet"]
    try:
        user = request.getfixturevalue(role)
        client.force_login(user)
        response = add_endpoint(
            client,
            acme,
            "127.0.0.1",
            port,
            sni="intranet.acme.example",
            trust_bundle=ca.cert_pem,
            allow_private_address="on",
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        endpoint = Endpoint.objects.get()
        assert endpoint.allow_private_address
        event = AuditEvent.objects.get(action="endpoint.create")
        assert event.actor == user and event.changes["allow_private_address"] is True
        watch.check_endpoint(endpoint)
    finally:
        servers.stop()
    endpoint.refresh_from_db()
    assert endpoint.current_certificate.fingerprint_sha256 == leaf.fingerprint_sha256
    assert endpoint.problems == []
    page = client.get(endpoint.get_absolute_url())
    assert in_language(page, "allowed by the provider") in page.content.decode()


def test_a_client_admin_cannot_take_the_allowance_away_or_give_it(
    acme, client, owner, provider_admin
):
    allowed = Endpoint.objects.create(client=acme, host="10.0.0.5", allow_private_address=True)
    public = Endpoint.objects.create(client=acme, host="www.acme.example")
    client.force_login(owner)
    for endpoint, posted in ((allowed, {}), (public, {"allow_private_address": "on"})):
        response = client.post(
            reverse("endpoint_edit", args=[endpoint.pk]),
            {"client": acme.pk, "host": endpoint.host, "port": 443, "sni": "", **posted},
        )
        assert response.status_code == 302
    allowed.refresh_from_db()
    public.refresh_from_db()
    assert allowed.allow_private_address and not public.allow_private_address
    # Everyone who sees the endpoint reads whether it is allowed.
    page = client.get(allowed.get_absolute_url())
    assert in_language(page, "allowed by the provider") in page.content.decode()


# -- the API -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", NOT_ALLOWED)
def test_the_api_refuses_a_private_endpoint_and_the_allowance_to_others(
    acme, client, request, role
):
    user = request.getfixturevalue(role)
    refused = api_post(client, user, {"client": "acme", "host": "127.0.0.1", "port": 22})
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert error["loc"][-1] == "host"
    assert error["msg"] == in_language(refused, HOST_REFUSED, host="127.0.0.1", kind="loopback")
    asking = api_post(
        client,
        user,
        {"client": "acme", "host": "127.0.0.1", "port": 22, "allow_private_address": True},
    )
    assert asking.status_code == 422
    fields = {e["loc"][-1]: e["msg"] for e in asking.json()["detail"]}
    assert fields["allow_private_address"] == in_language(asking, STAFF_ONLY)
    assert not Endpoint.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", ALLOWED)
def test_provider_staff_allow_a_private_endpoint_through_the_api(acme, client, request, role):
    user = request.getfixturevalue(role)
    response = api_post(
        client,
        user,
        {"client": "acme", "host": "10.0.0.5", "port": 8443, "allow_private_address": True},
    )
    assert response.status_code == 201
    assert response.json()["allow_private_address"] is True
    assert Endpoint.objects.get().allow_private_address


# -- the import ----------------------------------------------------------------------------------

ON_LOOPBACK = """\
clients:
  - code: acme
    endpoints:
      - {host: 127.0.0.1, port: 22}
"""

ALLOWED_FILE = """\
clients:
  - code: acme
    endpoints:
      - {host: 127.0.0.1, port: 22, allow_private_address: true}
"""


@pytest.mark.parametrize("role", NOT_ALLOWED)
def test_an_import_refuses_a_private_endpoint_and_the_allowance_to_others(
    acme, client, request, role
):
    client.force_login(request.getfixturevalue(role))
    response = upload(client, ON_LOOPBACK)
    body = response.content.decode()
    assert escape(in_language(response, HOST_REFUSED, host="127.0.0.1", kind="loopback")) in body
    response = upload(client, ALLOWED_FILE)
    assert escape(in_language(response, STAFF_ONLY)) in response.content.decode()
    assert 'name="action" value="apply"' not in response.content.decode()
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("role", ALLOWED)
def test_provider_staff_allow_a_private_endpoint_by_import(acme, client, request, role):
    client.force_login(request.getfixturevalue(role))
    preview = upload(client, ALLOWED_FILE).content.decode()
    digest = preview.split('name="digest" value="')[1].split('"')[0]
    client.post(reverse("inventory_import"), {"action": "apply", "digest": digest})
    assert Endpoint.objects.get(host="127.0.0.1", port=22).allow_private_address


def test_an_import_leaves_an_allowance_as_it_is_for_anyone(acme, owner, client):
    Endpoint.objects.create(client=acme, host="127.0.0.1", port=22, allow_private_address=True)
    client.force_login(owner)
    response = upload(client, ALLOWED_FILE)  # as exported: nothing changes
    assert 'name="action" value="apply"' in response.content.decode()


# -- when the check connects ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "subcontractor"])
def test_a_name_that_resolves_to_loopback_is_refused_when_the_check_connects(
    acme, client, request, role, monkeypatch
):
    fake_dns(monkeypatch, {"intranet.acme.example": "127.0.0.1"})
    with recorder() as server:
        client.force_login(request.getfixturevalue(role))
        response = add_endpoint(client, acme, "intranet.acme.example", server.port)
        assert response.status_code == 302  # a name: nothing to judge before it is resolved
        endpoint = Endpoint.objects.get()
        now = timezone.now()
        watch.check_endpoint(endpoint, now)
        watch.check_endpoint(endpoint, now + dt.timedelta(minutes=6))  # confirmed
        assert server.connections == 0
    endpoint.refresh_from_db()
    assert endpoint.problems == ["address_refused"]
    detail = endpoint.last_result["details"]["address_refused"]
    assert "intranet.acme.example" in detail and "127.0.0.1, a loopback address" in detail
    page = client.get(endpoint.get_absolute_url())
    explained = in_language(
        page,
        "Not checked: the host is, or resolves to, a loopback, private or link-local address. "
        "Mamori checks only public addresses unless the provider's administrators or operators "
        "allow a private address for this endpoint.",
    )
    assert escape(explained) in page.content.decode()
