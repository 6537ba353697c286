"""The outbound address guard (mamori.probe.netguard): which addresses are refused, and that
the refusal happens when a connection opens, after resolution, for requests/urllib3 (redirects
included), asyncio connections, the TLS probe and the AIA fetcher. Real servers on loopback
record whether anything reached them."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
import requests

from mamori.demo.pki import CertificateAuthority
from mamori.probe import AIAFetcher, Problem, Target, probe_tls
from mamori.probe.netguard import (
    AddressPolicy,
    AddressRefused,
    classify,
    guarded,
    open_connection,
    refusal_in,
)
from mamori.probe.trust import TrustStore
from tests.support.recorder import fake_dns, recorder

PUBLIC = AddressPolicy()  # public addresses only
LOOPBACK_ALLOWED = AddressPolicy.public([ipaddress.ip_network("127.0.0.0/8")])


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("Netguard Test Root")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("100.64.0.1", "private"),  # carrier-grade NAT
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_it_classifies_every_non_public_address(address: str, kind: str | None) -> None:
    assert classify(address) == kind
    assert PUBLIC.allows(address) is (kind is None)
    assert AddressPolicy(allow_private=True).allows(address)


def test_extra_networks_allow_only_themselves() -> None:
    policy = AddressPolicy.public([ipaddress.ip_network("10.0.0.0/8")])
    assert policy.allows("10.20.30.40") and policy.allows("::ffff:10.0.0.1")
    assert not policy.allows("192.168.0.1") and not policy.allows("127.0.0.1")
    assert LOOPBACK_ALLOWED.allows("127.0.0.1") and not LOOPBACK_ALLOWED.allows("::1")


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("localhost", "loopback"),
        ("LOCALHOST.", "loopback"),
        ("api.localhost", "loopback"),
        ("10.0.0.5", "private"),
        ("169.254.169.254", "link-local"),
        ("8.8.8.8", None),
        ("www.example.jp", None),  # a name: judged when it is resolved
    ],
)
def test_it_refuses_literals_and_localhost_without_resolving(host: str, kind: str | None) -> None:
    assert PUBLIC.refuses_literal(host) == kind


def test_a_refusal_names_host_address_and_kind() -> None:
    with pytest.raises(AddressRefused) as caught:
        PUBLIC.check("intranet.example", "10.0.0.5")
    error = caught.value
    assert isinstance(error, OSError)
    assert (error.host, error.address, error.kind) == ("intranet.example", "10.0.0.5", "private")
    assert "intranet.example" in str(error) and "10.0.0.5, a private address" in str(error)


# -- requests / urllib3 ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_requests_inside_a_policy_never_reach_a_refused_address(host: str) -> None:
    with recorder() as server, guarded(PUBLIC) as guard:
        with pytest.raises(requests.ConnectionError) as caught:
            requests.get(server.url("/secret", host=host), timeout=5)
        assert refusal_in(caught.value).kind == "loopback"
        assert guard.refused and guard.refused[0].address == "127.0.0.1"
        assert server.connections == 0 and server.hits == []


def test_requests_reach_an_allowed_network_and_are_unguarded_without_a_policy() -> None:
    with recorder() as server:
        with guarded(LOOPBACK_ALLOWED):
            assert requests.get(server.url("/allowed"), timeout=5).status_code == 200
        with guarded(None):
            assert requests.get(server.url("/trusted"), timeout=5).status_code == 200
        assert requests.get(server.url("/outside"), timeout=5).status_code == 200
        assert server.hits == ["/allowed", "/trusted", "/outside"]


def test_a_redirect_to_a_refused_address_is_not_followed() -> None:
    # 127.0.0.1 is allowed, 127.0.0.2 (also loopback) is not: the redirect opens a new
    # connection, which the guard checks like the first.
    allowed = AddressPolicy.public([ipaddress.ip_network("127.0.0.1/32")])
    with recorder("127.0.0.2") as inner, recorder() as outer:
        outer.redirect_to = inner.url("/metadata")
        with guarded(allowed), pytest.raises(requests.ConnectionError) as caught:
            requests.get(outer.url("/page"), timeout=5)
        assert refusal_in(caught.value).address == "127.0.0.2"
        assert outer.hits == ["/page"] and inner.connections == 0


def test_a_name_that_resolves_to_loopback_is_refused_when_it_opens(monkeypatch) -> None:
    answers = fake_dns(monkeypatch, {"hooks.example.com": "93.184.216.34"})
    assert PUBLIC.refuses_literal("hooks.example.com") is None  # nothing to see in the name
    answers["hooks.example.com"] = "127.0.0.1"  # the DNS answer changed (rebinding)
    with recorder() as server, guarded(PUBLIC):
        with pytest.raises(requests.ConnectionError) as caught:
            requests.get(server.url("/", host="hooks.example.com"), timeout=5)
        refused = refusal_in(caught.value)
        assert (refused.host, refused.address) == ("hooks.example.com", "127.0.0.1")
        assert server.connections == 0


# -- asyncio ------------------------------------------------------------------------------------


def test_asyncio_connections_reach_only_allowed_addresses() -> None:
    async def connect(host: str, port: int, policy: AddressPolicy) -> None:
        _reader, writer = await open_connection(host, port, policy)
        writer.close()
        await writer.wait_closed()

    with recorder() as server:
        for host in ("127.0.0.1", "localhost"):
            with pytest.raises(AddressRefused):
                asyncio.run(connect(host, server.port, PUBLIC))
        assert server.connections == 0
        asyncio.run(connect("localhost", server.port, LOOPBACK_ALLOWED))
        assert server.connections == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_tls_probe_reports_a_refused_address_without_connecting(ca, host: str) -> None:
    with recorder() as server:
        target = Target(host=host, port=server.port, policy=PUBLIC)
        result = asyncio.run(probe_tls(target, trust=TrustStore.from_pem(ca.cert_pem)))
        assert result.problems == [Problem.ADDRESS_REFUSED] and result.connection_failed
        detail = result.details["address_refused"]
        assert host in detail and "127.0.0.1" in detail and "a loopback address" in detail
        assert server.connections == 0
        # The same target with loopback allowed connects (and finds no TLS there).
        allowed = Target(host=host, port=server.port, policy=LOOPBACK_ALLOWED)
        result = asyncio.run(probe_tls(allowed, trust=TrustStore.from_pem(ca.cert_pem)))
        assert result.problems == [Problem.TLS_ERROR] and server.connections >= 1


def test_the_aia_fetcher_never_fetches_from_a_refused_address(ca) -> None:
    leaf_ca = ca.intermediate("Netguard Issuing CA")
    with recorder(body=leaf_ca.der) as server:
        guarded_fetcher = AIAFetcher(policy=PUBLIC)
        for host in ("127.0.0.1", "localhost"):
            assert asyncio.run(guarded_fetcher.fetch(server.url("/ca.der", host=host))) == []
        assert server.connections == 0
        fetched = asyncio.run(AIAFetcher(policy=LOOPBACK_ALLOWED).fetch(server.url("/ca.der")))
        assert [c.subject for c in fetched] == [leaf_ca.cert.subject]
        assert server.hits == ["/ca.der"]
