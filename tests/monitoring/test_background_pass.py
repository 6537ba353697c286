"""The background pass runs the uptime checks, roll-ups and purge; one failing step does not
stop the others."""

from __future__ import annotations

import pytest

from mamori.monitoring.models import Check, CheckState, Sample
from mamori.operations import runner


@pytest.mark.req("MON-01")
def test_the_pass_runs_due_checks_and_goes_on_when_a_step_fails(acme, web, monkeypatch):
    check = Check.objects.create(client=acme, name="www", kind="http", settings={"url": web})

    report = runner.run_once()

    check.refresh_from_db()
    assert check.state == CheckState.UP and Sample.objects.count() == 1
    assert "ran 1 check(s): 1 up, 0 down" in report.summary()

    calls = []

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(runner, "run_due_checks", broken)
    monkeypatch.setattr(runner, "roll_up", lambda: calls.append("roll_up"))
    monkeypatch.setattr(runner, "purge_results", lambda: calls.append("purge"))
    monkeypatch.setattr(runner, "deliver_due", lambda: calls.append("deliver") or report.delivery)

    runner.run_once()

    assert calls == ["roll_up", "purge", "deliver"]
