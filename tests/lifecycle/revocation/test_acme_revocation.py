"""Revocation through ACME, end to end against a real Pebble (CERT-10): the revocation is
recorded, sent with the account's key, Pebble's management API reports the certificate revoked,
and the replacement is ordered and issued by the background pass."""

from __future__ import annotations

import pytest
from cryptography import x509

from mamori.lifecycle import acme as engine
from mamori.lifecycle import orders, revocation
from mamori.lifecycle.models import (
    Failure,
    FailureKind,
    OrderPurpose,
    OrderState,
    RevocationReason,
    RevocationState,
    Task,
    TaskKind,
)

# The ACME tests' account and managed-certificate factories; pytest finds them here.
from tests.lifecycle.acme.conftest import acme_account, make_managed  # noqa: F401

pytestmark = [pytest.mark.req("CERT-10"), pytest.mark.django_db(databases=["default", "keystore"])]


def issue(managed):
    order = engine.drive_order(orders.create_order(managed).pk)
    assert order.state == OrderState.ISSUED, (order.error_type, order.error_detail)
    managed.refresh_from_db()
    return managed.certificate


def serial_of(certificate) -> int:
    return x509.load_pem_x509_certificate(certificate.pem.encode()).serial_number


def test_revoke_via_acme_then_reissue(make_managed, pebble, owner):  # noqa: F811
    managed = make_managed()
    cert = issue(managed)
    assert pebble.cert_status(serial_of(cert))["Status"] == "Valid"

    rev = revocation.request_revocation(
        cert,
        reason=RevocationReason.SUPERSEDED,
        requested_by="Jane Smith (client administrator)",
        requested_at=None,
        actor=owner,
    )
    assert (rev.state, rev.method) == (RevocationState.DONE, "acme")
    assert rev.done_at is not None
    assert pebble.cert_status(serial_of(cert))["Status"] == "Revoked"

    # The replacement: ordered at once, driven by the background pass, followed by a task.
    order = managed.orders.open().get()
    assert order.purpose == OrderPurpose.REISSUE
    assert Task.objects.filter(kind=TaskKind.REISSUE, managed=managed).count() == 1
    assert engine.drive_order(order.pk).state == OrderState.ISSUED
    managed.refresh_from_db()
    assert managed.certificate != cert


def test_a_refused_acme_revocation_is_a_failure(make_managed, pebble, owner):  # noqa: F811
    managed = make_managed()
    cert = issue(managed)
    # Revoked once behind Mamori's back: the CA refuses the second revocation.
    engine.revoke_certificate(managed.acme_account, cert.pem, 0)
    rev = revocation.request_revocation(
        cert, reason=0, requested_by="ops", actor=owner, reissue=False
    )
    assert rev.state == RevocationState.FAILED
    assert "alreadyRevoked" in rev.error or "already" in rev.error.lower()
    failure = Failure.objects.open().get(kind=FailureKind.REVOCATION)
    assert failure.subject == f"revocation:{rev.pk}"
