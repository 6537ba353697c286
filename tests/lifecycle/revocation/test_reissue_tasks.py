"""Revocation at a commercial CA, revoke-and-re-issue tasks after a change of the client's
particulars or a key compromise, tasks waiting for the client, and site seals (CERT-10, CERT-12,
CERT-13, CT-09, CT-10)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.utils import timezone

from mamori.demo.pki import CertificateAuthority, IssuedCert, new_key
from mamori.inventory.models import Site
from mamori.lifecycle import changes, revocation, seals, tasks
from mamori.lifecycle.models import (
    Awaiting,
    ClientChangeField,
    Failure,
    FailureKind,
    IssuerKind,
    KeyPolicy,
    ManagedCertificate,
    OrderPurpose,
    OrderState,
    RevocationReason,
    RevocationState,
    SiteSeal,
    Task,
    TaskKind,
    TaskState,
)
from mamori.notices.models import Notice, NoticeKind
from tests.lifecycle.revocation.conftest import serve_on
from tests.support.env import require_binary
from tests.support.nginx import Nginx

KEYSTORE = pytest.mark.django_db(databases=["default", "keystore"])


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create().intermediate("Test OV CA")


def ov_certificate(ca, names, organisation: str, *, days: float = 200) -> IssuedCert:
    """An OV certificate: the subject names the organisation and its locality."""
    key = new_key()
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.LOCALITY_NAME, "Chiyoda-ku"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                ]
            )
        )
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return IssuedCert(cert=cert, key=key, chain=[ca.cert])


@pytest.mark.req("CERT-12")
@pytest.mark.req("CT-10")
@pytest.mark.django_db
def test_a_new_legal_name_opens_tasks_for_ov_certificates_only(acme, operator, ca):
    ov = serve_on(acme, "www.acme.example", ov_certificate(ca, ["www.acme.example"], "ACME K.K."))
    dv = serve_on(acme, "blog.acme.example", ca.issue(["blog.acme.example"]))

    change = changes.record_client_change(
        acme,
        ClientChangeField.NAME,
        "株式会社アクメホールディングス",
        dt.date(2026, 12, 1),
        actor=operator,
    )
    acme.refresh_from_db()
    assert acme.name == "株式会社アクメホールディングス"
    assert change.old_value == "株式会社アクメ"
    opened = Task.objects.filter(kind=TaskKind.REISSUE)
    assert [t.certificate for t in opened] == [ov.current_certificate]
    assert dv.current_certificate not in [t.certificate for t in opened]
    assert "ACME K.K." in opened.get().description
    # Operators are told once.
    assert Notice.objects.filter(kind=NoticeKind.TASK_OPENED, recipient=operator.email).count() == 1

    # A new representative changes nothing a certificate says.
    changes.record_client_change(
        acme, ClientChangeField.REPRESENTATIVE, "鈴木一郎", dt.date(2026, 12, 1), actor=operator
    )
    assert Task.objects.count() == 1
    with pytest.raises(ValidationError):
        changes.record_client_change(acme, "colour", "blue", dt.date(2026, 12, 1), actor=operator)


@pytest.mark.req("CT-09")
@pytest.mark.django_db
def test_a_task_waits_for_the_client_and_is_closed(acme, operator):
    task, created = tasks.open_task(acme, TaskKind.OTHER, "test:1", "Collect the documents")
    again, created_again = tasks.open_task(acme, TaskKind.OTHER, "test:1", "Collect the documents")
    assert created and not created_again and again == task

    tasks.set_waiting(task, Awaiting.INFORMATION, "Certified registry extract", actor=operator)
    task.refresh_from_db()
    assert task.is_waiting and task.awaiting_since is not None
    with pytest.raises(ValidationError):
        tasks.set_waiting(task, "", "x", actor=operator)
    tasks.resume(task, actor=operator)
    task.refresh_from_db()
    assert not task.is_waiting
    tasks.close_task(task, actor=operator, resolution="Received and filed")
    task.refresh_from_db()
    assert (task.state, task.closed_by) == (TaskState.DONE, operator)
    with pytest.raises(ValidationError, match="closed"):
        tasks.close_task(task, actor=operator, resolution="again")


@pytest.fixture
def manual_managed(acme, ca):
    issued = ov_certificate(ca, ["shop.acme.example"], "ACME K.K.")
    endpoint = serve_on(acme, "shop.acme.example", issued)
    return ManagedCertificate.objects.create(
        client=acme,
        name="shop",
        names=["shop.acme.example"],
        issuer=IssuerKind.MANUAL,
        key_policy=KeyPolicy.REUSE,
        certificate=endpoint.current_certificate,
    )


@pytest.mark.req("CERT-10")
@KEYSTORE
def test_a_commercial_ca_revocation_is_recorded_then_marked_and_reissued(
    manual_managed, owner, operator
):
    cert = manual_managed.certificate
    rev = revocation.request_revocation(
        cert,
        reason=RevocationReason.KEY_COMPROMISE,
        requested_by="山田太郎 (phone)",
        requested_at=timezone.now(),
        actor=owner,
    )
    assert (rev.state, rev.method, rev.managed) == (
        RevocationState.PENDING,
        IssuerKind.MANUAL,
        manual_managed,
    )
    # The replacement is ordered (a new key, even under "reuse": the old one is compromised)
    # and followed up by a task.
    order = manual_managed.orders.get()
    assert (order.purpose, order.state) == (OrderPurpose.REISSUE, OrderState.NEW)
    task = Task.objects.get(kind=TaskKind.REISSUE, managed=manual_managed)
    assert f"#{order.pk}" in task.description
    with pytest.raises(revocation.AlreadyRevoked):
        revocation.request_revocation(
            cert, reason=0, requested_by="again", requested_at=None, actor=owner
        )
    with pytest.raises(ValidationError, match="reason"):
        revocation.request_revocation(cert, reason=2, requested_by="x", actor=owner)

    revocation.mark_revoked(rev, ca_reference="REV-7", actor=operator)
    rev.refresh_from_db()
    assert (rev.state, rev.ca_reference) == (RevocationState.DONE, "REV-7")
    assert rev.done_at is not None


@pytest.mark.req("CERT-12")
@KEYSTORE
def test_a_key_compromise_opens_one_revoke_and_reissue_task(manual_managed, operator):
    task = revocation.report_key_compromise(
        manual_managed, reported_by="Security team", actor=operator
    )
    again = revocation.report_key_compromise(manual_managed, reported_by="again", actor=operator)
    assert task == again and task.kind == TaskKind.REISSUE
    assert task.certificate == manual_managed.certificate
    assert "Security team" in task.description


@pytest.mark.req("CERT-13")
@pytest.mark.django_db
def test_a_seal_left_on_the_page_keeps_a_task_open_until_it_is_removed(acme, tmp_path, ca):
    require_binary("nginx", "/usr/sbin/nginx")
    page = (
        b'<html><body><script src="https://seal.example-trust.test/seal.js"></script></body></html>'
    )
    site = Site.objects.create(client=acme, name="Corporate", url="https://www.acme.example/")
    expired = ca.issue(
        ["www.acme.example"],
        not_before=timezone.now() - dt.timedelta(days=100),
        not_after=timezone.now() - dt.timedelta(days=1),
    )
    endpoint = serve_on(acme, "www.acme.example", expired, site=site)
    server = Nginx(tmp_path / "nginx")
    port = server.add_files("site", {"/index.html": page})
    server.start()
    try:
        seal = SiteSeal.objects.create(
            site=site,
            ca_name="Example Trust",
            page_url=f"http://127.0.0.1:{port}/index.html",
            marker="seal.example-trust.test/seal.js",
        )
        assert seals.check_due() == 1
        task = Task.objects.get(kind=TaskKind.SEAL)
        assert (task.state, task.site, task.certificate) == (
            TaskState.OPEN,
            site,
            endpoint.current_certificate,
        )
        seal.refresh_from_db()
        assert seal.last_present is True

        # Still there at the next check: the same task, not a second one.
        SiteSeal.objects.update(next_check_at=timezone.now())
        seals.check_due()
        assert Task.objects.filter(kind=TaskKind.SEAL).count() == 1

        # Taken down: the task closes itself.
        (server.prefix / "http" / "site" / "index.html").write_bytes(b"<html>new</html>")
        SiteSeal.objects.update(next_check_at=timezone.now())
        seals.check_due()
        task.refresh_from_db()
        assert task.state == TaskState.DONE and "no longer" in task.resolution
        seal.refresh_from_db()
        assert seal.last_present is False

        # Put back: the same task opens again.
        (server.prefix / "http" / "site" / "index.html").write_bytes(page)
        SiteSeal.objects.update(next_check_at=timezone.now())
        seals.check_due()
        task.refresh_from_db()
        assert task.state == TaskState.OPEN and "again" in task.description

        # A page that cannot be fetched is one failure.
        seal.page_url = f"http://127.0.0.1:{port}/missing.html"
        seal.next_check_at = timezone.now()
        seal.save()
        seals.check_due()
        failure = Failure.objects.open().get(kind=FailureKind.SEAL_CHECK)
        assert "HTTP 404" in failure.message
    finally:
        server.stop()


@pytest.mark.req("CERT-13")
@pytest.mark.django_db
def test_a_seal_of_a_valid_certificate_is_not_fetched(acme, ca):
    site = Site.objects.create(client=acme, name="Corporate", url="https://www.acme.example/")
    serve_on(acme, "www.acme.example", ca.issue(["www.acme.example"]), site=site)
    SiteSeal.objects.create(
        site=site, ca_name="X", page_url="http://127.0.0.1:9/never", marker="seal"
    )
    assert seals.check_due() == 1
    assert not Failure.objects.exists() and not Task.objects.exists()
