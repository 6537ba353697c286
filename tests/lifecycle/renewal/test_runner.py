"""The background pass runs the lifecycle between the endpoint checks and the delivery of
notices, and one failing step does not stop the others (CERT-06)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.utils import timezone

from mamori.lifecycle import runner
from mamori.lifecycle.models import OrderPurpose, RenewalInstruction
from mamori.notices.models import NoticeKind, NoticeState
from mamori.operations import runner as core_runner

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"]), pytest.mark.req("CERT-06")]


def test_a_pass_asks_for_approval_and_delivers_the_notice_at_once(make_managed, smtp):
    managed = make_managed(age_days=61)
    report = core_runner.run_once()
    assert report.lifecycle.results["renewal"].asked == 1
    assert report.delivery.sent == 2  # both certificate contacts, in the same pass
    notices = managed.client.notices.filter(kind=NoticeKind.APPROVAL_REQUESTED)
    assert {n.state for n in notices} == {NoticeState.SENT}


def test_one_failing_step_does_not_stop_the_others(make_managed, monkeypatch, caplog):
    managed = make_managed(age_days=61, instruction=RenewalInstruction.STANDING)
    calls = []

    def broken(now):
        raise RuntimeError("the CA is unreachable")

    def after(now):
        calls.append(now)
        return 0

    steps = list(runner.STEPS)
    monkeypatch.setattr(runner, "STEPS", [("broken", broken), *steps[:1], ("after", after)])
    with caplog.at_level(logging.ERROR, logger="mamori.lifecycle.runner"):
        report = runner.run_once(timezone.now() + dt.timedelta(seconds=1))
    assert report.failed == ["broken"]
    assert "broken" in caplog.text and "the CA is unreachable" in caplog.text
    assert managed.orders.filter(purpose=OrderPurpose.RENEW).count() == 1
    assert len(calls) == 1 and report.busy
