"""Seal pages and OCSP/CRL URLs on the provider's own network (issue 13, "requests to internal
addresses").

A seal's page URL is typed by the client; OCSP and CRL URLs come from a certificate the client
controls. The review had Mamori fetch them on 127.0.0.1, localhost and [::1], and the seal page
then said whether a marker was in the answer. Now such a seal is refused when it is recorded,
and every fetch connects only to public addresses (and MAMORI_ALLOW_PRIVATE_NETWORKS), checked
when the connection opens: a real HTTP server on loopback records that nothing reached it.
Every test empties MAMORI_ALLOW_PRIVATE_NETWORKS, which the suite sets to loopback.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext, pgettext

from mamori.demo.pki import CertificateAuthority
from mamori.inventory.models import Site
from mamori.lifecycle import seals, status
from mamori.lifecycle.models import (
    Failure,
    FailureKind,
    RevocationStatus,
    RevocationStatusValue,
    SiteSeal,
)
from tests.lifecycle.revocation.conftest import serve_on
from tests.support.recorder import Recorder, fake_dns, recorder

pytestmark = pytest.mark.django_db

PAGE = b'<html><script src="https://seal.example-trust.test/seal.js"></script></html>'
SEAL_REFUSED = "%(host)s is a %(kind)s address. Mamori fetches only pages on public addresses."


@pytest.fixture(autouse=True)
def public_only(settings):
    settings.MAMORI_ALLOW_PRIVATE_NETWORKS = []


@pytest.fixture
def page_server():
    with recorder(body=PAGE) as server:
        yield server


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("Address Test Root").intermediate("Address Test CA")


@pytest.fixture
def site(acme) -> Site:
    return Site.objects.create(client=acme, name="Corporate", url="https://www.acme.example/")


def expired_on(site, ca, **urls) -> None:
    """The site's endpoint serves a certificate that expired yesterday: its seal is checked."""
    now = timezone.now()
    issued = ca.issue(
        ["www.acme.example"],
        not_before=now - dt.timedelta(days=100),
        not_after=now - dt.timedelta(days=1),
        **urls,
    )
    serve_on(site.client, "www.acme.example", issued, site=site)


@pytest.mark.req("CERT-13")
@pytest.mark.parametrize("role", ["owner", "subcontractor", "operator", "provider_admin"])
@pytest.mark.parametrize(
    ("host", "shown", "kind"),
    [
        ("127.0.0.1", "127.0.0.1", "loopback"),
        ("localhost", "localhost", "loopback"),
        ("[::1]", "::1", "loopback"),
        ("10.0.0.5", "10.0.0.5", "private"),
    ],
)
def test_a_seal_on_a_private_address_is_refused_when_it_is_recorded(
    client, request, site, page_server: Recorder, role, host, shown, kind
):
    client.force_login(request.getfixturevalue(role))
    response = client.post(
        reverse("seal_add"),
        {
            "site": site.pk,
            "ca_name": "Example Trust",
            "page_url": page_server.url("/index.html", host=host),
            "marker": "seal.example-trust.test/seal.js",
        },
    )
    assert response.status_code == 200
    with translation.override(response.headers["Content-Language"]):
        error = gettext(SEAL_REFUSED) % {"host": shown, "kind": pgettext("address kind", kind)}
    assert escape(error) in response.content.decode()
    assert not SiteSeal.objects.exists() and page_server.connections == 0


@pytest.mark.req("CERT-13")
def test_a_seal_page_that_resolves_to_loopback_is_not_fetched(
    acme, owner, client, site, ca, page_server: Recorder, monkeypatch
):
    answers = fake_dns(monkeypatch, {"www.acme.example": "93.184.216.34"})  # public
    expired_on(site, ca)
    client.force_login(owner)
    response = client.post(
        reverse("seal_add"),
        {
            "site": site.pk,
            "ca_name": "Example Trust",
            "page_url": page_server.url("/index.html", host="www.acme.example"),
            "marker": "seal.example-trust.test/seal.js",
        },
    )
    assert response.status_code == 302
    answers["www.acme.example"] = "127.0.0.1"  # the name now points inside

    assert seals.check_due() == 1
    assert page_server.connections == 0
    seal = SiteSeal.objects.get()
    assert seal.last_present is None  # the page says nothing of what is on 127.0.0.1
    assert "127.0.0.1, a loopback address" in seal.last_error
    failure = Failure.objects.open().get(kind=FailureKind.SEAL_CHECK)
    assert "was not fetched" in failure.message
    listing = client.get(reverse("seal_list")).content.decode()
    assert "a loopback address" in listing  # why it was not checked, not what the page holds


@pytest.mark.req("CERT-11")
def test_ocsp_and_crl_urls_on_loopback_are_not_fetched(acme, revocation_server):
    issued = revocation_server.issue(["www.acme.example"])  # OCSP and CRL on 127.0.0.1
    serve_on(acme, "www.acme.example", issued)

    assert status.check_due() == 1
    assert revocation_server.requests == []  # neither the responder nor the CRL was asked
    row = RevocationStatus.objects.get()
    assert row.status != RevocationStatusValue.REVOKED
    assert "was not fetched" in row.error and "a loopback address" in row.error
    assert Failure.objects.open().filter(kind=FailureKind.REVOCATION_CHECK).exists()


@pytest.mark.req("CERT-11")
def test_ocsp_and_crl_urls_reach_the_networks_the_provider_allowed(
    acme, revocation_server, settings
):
    settings.MAMORI_ALLOW_PRIVATE_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    serve_on(acme, "www.acme.example", revocation_server.issue(["www.acme.example"]))
    assert status.check_due() == 1
    assert revocation_server.requests == ["POST /ocsp"]
    assert RevocationStatus.objects.get().status == RevocationStatusValue.GOOD
