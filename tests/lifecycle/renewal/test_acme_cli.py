"""End to end against a real ACME CA (Pebble, HTTP-01 through a webroot nginx serves): the first
issue with ``mamori cert issue --wait``, then a renewal that waits for the client's yes and is
ordered only after it (CERT-04, CERT-06)."""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from mamori.lifecycle import renewal
from mamori.lifecycle.models import (
    Approval,
    ApprovalState,
    ChallengeMethod,
    ManagedCertificate,
    OrderPurpose,
    OrderState,
)
from tests.lifecycle.acme.conftest import acme_account, unique_name  # noqa: F401

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"])]


def run(*args: str) -> str:
    out = StringIO()
    with translation.override("en"):  # the run's language; these tests read English
        call_command("cert", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.req("CERT-04")
@pytest.mark.req("CERT-06")
def test_issue_then_renew_only_after_the_yes(acme, acme_account, webroot_server, operator):
    name = unique_name("renew")
    managed = ManagedCertificate.objects.create(
        client=acme,
        name="pebble",
        names=[name],
        acme_account=acme_account,
        challenge=ChallengeMethod.HTTP_WEBROOT,
        challenge_settings={"webroot": str(webroot_server.webroot)},
    )
    assert managed.effective_instruction() == "approval"
    out = run("issue", "acme/pebble", "--wait", "--timeout", "60")
    assert "Issued:" in out
    managed.refresh_from_db()
    first = managed.certificate
    assert first is not None and name in first.sans

    # The renewal time comes: the client is asked, nothing is ordered.
    renew_at = renewal.schedule(managed)
    when = renew_at + dt.timedelta(seconds=1)
    assert renewal.run_pass(when).asked == 1
    assert not managed.orders.filter(purpose=OrderPurpose.RENEW).exists()
    with pytest.raises(CommandError, match="only with the client's approval") as refused:
        run("renew", "acme/pebble", "--wait")
    assert refused.value.returncode == 1

    run("approve", "acme/pebble", "--given-by", "Jane Smith", "--channel", "email")
    out = run("renew", "acme/pebble", "--wait", "--timeout", "60")
    assert "Issued:" in out
    order = managed.orders.get(purpose=OrderPurpose.RENEW)
    assert order.state == OrderState.ISSUED and order.approval.given_by == "Jane Smith"
    assert order.approval.state == ApprovalState.USED
    managed.refresh_from_db()
    assert managed.certificate != first and managed.certificate.not_after > first.not_after - (
        dt.timedelta(minutes=5)
    )
    assert Approval.objects.filter(managed=managed).count() == 1
