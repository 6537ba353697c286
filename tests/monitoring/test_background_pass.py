"""The background pass runs the uptime checks, then the periodic jobs (tests/operations has the
jobs' own tests: one failing does not stop the others)."""

from __future__ import annotations

import pytest

from mamori.monitoring.models import Check, CheckState, Sample
from mamori.operations import runner


@pytest.mark.req("MON-01")
def test_the_pass_runs_due_checks(acme, web):
    check = Check.objects.create(client=acme, name="www", kind="http", settings={"url": web})

    report = runner.run_once()

    check.refresh_from_db()
    assert check.state == CheckState.UP and Sample.objects.count() == 1
    assert "ran 1 check(s): 1 up, 0 down" in report.summary()
