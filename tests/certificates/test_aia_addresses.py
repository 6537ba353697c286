"""The caIssuers (AIA) URL of a served certificate is chosen by whoever runs the endpoint, so the
watch fetches it only from public addresses and MAMORI_ALLOW_PRIVATE_NETWORKS, even for an
endpoint the provider allowed on a private address (issue 13). A real HTTPS endpoint and a
real HTTP server on loopback, which records whether it was asked."""

from __future__ import annotations

import ipaddress

import pytest

from mamori.certificates import services as watch
from mamori.demo.pki import CertificateAuthority
from mamori.demo.servers import DemoServers, DemoSite
from mamori.inventory.models import Endpoint
from tests.support.recorder import recorder

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("networks", "fetched", "problem"),
    [([], False, "untrusted"), (["127.0.0.1/32"], True, "incomplete_chain")],
)
def test_the_watch_fetches_aia_only_from_allowed_addresses(
    acme, settings, tmp_path, networks, fetched, problem
):
    settings.MAMORI_ALLOW_PRIVATE_NETWORKS = [ipaddress.ip_network(n) for n in networks]
    root = CertificateAuthority.create("AIA Address Test Root")
    with recorder() as aia:
        issuing = root.intermediate("AIA Address Test CA")
        aia.body = issuing.der
        leaf = issuing.issue(["www.acme.example"], aia_url=aia.url("/issuing.der"))
        servers = DemoServers(tmp_path / "https")
        # The server forgets its intermediate: only the AIA URL can complete the chain.
        port = servers.start([DemoSite("www", leaf.cert_pem, leaf.key_pem)])["www"]
        try:
            endpoint = Endpoint.objects.create(
                client=acme,
                host="127.0.0.1",
                port=port,
                sni="www.acme.example",
                trust_bundle=root.cert_pem,
                allow_private_address=True,  # the endpoint itself, by the provider's staff
            )
            watch.check_endpoint(endpoint)
        finally:
            servers.stop()
        assert (aia.connections > 0) is fetched
    endpoint.refresh_from_db()
    assert endpoint.current_certificate.fingerprint_sha256 == leaf.fingerprint_sha256
    assert problem in endpoint.problems
