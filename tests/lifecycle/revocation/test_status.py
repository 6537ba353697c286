"""Revocation status of served certificates by OCSP and CRL, against a real responder (CERT-11)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from mamori.lifecycle import status
from mamori.lifecycle.models import (
    Failure,
    FailureKind,
    RevocationStatus,
    RevocationStatusValue,
    Task,
    TaskKind,
)
from mamori.notices.models import Notice, NoticeKind
from tests.lifecycle.revocation.conftest import serve_on

pytestmark = [pytest.mark.req("CERT-11"), pytest.mark.django_db]


def due_again() -> None:
    """Time passes until the next check is due (the responder's answers are dated now)."""
    RevocationStatus.objects.update(next_check_at=timezone.now() - dt.timedelta(seconds=1))


def row_of(endpoint) -> RevocationStatus:
    return RevocationStatus.objects.get(certificate=endpoint.current_certificate)


def revoked_notices():
    return Notice.objects.filter(kind=NoticeKind.CERT_REVOKED)


def test_ocsp_good_then_revoked_alerts_once_and_opens_a_task(acme, operator, revocation_server):
    issued = revocation_server.issue(["www.acme.example"])
    endpoint = serve_on(acme, "www.acme.example", issued)

    assert status.check_due() == 1
    row = row_of(endpoint)
    assert (row.status, row.source, row.error) == (RevocationStatusValue.GOOD, "ocsp", "")
    assert row.next_check_at > timezone.now() + dt.timedelta(hours=11)
    assert revocation_server.requests == ["POST /ocsp"]  # OCSP first, no CRL download
    assert status.check_due() == 0  # not due again yet

    revocation_server.revoke(issued)
    due_again()
    assert status.check_due() == 1
    row = row_of(endpoint)
    assert row.status == RevocationStatusValue.REVOKED
    assert row.reason == "key_compromise" and row.revoked_at is not None
    recipients = sorted(revoked_notices().values_list("recipient", flat=True))
    # The client's certificate contacts and the operators.
    assert {"yamada@acme.example", "jane@acme.example", operator.email} <= set(recipients)
    assert "keiri@acme.example" not in recipients
    ja = revoked_notices().get(recipient="yamada@acme.example")
    assert "失効" in ja.subject and "www.acme.example" in ja.body_text
    task = Task.objects.get(kind=TaskKind.REISSUE, certificate=endpoint.current_certificate)
    assert task.client == acme

    # Still revoked at the next check: no second alert, no second task.
    count = revoked_notices().count()
    due_again()
    assert status.check_due() == 1
    assert revoked_notices().count() == count
    assert Task.objects.filter(kind=TaskKind.REISSUE).count() == 1


def test_crl_when_there_is_no_responder(acme, revocation_server):
    good = revocation_server.issue(["a.acme.example"], ocsp_url=False)
    bad = revocation_server.issue(["b.acme.example"], ocsp_url=False)
    good_endpoint = serve_on(acme, "a.acme.example", good)
    bad_endpoint = serve_on(acme, "b.acme.example", bad)
    revocation_server.revoke(bad)

    assert status.check_due() == 2
    assert row_of(good_endpoint).status == RevocationStatusValue.GOOD
    assert row_of(bad_endpoint).status == RevocationStatusValue.REVOKED
    assert row_of(bad_endpoint).source == "crl"
    assert revocation_server.requests == ["GET /crl"]  # one download per URL per pass
    assert revoked_notices().filter(certificate=bad_endpoint.current_certificate).exists()
    assert not revoked_notices().filter(certificate=good_endpoint.current_certificate).exists()


def test_the_crl_answers_when_the_responder_cannot(acme, revocation_server):
    issued = revocation_server.issue(["www.acme.example"])
    endpoint = serve_on(acme, "www.acme.example", issued)
    revocation_server.revoke(issued)
    revocation_server.mode = "ocsp_down"
    status.check_due()
    row = row_of(endpoint)
    assert (row.status, row.source) == (RevocationStatusValue.REVOKED, "crl")
    assert revocation_server.requests == ["POST /ocsp", "GET /crl"]
    assert not open_check_failures().exists()


def open_check_failures():
    return Failure.objects.open().filter(kind=FailureKind.REVOCATION_CHECK)


def failure_alerts():
    return Notice.objects.filter(kind=NoticeKind.LIFECYCLE_FAILURE)


def test_a_responder_that_is_down_is_one_failure_until_a_good_check(
    acme, operator, revocation_server
):
    issued = revocation_server.issue(["www.acme.example"])
    endpoint = serve_on(acme, "www.acme.example", issued)
    revocation_server.stop()

    assert status.check_due() == 1
    failure = open_check_failures().get()
    assert "could not be reached" in failure.message and "/ocsp" in failure.message
    assert row_of(endpoint).status == RevocationStatusValue.UNKNOWN
    alerts = failure_alerts().count()
    assert alerts >= 1

    due_again()
    assert status.check_due() == 1  # retried after an hour, still down
    assert open_check_failures().get().count == 2
    assert failure_alerts().count() == alerts  # alerted once


def test_garbage_from_the_responder_is_a_precise_failure_resolved_by_a_good_check(
    acme, revocation_server
):
    issued = revocation_server.issue(["www.acme.example"])
    endpoint = serve_on(acme, "www.acme.example", issued)
    revocation_server.mode = "garbage"

    status.check_due()
    failure = open_check_failures().get()
    assert "not an OCSP response" in failure.message
    assert row_of(endpoint).error == failure.message.split(": ", 1)[1]

    revocation_server.mode = "normal"
    due_again()
    status.check_due()
    assert not open_check_failures().exists()
    assert Failure.objects.get(pk=failure.pk).resolved_at is not None
    assert row_of(endpoint).status == RevocationStatusValue.GOOD


def test_a_malformed_or_forged_crl_is_refused(acme, revocation_server):
    from mamori.demo.pki import CertificateAuthority

    issued = revocation_server.issue(["www.acme.example"], ocsp_url=False)
    endpoint = serve_on(acme, "www.acme.example", issued)

    revocation_server.mode = "garbage"
    status.check_due()
    assert "not a CRL" in open_check_failures().get().message

    # A CRL with the right issuer name but signed by another key.
    revocation_server.mode = "normal"
    revocation_server.crl_signer = CertificateAuthority.create("Impostor")
    due_again()
    status.check_due()
    assert "invalid signature" in open_check_failures().get().message
    assert row_of(endpoint).status == RevocationStatusValue.UNKNOWN


def test_expired_and_unserved_certificates_are_not_checked(acme, revocation_server):
    issued = revocation_server.issue(["www.acme.example"])
    endpoint = serve_on(acme, "www.acme.example", issued)
    cert = endpoint.current_certificate
    cert.not_after = timezone.now() - dt.timedelta(days=1)
    cert.save(update_fields=["not_after"])
    assert status.check_due() == 0
    assert revocation_server.requests == []
