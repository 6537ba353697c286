"""A commercial-CA certificate of acme, and a test CA standing in for the commercial CA."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.utils import timezone

from mamori.demo.pki import CertificateAuthority
from mamori.lifecycle.models import IssuerKind, ManagedCertificate


@pytest.fixture(scope="session")
def commercial_ca() -> CertificateAuthority:
    return CertificateAuthority.create("Commercial Root").intermediate("Commercial OV CA")


@pytest.fixture(autouse=True)
def trusted_commercial_root(commercial_ca, settings, tmp_path):
    """The provider trusts the commercial CA's root (MAMORI_CA_BUNDLE), as it trusts the real
    CAs it orders from: a certificate handed over must chain to it."""
    from mamori.certificates import services

    bundle = tmp_path / "provider-roots.pem"
    bundle.write_bytes(commercial_ca.root.public_bytes(serialization.Encoding.PEM))
    settings.MAMORI_CA_BUNDLE = str(bundle)
    services._base_trust_store.cache_clear()
    yield bundle
    services._base_trust_store.cache_clear()


@pytest.fixture
def managed(acme) -> ManagedCertificate:
    return ManagedCertificate.objects.create(
        client=acme,
        name="www",
        names=["www.acme.example", "acme.example"],
        issuer=IssuerKind.MANUAL,
        ca_name="Example Trust (via Reseller K.K.)",
        product="OV SSL",
    )


def sign_csr(ca: CertificateAuthority, csr_pem: str, *, organisation: str | None = None) -> str:
    """What the commercial CA sends back for ``csr_pem``: leaf then chain (PEM)."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = timezone.now()
    subject = list(csr.subject)
    if organisation:
        subject.append(x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, organisation))
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=199))
        .add_extension(san, critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode() + ca.chain_pem
