"""CertInfo: the certificate facts of the inventory (CERT-01), name matching and strength rules."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mamori.demo.pki import CertificateAuthority, self_signed
from mamori.probe import CertInfo, hostname_matches
from mamori.probe.x509info import iso_utc, weak_key_reason, weak_signature_reason

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return CertificateAuthority.create("Mamori Fields Root")


@pytest.fixture(scope="module")
def inter(root: CertificateAuthority) -> CertificateAuthority:
    return root.intermediate("Mamori Fields Issuing CA")


@pytest.mark.req("CERT-01")
def test_it_decodes_every_inventory_field(inter: CertificateAuthority) -> None:
    issued = inter.issue(
        ["www.example.jp", "example.jp", "192.0.2.10", "2001:db8::10"],
        not_before=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2026, 7, 30, tzinfo=dt.UTC),
        ocsp_url="http://ocsp.example.test",
        aia_url="http://ca.example.test/issuing.der",
        crl_url="http://crl.example.test/issuing.crl",
    )
    info = CertInfo.from_der(issued.der, now=NOW)
    assert info.subject == "CN=www.example.jp"
    assert info.subject_cn == "www.example.jp"
    assert info.sans == ["www.example.jp", "example.jp", "192.0.2.10", "2001:db8::10"]
    assert info.dns_names == ["www.example.jp", "example.jp"]
    assert info.ip_addresses == ["192.0.2.10", "2001:db8::10"]
    assert info.issuer == "CN=Mamori Fields Issuing CA,O=Mamori Tests"
    assert info.issuer_cn == "Mamori Fields Issuing CA"
    assert info.serial == format(issued.cert.serial_number, "X")
    assert info.serial == info.serial.upper() and ":" not in info.serial
    assert info.not_before == dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    assert info.not_after == dt.datetime(2026, 7, 30, tzinfo=dt.UTC)
    assert info.not_after.tzinfo is not None
    assert info.days_left == pytest.approx(58.5)
    assert info.lifetime_days == pytest.approx(90)
    assert info.fingerprint_sha256 == issued.fingerprint_sha256
    assert len(info.fingerprint_sha256) == 64 and info.fingerprint_sha256.islower()
    assert (info.key_type, info.key_bits) == ("EC", 256)
    assert info.signature_algorithm == "ecdsa-with-SHA256"
    assert info.is_ca is False and info.self_signed is False
    assert info.ocsp_urls == ["http://ocsp.example.test"]
    assert info.ca_issuer_urls == ["http://ca.example.test/issuing.der"]
    assert info.crl_urls == ["http://crl.example.test/issuing.crl"]
    assert info.der == issued.der
    assert info.pem == issued.cert_pem
    assert CertInfo.from_pem(info.pem, now=NOW) == info


@pytest.mark.req("CERT-01")
@pytest.mark.parametrize(
    ("key_type", "key_bits", "expected_type", "expected_bits", "signature"),
    [
        ("ec", 384, "EC", 384, "ecdsa-with-SHA256"),
        ("rsa", 2048, "RSA", 2048, "ecdsa-with-SHA256"),
        ("ed25519", None, "Ed25519", 256, "ecdsa-with-SHA256"),
    ],
)
def test_it_reports_key_type_and_size(
    inter, key_type, key_bits, expected_type, expected_bits, signature
) -> None:
    info = CertInfo.from_der(inter.issue(["k.test"], key_type=key_type, key_bits=key_bits).der)
    assert (info.key_type, info.key_bits) == (expected_type, expected_bits)
    assert info.signature_algorithm == signature  # the issuer's key signs


@pytest.mark.req("CERT-01")
def test_it_names_rsa_and_legacy_signature_algorithms() -> None:
    rsa_root = CertificateAuthority.create("RSA Root", key_type="rsa")
    sha256 = CertInfo.from_der(rsa_root.issue(["r.test"]).der)
    sha1 = CertInfo.from_der(rsa_root.issue(["r.test"], hash_alg=hashes.SHA1()).der)
    md5 = CertInfo.from_der(rsa_root.issue(["r.test"], hash_alg=hashes.MD5()).der)
    assert sha256.signature_algorithm == "sha256WithRSAEncryption"
    assert sha1.signature_algorithm == "sha1WithRSAEncryption"
    assert md5.signature_algorithm == "md5WithRSAEncryption"
    assert weak_signature_reason(sha256) is None
    assert weak_signature_reason(sha1) == "signed with SHA-1 (sha1WithRSAEncryption)"
    assert weak_signature_reason(md5) == "signed with MD5 (md5WithRSAEncryption)"


@pytest.mark.req("CERT-01")
def test_it_recognises_ca_and_self_signed_certificates(root, inter) -> None:
    root_info = CertInfo.from_der(root.der)
    assert root_info.is_ca and root_info.self_signed
    inter_info = CertInfo.from_der(inter.der)
    assert inter_info.is_ca and not inter_info.self_signed
    sha1_self = CertInfo.from_der(self_signed(["s.test"], hash_alg=hashes.SHA1()).der)
    assert sha1_self.self_signed and not sha1_self.is_ca


def test_it_recomputes_days_left_for_each_instant(inter) -> None:
    der = inter.issue(["d.test"], not_before=NOW, not_after=NOW + dt.timedelta(days=10)).der
    assert CertInfo.from_der(der, now=NOW).days_left == pytest.approx(10)
    assert CertInfo.from_der(der, now=NOW + dt.timedelta(days=12)).days_left == pytest.approx(-2)


@pytest.mark.req("CERT-01")
def test_it_renders_the_json_certificate_object(inter) -> None:
    info = CertInfo.from_der(inter.issue(["j.test"]).der, now=NOW)
    data = info.to_json()
    assert set(data) == {
        "subject", "sans", "issuer", "serial", "not_before", "not_after", "days_left",
        "fingerprint_sha256", "key_type", "key_bits", "signature_algorithm",
    }  # fmt: skip
    assert data["not_after"] == iso_utc(info.not_after) and data["not_after"].endswith("Z")
    assert "der" not in info.to_dict() and info.to_dict()["pem"] == info.pem


def test_it_refuses_bytes_that_are_not_a_certificate() -> None:
    with pytest.raises(ValueError):
        CertInfo.from_der(b"\x30\x03\x02\x01\x01")


# -- RFC 6125 name matching ---------------------------------------------------------------------


def info_for(names: list[str], *, cn: str | None = None, san: bool = True) -> CertInfo:
    ca = CertificateAuthority.create("Names Root")
    return CertInfo.from_der(ca.issue(names, common_name=cn, san=san).der)


@pytest.mark.parametrize(
    ("names", "reference", "expected"),
    [
        (["www.example.jp"], "www.example.jp", True),
        (["WWW.Example.JP"], "www.example.jp", True),
        (["www.example.jp"], "www.example.jp.", True),
        (["www.example.jp"], "example.jp", False),
        (["*.example.jp"], "www.example.jp", True),
        (["*.example.jp"], "a.b.example.jp", False),  # one label only
        (["*.example.jp"], "example.jp", False),
        (["*.jp"], "example.jp", False),  # too broad to honour
        (["w*.example.jp"], "www.example.jp", False),  # partial-label wildcard
        (["www.*.example.jp"], "www.a.example.jp", False),  # not left-most
        (["192.0.2.10"], "192.0.2.10", True),
        (["192.0.2.10"], "192.0.2.11", False),
        (["2001:db8::10"], "2001:DB8:0::10", True),
        (["www.example.jp"], "192.0.2.10", False),
        (["192.0.2.10"], "www.example.jp", False),
        (["xn--bcher-kva.example"], "xn--bcher-kva.example", True),
    ],
)
def test_it_matches_names_by_rfc_6125(names: list[str], reference: str, expected: bool) -> None:
    assert hostname_matches(info_for(names), reference) is expected


def test_it_ignores_the_common_name_when_sans_exist() -> None:
    info = info_for(["other.example.jp"], cn="www.example.jp")
    assert not hostname_matches(info, "www.example.jp")


def test_it_falls_back_to_the_common_name_without_sans() -> None:
    info = info_for([], cn="www.example.jp", san=False)
    assert info.sans == [] and not info.has_san
    assert hostname_matches(info, "www.example.jp")
    assert not hostname_matches(info, "example.jp")


# -- strength -----------------------------------------------------------------------------------


def test_it_flags_short_keys_only() -> None:
    rsa_root = CertificateAuthority.create("Strength Root")
    weak = CertInfo.from_der(rsa_root.issue(["w.test"], key_type="rsa", key_bits=1024).der)
    strong = CertInfo.from_der(rsa_root.issue(["s.test"], key_type="rsa", key_bits=2048).der)
    ec = CertInfo.from_der(rsa_root.issue(["e.test"]).der)
    assert weak_key_reason(weak) == "RSA key of 1024 bits (minimum 2048)"
    assert weak_key_reason(strong) is None
    assert weak_key_reason(ec) is None


def test_it_keeps_certificates_from_cryptography_available() -> None:
    info = info_for(["c.test"])
    assert isinstance(info.cert, x509.Certificate)
