"""Managed certificates with a real current certificate: issued through a recorded order (a
commercial CA's, completed with a certificate the test CA signs for the order's CSR), so the
renewal code sees exactly what production would.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.utils import timezone

from mamori.demo.pki import CertificateAuthority
from mamori.lifecycle import approvals, orders
from mamori.lifecycle.models import IssuerKind, ManagedCertificate

pytestmark = pytest.mark.django_db(databases=["default", "keystore"])


@pytest.fixture(scope="session")
def renewal_ca() -> CertificateAuthority:
    return CertificateAuthority.create("Renewal Test CA")


def sign_order(
    ca: CertificateAuthority, order, *, not_before: dt.datetime, not_after: dt.datetime
) -> str:
    """What the CA returns for ``order``: a certificate for its CSR's key and names, and the
    chain (PEM)."""
    csr = x509.load_pem_x509_csr(order.csr_pem.encode())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, order.names[0])]))
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in order.names]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode() + ca.cert.public_bytes(Encoding.PEM).decode()


def give_certificate(
    managed: ManagedCertificate,
    ca: CertificateAuthority,
    *,
    lifetime_days: float,
    age_days: float = 0,
    now: dt.datetime | None = None,
):
    """Receive a certificate of ``lifetime_days`` issued ``age_days`` ago, for the open order
    (one is made if there is none: for a renewal, with the client's yes recorded first when
    their instruction is to be asked)."""
    now = now or timezone.now()
    order = orders.open_order(managed)
    if order is None:
        approval = None
        if managed.certificate_id and managed.effective_instruction() == "approval":
            approval = approvals.record_approval(
                managed, actor=None, given_by="Yamada (by phone)", channel="phone", at=now
            )
        order = orders.create_order(managed, now=now, approval=approval)
    not_before = now - dt.timedelta(days=age_days)
    not_after = not_before + dt.timedelta(days=lifetime_days)
    pem = sign_order(ca, order, not_before=not_before, not_after=not_after)
    cert = orders.complete_order(order, pem, now=now)
    managed.refresh_from_db()
    return cert


@pytest.fixture
def make_managed(acme, renewal_ca):
    """A managed certificate of acme (a commercial CA's unless told), with a current certificate
    of the given lifetime and age."""
    count = 0

    def make(
        *,
        lifetime_days: float = 90,
        age_days: float = 0,
        instruction: str = "",
        issuer: str = IssuerKind.MANUAL,
        client=None,
        names=None,
    ) -> ManagedCertificate:
        nonlocal count
        count += 1
        managed = ManagedCertificate.objects.create(
            client=client or acme,
            name=f"cert{count}",
            names=names or [f"www{count}.acme.example"],
            issuer=issuer,
            ca_name="Example Trust",
            renewal_instruction=instruction,
        )
        give_certificate(managed, renewal_ca, lifetime_days=lifetime_days, age_days=age_days)
        return managed

    return make
