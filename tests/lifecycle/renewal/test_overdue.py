"""Failure is loud: a renewal whose time has passed without a new certificate is overdue, shown
on the certificate's page and the dashboard, and alerted to operators once (CERT-06)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.lifecycle import renewal
from mamori.lifecycle.models import Failure, FailureKind, OrderPurpose
from mamori.notices.models import Notice, NoticeKind
from tests.lifecycle.renewal.conftest import give_certificate

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"]), pytest.mark.req("CERT-06")]


def test_an_overdue_renewal_is_alerted_once_and_resolved_by_the_new_certificate(
    make_managed, operator, owner, client, renewal_ca
):
    # Approval needed, never given: the renewal time passed 8 days ago.
    managed = make_managed(lifetime_days=90, age_days=68)
    now = timezone.now()
    assert renewal.run_pass(now).overdue == 1
    renewal.run_pass(now + dt.timedelta(minutes=10))
    failure = Failure.objects.get(kind=FailureKind.OVERDUE)
    assert failure.managed == managed and failure.resolved_at is None and failure.count == 2
    alerts = Notice.objects.filter(kind=NoticeKind.LIFECYCLE_FAILURE)
    assert [n.recipient for n in alerts] == ["operator@provider.example"]

    client.force_login(operator)
    page = client.get(reverse("managed_detail", args=[managed.pk])).content.decode()
    assert 'id="failures"' in page and "Renewal overdue" in page
    assert 'data-state="overdue"' in page
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert 'id="lifecycle-overdue"' in dashboard and managed.name in dashboard
    assert 'id="lifecycle-failures"' in dashboard
    assert 'id="lifecycle-approvals"' in dashboard  # the approval it still waits for
    # The client sees the approval its renewal waits for, not the provider's overdue renewal
    # nor its failures (issue 15: the client's dashboard has only the client's business).
    client.force_login(owner)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert 'id="lifecycle-approvals"' in dashboard
    assert 'id="lifecycle-overdue"' not in dashboard and 'id="lifecycle-failures"' not in dashboard

    give_certificate(managed, renewal_ca, lifetime_days=90)
    renewal.run_pass()
    failure.refresh_from_db()
    assert failure.resolved_at is not None
    managed.refresh_from_db()
    assert not renewal.is_overdue(managed)
    assert Notice.objects.filter(kind=NoticeKind.LIFECYCLE_FAILURE).count() == 1


def test_a_renewal_just_due_is_not_overdue_yet(make_managed):
    managed = make_managed(lifetime_days=90, age_days=61, instruction="standing")
    assert renewal.run_pass().overdue == 0
    assert managed.orders.filter(purpose=OrderPurpose.RENEW).exists()
    assert not Failure.objects.exists()


def test_one_broken_certificate_does_not_stop_the_pass(make_managed, acme):
    broken = make_managed(age_days=61, instruction="standing")
    good = make_managed(age_days=61, instruction="standing")
    # A name that cannot go in a certificate: ordering fails, loudly, and backs off.
    type(broken).objects.filter(pk=broken.pk).update(names=["*.bad*.example"])
    report = renewal.run_pass()
    assert report.ordered == 1
    assert good.orders.filter(purpose=OrderPurpose.RENEW).exists()
    failure = Failure.objects.get(kind=FailureKind.ORDER)
    assert failure.managed == broken and "cannot be ordered" in failure.message
    broken.refresh_from_db()
    assert broken.next_attempt_at > timezone.now()
    assert renewal.run_pass().ordered == 0  # backing off: not tried again at once
