"""``mamori cert``: exit 0 when done, 1 when refused or failed, 2 when called wrongly; one clear
line, never a traceback (CERT-04, CERT-05)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from mamori.lifecycle.models import (
    Approval,
    ApprovalState,
    IssuerKind,
    ManagedCertificate,
    OrderPurpose,
    OrderState,
)

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"]), pytest.mark.req("CERT-04")]


def run(*args: str) -> str:
    out = StringIO()
    with translation.override("en"):  # the run's language; these tests read English
        call_command("cert", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def refused(*args: str) -> CommandError:
    with pytest.raises(CommandError) as raised:
        run(*args)
    return raised.value


def test_list_and_status(make_managed, operator):
    managed = make_managed(age_days=61)
    label = f"acme/{managed.name}"
    assert label in run("list")
    assert label in run("list", "--client", "acme")
    status = run("status", label)
    assert f"{label}: " in status and "Instruction: approval" in status
    assert managed.certificate.serial in status


def test_renew_needs_the_clients_yes_under_approval(make_managed, operator):
    managed = make_managed(age_days=61)
    label = f"acme/{managed.name}"
    error = refused("renew", label)
    assert error.returncode == 1
    assert "only with the client's approval" in str(error)
    assert not managed.orders.filter(purpose=OrderPurpose.RENEW).exists()

    at = (timezone.now() - dt.timedelta(hours=3)).isoformat()
    out = run(
        "approve", label, "--given-by", "山田太郎", "--channel", "phone", "--at", at,
        "--note", "電話にて承認", "--user", operator.username,
    )  # fmt: skip
    assert "山田太郎" in out
    approval = Approval.objects.get(managed=managed)
    assert approval.state == ApprovalState.APPROVED and approval.decided_by == operator
    assert abs((approval.decided_at - dt.datetime.fromisoformat(at)).total_seconds()) < 1

    out = run("renew", label)
    order = managed.orders.get(purpose=OrderPurpose.RENEW)
    assert f"Order #{order.pk}" in out and "commercial CA" in out
    assert order.state == OrderState.NEW and order.approval == approval
    error = refused("renew", label)
    assert error.returncode == 1 and "already open" in str(error)


def test_issue_orders_a_first_certificate(acme):
    managed = ManagedCertificate.objects.create(
        client=acme, name="new", names=["new.acme.example"], issuer=IssuerKind.MANUAL
    )
    out = run("issue", "acme/new")
    order = managed.orders.get()
    assert order.purpose == OrderPurpose.ISSUE and f"Order #{order.pk}" in out


def test_hold_and_release(make_managed, operator):
    managed = make_managed(age_days=61, instruction="standing")
    label = f"acme/{managed.name}"
    out = run("hold", label, "--awaiting", "information", "--note", "the new address")
    assert "waiting for information" in out and "asked by e-mail" in out
    managed.refresh_from_db()
    assert managed.awaiting == "information" and managed.awaiting_note == "the new address"
    error = refused("renew", label)
    assert error.returncode == 1 and "on hold" in str(error)
    assert "released" in run("release", label)
    error = refused("release", label)
    assert error.returncode == 1 and "not on hold" in str(error)
    assert "Order #" in run("renew", label)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", "nothing"), "CLIENT_CODE/NAME"),
        (("status", "acme/missing"), "no managed certificate 'acme/missing'"),
        (("list", "--client", "nobody"), "no client 'nobody'"),
        (("approve", "{m}", "--given-by", "x", "--channel", "phone", "--at", "soon"), "ISO"),
        (("approve", "{m}", "--given-by", "x", "--channel", "phone", "--at", "2999-01-01"),
         "future"),
        (("renew", "{m}", "--user", "ghost"), "ghost"),
        (("revoke", "--fingerprint", "00" * 32, "--reason", "superseded", "--requested-by", "x"),
         "no certificate with fingerprint"),
        (("deploy", "{m}", "--target", "nowhere"), "no deployment target 'nowhere'"),
    ],
)  # fmt: skip
def test_wrong_usage_exits_2_with_one_clear_line(make_managed, args, message):
    managed = make_managed()
    args = [a.replace("{m}", f"acme/{managed.name}") for a in args]
    error = refused(*args)
    assert error.returncode == 2
    assert message in str(error) and "\n" not in str(error)


def test_revoke_without_a_certificate_fails(acme):
    ManagedCertificate.objects.create(
        client=acme, name="empty", names=["empty.acme.example"], issuer=IssuerKind.MANUAL
    )
    error = refused(
        "revoke", "acme/empty", "--reason", "key_compromise", "--requested-by", "Jane Smith"
    )
    assert error.returncode == 1 and "no certificate to revoke" in str(error)


def test_the_real_command_exits_2_on_a_bad_option():
    env = {**os.environ, "MAMORI_DATABASE_URL": "sqlite:///:memory:"}
    done = subprocess.run(
        [sys.executable, "-m", "mamori", "cert", "approve", "acme/www", "--given-by", "x",
         "--channel", "fax"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "invalid choice: 'fax'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.req("CERT-10")
def test_revoke_records_who_asked_and_refuses_a_second_time(make_managed, operator):
    from mamori.lifecycle.models import Revocation

    managed = make_managed()
    label = f"acme/{managed.name}"
    asked = (timezone.now() - dt.timedelta(days=1)).isoformat()
    out = run(
        "revoke", label, "--reason", "superseded", "--requested-by", "Jane Smith",
        "--requested-at", asked, "--no-reissue", "--user", operator.username,
    )  # fmt: skip
    revocation = Revocation.objects.get()
    assert f"Revocation #{revocation.pk}" in out
    assert revocation.requested_by == "Jane Smith" and revocation.reason == 4
    assert revocation.recorded_by == operator and not revocation.reissue
    error = refused("revoke", label, "--reason", "superseded", "--requested-by", "Jane Smith")
    assert error.returncode == 1 and "already has a revocation" in str(error)


def test_deploy_without_targets_fails_clearly(make_managed):
    managed = make_managed()
    error = refused("deploy", f"acme/{managed.name}")
    assert error.returncode == 1 and "no enabled deployment target" in str(error)


@pytest.mark.req("CERT-10")
def test_a_revoked_certificate_says_so_in_the_status_the_list_and_the_pages(
    make_managed, operator, client
):
    from django.urls import reverse

    from mamori.lifecycle import revocation
    from mamori.lifecycle.models import Revocation

    managed = make_managed(age_days=10, instruction="standing")
    label = f"acme/{managed.name}"
    serial = managed.certificate.serial
    out = run(
        "revoke", label, "--reason", "superseded", "--requested-by", "佐藤様", "--no-reissue",
    )  # fmt: skip
    assert f"of serial {serial}: pending" in out
    status = run("status", label)
    # A commercial CA's: recorded, not revoked until the CA confirms it.
    assert "not yet confirmed by the CA" in status and f"{label}: valid" in status

    revocation.mark_revoked(Revocation.objects.get(), ca_reference="R-1", actor=operator)
    status = run("status", label)
    assert f"{label}: revoked" in status and f"serial {serial}" in status
    assert "Revoked on" in status and "No re-issue ordered." in status
    assert "Endpoints still serving it are reported." in status
    listing = run("list").splitlines()
    assert any(line.startswith(label) and " revoked " in line for line in listing), listing

    client.force_login(operator)
    page = client.get(reverse("managed_detail", args=[managed.pk])).content.decode()
    assert 'data-state="revoked"' in page and 'id="revocation"' in page
    page = client.get(
        reverse("certificate_detail", args=[managed.certificate.fingerprint_sha256])
    ).content.decode()
    assert 'id="revocation"' in page
