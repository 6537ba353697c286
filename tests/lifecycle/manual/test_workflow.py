"""The commercial-CA order workflow, end to end (CERT-07, CERT-08, CERT-15)."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from cryptography import x509
from django.core.exceptions import ValidationError

from mamori.core.models import AuditEvent
from mamori.lifecycle import keys, manual, orders
from mamori.lifecycle.models import (
    MessageDirection,
    OrderAttachment,
    OrderState,
)
from mamori.vault import services as vault
from tests.lifecycle.manual.conftest import sign_csr

pytestmark = pytest.mark.django_db(databases=["default", "keystore"])

REGISTRY = b"%PDF-1.4 certified copy of the commercial registry of ACME K.K."


@pytest.mark.req("CERT-07")
@pytest.mark.req("CERT-08")
@pytest.mark.req("CERT-15")
def test_a_commercial_ca_order_from_csr_to_accepted_certificate(managed, operator, commercial_ca):
    # Mamori makes the key (in the vault) and the CSR for the order's names.
    order = manual.create_manual_order(managed, actor=operator)
    assert order.state == OrderState.NEW
    assert order.key_secret is not None
    csr = x509.load_pem_x509_csr(manual.csr_pem(order).encode())
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["www.acme.example", "acme.example"]
    assert "PRIVATE KEY" not in manual.csr_pem(order)

    # Application with the registry extract attached, then the CA reviews.
    sent = manual.record_message(
        order,
        direction=MessageDirection.SENT,
        subject="Application with registry extract",
        counterpart="Example Trust validation team",
        actor=operator,
        attachments=[("registry.pdf", "application/pdf", REGISTRY)],
    )
    manual.apply(order, actor=operator, ca_reference="ET-2026-0042")
    order.refresh_from_db()
    assert (order.state, order.ca_reference) == (OrderState.APPLIED, "ET-2026-0042")
    manual.under_review(order, actor=operator)
    assert order.state == OrderState.UNDER_REVIEW

    attachment = sent.attachments.get()
    assert attachment.size == len(REGISTRY)
    assert attachment.sha256 == hashlib.sha256(REGISTRY).hexdigest()
    assert manual.attachment_content(attachment) == REGISTRY
    # Stored encrypted: the row holds no plain text of the document.
    assert REGISTRY not in bytes(attachment.secret.sealed_value)

    # A certificate for another key is refused with the reason; nothing changes.
    stranger_csr = keys.make_csr(keys.generate_key("ec256"), order.names).decode()
    with pytest.raises(orders.CertificateMismatch, match="not for this private key"):
        manual.upload_certificate(order, sign_csr(commercial_ca, stranger_csr), actor=operator)
    order.refresh_from_db()
    assert order.state == OrderState.UNDER_REVIEW and order.certificate is None

    # The one signed from the order's CSR is accepted and becomes the current certificate.
    cert = manual.upload_certificate(
        order, sign_csr(commercial_ca, order.csr_pem, organisation="ACME K.K."), actor=operator
    )
    order.refresh_from_db()
    managed.refresh_from_db()
    assert order.state == OrderState.ISSUED
    assert managed.certificate == cert == order.certificate
    assert order.chain_pem.startswith("-----BEGIN CERTIFICATE-----")

    # The CA's fee, for billing this month.
    manual.record_fee(order, "33000", "jpy", "OV SSL 1 year", actor=operator)
    order.refresh_from_db()
    assert (order.fee_amount, order.fee_currency) == (Decimal("33000.00"), "JPY")
    today = dt.date.today()
    assert list(manual.fees_for_billing(managed.client, today)) == [order]
    assert not manual.fees_for_billing(managed.client, today.replace(year=today.year - 1))

    # Every exchange is on the order's log, in order, and every step is audited.
    subjects = list(order.messages.values_list("subject", flat=True))
    assert subjects[0] == "Application with registry extract"
    assert "Certificate issued" in subjects[-1]
    actions = set(
        AuditEvent.objects.filter(object_id=str(order.pk), actor=operator).values_list(
            "action", flat=True
        )
    )
    assert {"order.create", "order.apply", "order.message", "order.certificate", "order.fee"} <= (
        actions
    )


@pytest.mark.req("CERT-07")
def test_a_rejected_application_destroys_the_submitted_documents(managed, operator):
    order = manual.create_manual_order(managed, actor=operator)
    manual.record_message(
        order,
        direction=MessageDirection.SENT,
        subject="Application",
        actor=operator,
        attachments=[
            ("registry.pdf", "application/pdf", REGISTRY),
            ("seal.png", "image/png", b"\x89PNG company seal"),
        ],
    )
    manual.apply(order, actor=operator)
    manual.reject(order, actor=operator, reason="Organisation could not be verified")

    order.refresh_from_db()
    assert order.state == OrderState.REJECTED
    assert order.documents_destroyed_at is not None
    attachments = list(OrderAttachment.objects.filter(message__order=order))
    assert len(attachments) == 2
    for attachment in attachments:
        assert attachment.destroyed_at is not None
        assert attachment.secret.destroyed_at is not None
        with pytest.raises(vault.SecretDestroyed):
            manual.attachment_content(attachment)
        with pytest.raises(vault.SecretDestroyed):
            vault.decrypt_for_export(attachment.secret)
    note = order.messages.last()
    assert "2 submitted document(s) destroyed" in note.body

    # No more documents on a rejected order; a new order can be placed.
    with pytest.raises(ValidationError):
        manual.record_message(
            order,
            direction=MessageDirection.SENT,
            subject="again",
            actor=operator,
            attachments=[("x.pdf", "application/pdf", b"x")],
        )
    again = manual.create_manual_order(managed, actor=operator)
    assert again.pk != order.pk and again.state == OrderState.NEW


def test_steps_out_of_order_and_bad_input_are_refused_precisely(managed, operator):
    order = manual.create_manual_order(managed, actor=operator)
    with pytest.raises(orders.OrderInFlight):
        manual.create_manual_order(managed, actor=operator)
    with pytest.raises(ValidationError, match="reason"):
        manual.reject(order, actor=operator, reason=" ")
    with pytest.raises(ValidationError):
        manual.record_fee(order, "abc", "JPY", actor=operator)
    with pytest.raises(ValidationError):
        manual.record_fee(order, "100", "YENS", actor=operator)
    with pytest.raises(orders.CertificateMismatch, match="no PEM certificate"):
        manual.upload_certificate(order, "not a certificate", actor=operator)
    manual.reject(order, actor=operator, reason="cancelled by the client")
    with pytest.raises(ValidationError, match="Rejected"):
        manual.apply(order, actor=operator)
