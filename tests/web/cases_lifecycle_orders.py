"""Tenancy cases for the order pages (see tests/web/tenancy.py).

These tests have no keystore, so the case order is recorded without a key in the vault (its CSR
is made from a throw-away key) and the writes that need the vault (a new order, an upload that
queues a deployment, a document download) have no ``post`` here: tests/lifecycle/manual covers
them with the keystore.
"""

from __future__ import annotations

import functools

from mamori.clients.models import Client
from mamori.lifecycle import keys
from mamori.lifecycle.models import (
    IssuerKind,
    ManagedCertificate,
    MessageDirection,
    Order,
    OrderAttachment,
    OrderMessage,
    OrderPurpose,
)
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, PAGE, Case

EXEMPT: dict[str, str] = {}

# Provider staff who see acme work its orders at the CA.
STAFF = frozenset({"subcontractor", "operator", "provider_admin"})
NAMES = ["www.acme.example", "acme.example"]


def acme_manual() -> ManagedCertificate:
    acme = Client.objects.get(code="acme")
    managed, _ = ManagedCertificate.objects.get_or_create(
        client=acme,
        name="www-ov",
        defaults={"names": NAMES, "issuer": IssuerKind.MANUAL, "ca_name": "Example Trust"},
    )
    return managed


def acme_order() -> Order:
    """An open commercial-CA order of acme (made on first use)."""
    managed = acme_manual()
    order = Order.objects.filter(managed=managed).first()
    if order is None:
        order = Order.objects.create(
            managed=managed,
            purpose=OrderPurpose.ISSUE,
            issuer=IssuerKind.MANUAL,
            names=NAMES,
            key_type=managed.key_type,
            csr_pem=keys.make_csr(keys.generate_key("ec256"), NAMES).decode(),
        )
    return order


def acme_attachment() -> OrderAttachment:
    order = acme_order()
    message, _ = OrderMessage.objects.get_or_create(
        order=order, subject="Application", defaults={"direction": MessageDirection.SENT}
    )
    attachment, _ = OrderAttachment.objects.get_or_create(
        message=message, filename="registry.pdf", defaults={"size": 1, "sha256": "0" * 64}
    )
    return attachment


def order_rows() -> list[dict]:
    acme_order()
    return [
        *Order.objects.values().order_by("pk"),
        *OrderMessage.objects.values().order_by("pk"),
    ]


def order_kwargs(s) -> dict:
    return {"pk": acme_order().pk}


CASES: dict[str, Case] = {
    "order_detail": Case(PAGE, order_kwargs, readers=ACME_PEOPLE),
    # A download (POST from a button on the order page), not a page of the app.
    "order_csr": Case(ACTION, order_kwargs, readers=ACME_PEOPLE, writers=ACME_PEOPLE),
    "order_step": Case(
        ACTION,
        order_kwargs,
        post=lambda s: {"step": "apply", "ca_reference": "ET-1"},
        writers=STAFF,
        snapshot=order_rows,
    ),
    "order_upload": Case(FORM, order_kwargs, writers=STAFF, snapshot=order_rows),
    "order_message": Case(
        FORM,
        order_kwargs,
        post=lambda s: {"direction": "received", "subject": "Documents received"},
        writers=STAFF,
        snapshot=order_rows,
    ),
    "order_fee": Case(
        ACTION,
        order_kwargs,
        post=lambda s: {"amount": "33000", "currency": "JPY", "note": "OV 1 year"},
        writers=STAFF,
        snapshot=order_rows,
    ),
    "order_new": Case(ACTION, lambda s: {"pk": acme_manual().pk}, writers=STAFF),
    "order_attachment": Case(ACTION, lambda s: {"pk": acme_attachment().pk}, writers=STAFF),
}


@functools.cache
def commercial_ca():
    """The commercial CA of acme's orders; the scene trusts its root."""
    from mamori.demo.pki import CertificateAuthority

    return CertificateAuthority.create("Commercial Root").intermediate("Commercial CA")


def issued_for_acme_order() -> str:
    """What a CA would issue for :func:`acme_order`'s CSR: leaf and chain, PEM."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from django.utils import timezone

    ca = commercial_ca()
    csr = x509.load_pem_x509_csr(acme_order().csr_pem.encode())
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(
            csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value,
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode() + ca.chain_pem
