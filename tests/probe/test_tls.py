"""The TLS installation check against a real nginx (CERT-02), one site per situation.

One nginx serves every site of this module: most are SNI virtual hosts on one port, sites whose
protocol settings differ have their own port. Trust comes from the test root, passed as extra
anchors the way ``MAMORI_CA_BUNDLE`` would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes

from mamori.demo.pki import self_signed
from mamori.probe import (
    CONNECTION_PROBLEMS,
    Problem,
    Target,
    TLSResult,
    TrustStore,
    parse_target,
    probe_many,
    probe_tls,
)
from tests.probe.conftest import ProbePKI, closed_port
from tests.support.nginx import Nginx, ipv6_loopback_available

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


@dataclass
class Sites:
    """Ports of the module's nginx and the certificates behind them."""

    main: int  # SNI virtual hosts, TLS 1.2–1.3
    legacy: int  # also TLS 1.0 and 1.1
    tls10: int  # TLS 1.0 only
    sni: int  # five names, five certificates
    ipv6: int | None  # [::1] and 127.0.0.1, or None without IPv6
    http: int  # plain HTTP (AIA files)
    certs: dict[str, object]
    trust: TrustStore


@pytest.fixture(scope="module")
def sites(nginx: Nginx, pki: ProbePKI) -> Sites:
    inter = pki.intermediate
    aia_port = nginx.add_files("aia", {"issuing.der": inter.der})
    certs: dict[str, object] = {
        "healthy": inter.issue(["healthy.test", "www.healthy.test"]),
        "expired": inter.issue(
            ["expired.test"], not_before=NOW - 100 * DAY, not_after=NOW - 3 * DAY
        ),
        "soon": inter.issue(["soon.test"], not_before=NOW - 85 * DAY, not_after=NOW + 5 * DAY),
        "shortlived": inter.issue(
            ["shortlived.test"], not_before=NOW - DAY, not_after=NOW + 5 * DAY
        ),
        "future": inter.issue(
            ["future.test"], not_before=NOW + 10 * DAY, not_after=NOW + 100 * DAY
        ),
        "self": self_signed(["self.test"]),
        "wrongname": inter.issue(["a.example.test", "b.example.test"]),
        "untrusted": pki.unknown_root.issue(["untrusted.test"]),
        "weakkey": inter.issue(["weakkey.test"], key_type="rsa", key_bits=1024),
        "weaksig": inter.issue(["weaksig.test"], hash_alg=hashes.SHA1()),
        "incomplete": inter.issue(["incomplete.test"]),
        "aia": inter.issue(["aia.test"], aia_url=f"http://127.0.0.1:{aia_port}/issuing.der"),
        "aia404": inter.issue(["aia404.test"], aia_url=f"http://127.0.0.1:{aia_port}/missing.der"),
        "wildcard": inter.issue(["*.wild.test"]),
        "cnonly": inter.issue([], common_name="cnonly.test", san=False),
    }
    main = nginx.add_site("healthy", cert=certs["healthy"])  # first: the port's default
    for name, cert in certs.items():
        if name == "healthy":
            continue
        # nginx's "*.wild.test" also matches deeper names, so the probe sees that certificate
        # for a.b.wild.test too and must refuse it by itself.
        names = ["*.wild.test"] if name == "wildcard" else [f"{name}.test", f"x.{name}.test"]
        send_chain = name not in ("incomplete", "aia", "aia404")
        nginx.add_site(name, cert=cert, port=main, send_chain=send_chain,  # type: ignore[arg-type]
                       server_names=names)  # fmt: skip
    # Root sent along with an untrusted chain: OpenSSL's "self-signed certificate in chain".
    unknown_inter = pki.unknown_root.intermediate("Somebody Else's Issuing CA")
    rooted = unknown_inter.issue(["rooted.test"])
    served_chain = rooted.chain_pem + pki.unknown_root.cert_pem
    nginx.add_site("rooted", cert=(rooted.cert_pem, rooted.key_pem, served_chain), port=main)

    weak_ciphers = "DEFAULT:@SECLEVEL=0"  # OpenSSL 3 needs level 0 for TLS 1.0/1.1
    legacy_cert = inter.issue(["legacy.test"])
    legacy = nginx.add_site("legacy", cert=legacy_cert, protocols="TLSv1 TLSv1.1 TLSv1.2",
                            ciphers=weak_ciphers)  # fmt: skip
    tls10_cert = inter.issue(["tls10.test"])
    tls10 = nginx.add_site("tls10", cert=tls10_cert, protocols="TLSv1", ciphers=weak_ciphers)

    sni = 0
    for index in range(5):
        cert = inter.issue([f"vhost{index}.test"])
        certs[f"vhost{index}"] = cert
        sni = nginx.add_site(f"vhost{index}", cert=cert, port=sni or None)

    ipv6 = None
    if ipv6_loopback_available():
        ipv6 = nginx.add_site("ipv6", cert=inter.issue(["v6.test", "::1", "127.0.0.1"]), ipv6=True)

    nginx.start()
    return Sites(
        main=main,
        legacy=legacy,
        tls10=tls10,
        sni=sni,
        ipv6=ipv6,
        http=aia_port,
        certs=certs,
        trust=TrustStore.system(pki.root_pem),
    )


def target(name: str, port: int) -> Target:
    """``name`` checked and sent as SNI, connection to 127.0.0.1 (no DNS needed)."""
    return parse_target(f"{name}:{port}{{127.0.0.1}}")


def probe(target: Target, trust: TrustStore, **kwargs: object) -> TLSResult:
    return asyncio.run(probe_tls(target, trust=trust, **kwargs))  # type: ignore[arg-type]


def codes(result: TLSResult) -> list[str]:
    return [problem.value for problem in result.problems]


# -- healthy ----------------------------------------------------------------------------------


@pytest.mark.req("CERT-02")
def test_it_reports_a_healthy_endpoint_as_ok(sites: Sites) -> None:
    result = probe(target("healthy.test", sites.main), sites.trust)
    assert result.ok, result.details
    assert result.problems == [] and result.details == {}
    assert result.verified is True
    assert result.hostname_match is True
    assert result.tls_version == "TLSv1.3"
    assert result.cipher
    assert result.legacy_protocols == []
    assert result.error is None
    assert result.address == "127.0.0.1"
    assert result.certificate is not None and result.certificate.subject_cn == "healthy.test"
    assert result.connect_ms is not None and result.handshake_ms is not None
    assert result.elapsed_ms >= result.handshake_ms


@pytest.mark.req("CERT-02")
def test_it_returns_the_chain_exactly_as_served_leaf_first(sites: Sites, pki: ProbePKI) -> None:
    result = probe(target("healthy.test", sites.main), sites.trust)
    served = [info.fingerprint_sha256 for info in result.chain]
    assert served == [
        sites.certs["healthy"].fingerprint_sha256,  # type: ignore[attr-defined]
        pki.intermediate.cert.fingerprint(hashes.SHA256()).hex(),
    ]
    assert result.certificate == result.chain[0]


@pytest.mark.req("CERT-02")
def test_it_does_not_trust_the_test_root_without_the_extra_anchor(sites: Sites) -> None:
    result = probe(target("healthy.test", sites.main), TrustStore.system())
    assert codes(result) == ["untrusted"]
    assert "Mamori Probe Test Root" in result.details["untrusted"]


@pytest.mark.req("CERT-02")
def test_it_uses_a_targets_own_ca_bundle(sites: Sites, pki: ProbePKI) -> None:
    plain = parse_target(f"healthy.test:{sites.main}{{127.0.0.1}}")
    with_bundle = Target(host=plain.host, port=plain.port, address="127.0.0.1",
                         ca_pem=pki.root_pem)  # fmt: skip
    assert probe(with_bundle, TrustStore.system()).ok


# -- dates ------------------------------------------------------------------------------------


@pytest.mark.req("CERT-02")
def test_it_flags_an_expired_certificate_and_nothing_else(sites: Sites) -> None:
    result = probe(target("expired.test", sites.main), sites.trust)
    assert codes(result) == ["expired"]
    assert result.details["expired"].startswith("certificate expired on ")
    assert "(3 days ago)" in result.details["expired"]
    assert result.verified is True  # trust judged inside the validity period
    assert result.certificate is not None and result.certificate.days_left < -2.9


@pytest.mark.req("CERT-02")
def test_it_flags_a_certificate_expiring_in_five_days(sites: Sites) -> None:
    result = probe(target("soon.test", sites.main), sites.trust)
    assert codes(result) == ["expiring_soon"]
    assert (
        "(in 4 days)" in result.details["expiring_soon"]
        or "(in 5 days)" in result.details["expiring_soon"]
    )


@pytest.mark.req("CERT-02")
def test_it_does_not_call_a_six_day_certificate_expiring_soon_from_birth(sites: Sites) -> None:
    result = probe(target("shortlived.test", sites.main), sites.trust)
    assert result.ok, result.details


@pytest.mark.req("CERT-02")
def test_it_honours_warn_days_within_the_lifetime_cap(sites: Sites) -> None:
    assert probe(target("soon.test", sites.main), sites.trust, warn_days=3).ok
    result = probe(target("healthy.test", sites.main), sites.trust, warn_days=365)
    assert codes(result) == []  # 90 days left > lifetime/3 = 30


@pytest.mark.req("CERT-02")
def test_it_flags_a_certificate_that_is_not_valid_yet(sites: Sites) -> None:
    result = probe(target("future.test", sites.main), sites.trust)
    assert codes(result) == ["not_yet_valid"]
    assert "not valid before" in result.details["not_yet_valid"]


@pytest.mark.req("CERT-02")
def test_it_judges_dates_at_the_given_instant(sites: Sites) -> None:
    cert = sites.certs["healthy"].cert  # type: ignore[attr-defined]
    later = cert.not_valid_after_utc + 2 * DAY
    result = probe(target("healthy.test", sites.main), sites.trust, now=later)
    assert codes(result) == ["expired"]
    assert "(2 days ago)" in result.details["expired"]


# -- trust ------------------------------------------------------------------------------------


@pytest.mark.req("CERT-02")
def test_it_flags_a_self_signed_certificate(sites: Sites) -> None:
    result = probe(target("self.test", sites.main), sites.trust)
    assert codes(result) == ["self_signed"]
    assert result.verified is False
    assert result.certificate is not None and result.certificate.self_signed


@pytest.mark.req("CERT-02")
def test_it_accepts_a_self_signed_certificate_that_is_a_trust_anchor(sites: Sites) -> None:
    pinned = sites.certs["self"].cert_pem.encode()  # type: ignore[attr-defined]
    result = probe(target("self.test", sites.main), sites.trust.with_extra(pinned))
    assert result.ok, result.details


@pytest.mark.req("CERT-02")
def test_it_flags_a_certificate_from_an_unknown_private_root(sites: Sites) -> None:
    result = probe(target("untrusted.test", sites.main), sites.trust)
    assert codes(result) == ["untrusted"]
    assert "Somebody Else's Private Root" in result.details["untrusted"]


@pytest.mark.req("CERT-02")
def test_it_flags_an_untrusted_root_sent_in_the_chain(sites: Sites) -> None:
    result = probe(target("rooted.test", sites.main), sites.trust)
    assert codes(result) == ["untrusted"]
    assert "self-signed root" in result.details["untrusted"]
    assert len(result.chain) == 3


@pytest.mark.req("CERT-02")
def test_it_flags_an_incomplete_chain_completed_from_the_bundle(
    sites: Sites, pki: ProbePKI
) -> None:
    bundle = pki.root_pem + pki.intermediate.cert_pem.encode()
    result = probe(target("incomplete.test", sites.main), TrustStore.system(bundle))
    assert codes(result) == ["incomplete_chain"]
    assert "Mamori Probe Test Issuing CA" in result.details["incomplete_chain"]
    assert "trust bundle" in result.details["incomplete_chain"]
    assert len(result.chain) == 1
    assert result.verified is False


@pytest.mark.req("CERT-02")
def test_it_flags_an_incomplete_chain_completed_over_aia(sites: Sites, pki: ProbePKI) -> None:
    trust = TrustStore.system(pki.root_pem)
    result = probe(target("aia.test", sites.main), trust)
    assert codes(result) == ["incomplete_chain"]
    assert f"http://127.0.0.1:{sites.http}/issuing.der" in result.details["incomplete_chain"]
    # The fetched intermediate is cached by URL: a second probe makes no new request.
    requests = trust.aia.requests
    assert codes(probe(target("aia.test", sites.main), trust)) == ["incomplete_chain"]
    assert trust.aia.requests == requests


@pytest.mark.req("CERT-02")
def test_it_calls_a_chain_untrusted_when_nothing_can_complete_it(sites: Sites) -> None:
    for name in ("incomplete.test", "aia404.test"):
        result = probe(target(name, sites.main), sites.trust)
        assert codes(result) == ["untrusted"], name
        assert "Mamori Probe Test Issuing CA" in result.details["untrusted"]
    no_fetch = probe(target("aia.test", sites.main), sites.trust, fetch_aia=False)
    assert codes(no_fetch) == ["untrusted"]


# -- names ------------------------------------------------------------------------------------


@pytest.mark.req("CERT-02")
def test_it_flags_a_certificate_for_other_names(sites: Sites) -> None:
    result = probe(target("wrongname.test", sites.main), sites.trust)
    assert codes(result) == ["hostname_mismatch"]
    assert result.hostname_match is False
    assert result.details["hostname_mismatch"] == (
        "served for wrongname.test but valid for: a.example.test, b.example.test"
    )


@pytest.mark.req("CERT-02")
def test_it_matches_a_wildcard_for_exactly_one_label(sites: Sites) -> None:
    names = ["a.wild.test", "a.b.wild.test", "wild.test"]
    one, two, bare = asyncio.run(
        probe_many([target(name, sites.main) for name in names], trust=sites.trust)
    )
    assert one.ok, one.details
    assert one.certificate is not None and one.certificate.sans == ["*.wild.test"]
    assert two.certificate is not None and two.certificate.sans == ["*.wild.test"]
    assert codes(two) == ["hostname_mismatch"]
    assert codes(bare) == ["hostname_mismatch"]  # nginx's default site; no name matches


@pytest.mark.req("CERT-02")
def test_it_falls_back_to_the_common_name_only_without_sans(sites: Sites) -> None:
    result = probe(target("cnonly.test", sites.main), sites.trust)
    assert result.hostname_match is True
    assert result.ok, result.details
    other = probe(target("x.cnonly.test", sites.main), sites.trust)
    assert codes(other) == ["hostname_mismatch"]
    assert other.details["hostname_mismatch"].endswith("valid for: CN=cnonly.test")


@pytest.mark.req("CERT-02")
def test_it_serves_the_right_certificate_for_each_sni_name_on_one_port(sites: Sites) -> None:
    names = [f"vhost{index}.test" for index in range(5)]
    results = asyncio.run(
        probe_many([target(name, sites.sni) for name in names], trust=sites.trust)
    )
    assert [r.certificate.subject_cn for r in results if r.certificate] == names
    assert [r.certificate.fingerprint_sha256 for r in results if r.certificate] == [
        sites.certs[f"vhost{index}"].fingerprint_sha256  # type: ignore[attr-defined]
        for index in range(5)
    ]
    assert all(r.ok for r in results)


@pytest.mark.req("CERT-02")
def test_it_checks_an_ip_target_without_sni_against_ip_sans(sites: Sites) -> None:
    if sites.ipv6 is None:
        pytest.skip("no IPv6 loopback in this environment")
    v6 = probe(parse_target(f"[::1]:{sites.ipv6}"), sites.trust)
    assert v6.sni is None and v6.host == "::1"
    assert v6.ok, v6.details
    assert v6.address == "::1"
    v4 = probe(parse_target(f"127.0.0.1:{sites.ipv6}"), sites.trust)
    assert v4.ok, v4.details
    by_name = probe(parse_target(f"[::1]:{sites.ipv6}", sni="v6.test"), sites.trust)
    assert by_name.sni == "v6.test" and by_name.ok


@pytest.mark.req("CERT-02")
def test_it_flags_an_ip_target_the_certificate_does_not_name(sites: Sites) -> None:
    result = probe(parse_target(f"127.0.0.1:{sites.main}"), sites.trust)
    assert codes(result) == ["hostname_mismatch"]
    assert result.details["hostname_mismatch"].startswith("served for 127.0.0.1 (no SNI) but")


# -- strength ---------------------------------------------------------------------------------


@pytest.mark.req("CERT-02")
def test_it_flags_a_1024_bit_rsa_key(sites: Sites) -> None:
    result = probe(target("weakkey.test", sites.main), sites.trust)
    assert codes(result) == ["weak_key"]
    assert result.details["weak_key"] == "leaf: RSA key of 1024 bits (minimum 2048)"


@pytest.mark.req("CERT-02")
def test_it_flags_a_sha1_signature(sites: Sites) -> None:
    result = probe(target("weaksig.test", sites.main), sites.trust)
    assert codes(result) == ["weak_signature"]
    assert result.details["weak_signature"] == "leaf: signed with SHA-1 (ecdsa-with-SHA1)"


# -- protocols --------------------------------------------------------------------------------


@pytest.mark.req("CERT-02")
def test_it_flags_a_server_that_still_accepts_tls_1_0_and_1_1(sites: Sites) -> None:
    result = probe(target("legacy.test", sites.legacy), sites.trust)
    assert result.tls_version == "TLSv1.2"
    assert result.legacy_protocols == ["TLSv1", "TLSv1.1"]
    assert codes(result) == ["protocol_outdated"]
    assert "TLS 1.0, TLS 1.1" in result.details["protocol_outdated"]


@pytest.mark.req("CERT-02")
def test_it_skips_the_legacy_check_when_told(sites: Sites) -> None:
    result = probe(target("legacy.test", sites.legacy), sites.trust, check_legacy_protocols=False)
    assert result.ok and result.legacy_protocols == []


@pytest.mark.req("CERT-02")
def test_it_flags_a_server_that_negotiates_tls_1_0(sites: Sites) -> None:
    for check in (True, False):
        result = probe(target("tls10.test", sites.tls10), sites.trust, check_legacy_protocols=check)
        assert result.tls_version == "TLSv1"
        assert codes(result) == ["protocol_outdated"]
        assert result.legacy_protocols == ["TLSv1"]
        assert "negotiated TLS 1.0" in result.details["protocol_outdated"]


# -- connection problems ----------------------------------------------------------------------


@pytest.mark.req("CERT-02")
def test_it_reports_a_closed_port_as_unreachable(sites: Sites) -> None:
    result = probe(parse_target(f"127.0.0.1:{closed_port()}"), sites.trust)
    assert codes(result) == ["unreachable"]
    assert "refused" in (result.error or "")
    assert result.certificate is None and result.chain == []
    assert result.hostname_match is None and result.tls_version is None


@pytest.mark.req("CERT-02")
def test_it_reports_an_unresolvable_name_as_unreachable(sites: Sites) -> None:
    result = probe(parse_target("no-such-host.invalid"), sites.trust, timeout=5)
    assert codes(result) == ["unreachable"]
    assert "cannot resolve 'no-such-host.invalid'" in (result.error or "")


@pytest.mark.req("CERT-02")
def test_it_reports_plain_http_as_a_tls_error(sites: Sites) -> None:
    result = probe(parse_target(f"127.0.0.1:{sites.http}"), sites.trust)
    assert codes(result) == ["tls_error"]
    assert result.error is not None and "not speaking TLS" in result.error
    assert "HTTP/1.1 400" in result.error


@pytest.mark.req("CERT-02")
def test_it_probes_many_targets_concurrently_in_input_order(sites: Sites) -> None:
    names = ["healthy.test", "expired.test", "self.test", "soon.test"] * 5
    targets = [target(name, sites.main) for name in names]
    targets.insert(3, parse_target(f"127.0.0.1:{closed_port()}"))
    results = asyncio.run(probe_many(targets, trust=sites.trust, concurrency=4))
    assert [r.target for r in results] == [t.label for t in targets]
    assert codes(results[3]) == ["unreachable"]
    assert codes(results[0]) == [] and codes(results[1]) == ["expired"]
    assert set(Problem) >= {p for r in results for p in r.problems}
    assert not CONNECTION_PROBLEMS & set(results[0].problems)


@pytest.mark.req("CERT-02")
def test_it_renders_the_scan_json_object(sites: Sites) -> None:
    data = probe(target("expired.test", sites.main), sites.trust).to_json()
    assert list(data) == [
        "target", "host", "port", "sni", "ok", "problems", "details", "certificate", "chain",
        "tls_version", "elapsed_ms", "error",
    ]  # fmt: skip
    assert data["target"] == f"expired.test:{sites.main}{{127.0.0.1}}"
    assert data["host"] == "expired.test" and data["port"] == sites.main
    assert data["sni"] == "expired.test" and data["ok"] is False
    assert data["problems"] == ["expired"] and list(data["details"]) == ["expired"]
    assert list(data["certificate"]) == [
        "subject", "sans", "issuer", "serial", "not_before", "not_after", "days_left",
        "fingerprint_sha256", "key_type", "key_bits", "signature_algorithm",
    ]  # fmt: skip
    assert data["certificate"]["not_after"].endswith("Z")
    assert [c["subject"] for c in data["chain"]] == [
        "CN=expired.test",
        "CN=Mamori Probe Test Issuing CA,O=Mamori Tests",
    ]
    assert data["error"] is None
