"""A new check runs at once (issue 15): its first result is recorded within seconds of being
added, not at the runner's next pass, and the runner does not run the same slot again."""

from __future__ import annotations

import threading
import time

import pytest

from mamori.monitoring import checks, services
from mamori.monitoring.models import Check, CheckState, Sample

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_sample(check: Check, seconds: float = 10) -> Sample:
    """Wait for the first run's thread to end, then read its result. (Not by asking the
    database meanwhile: the shared in-memory SQLite of the tests refuses a read while the run
    writes, where a real database makes it wait.)"""
    name = f"mamori-first-run-{check.pk}"
    for thread in threading.enumerate():
        if thread.name == name:
            thread.join(seconds)
            assert not thread.is_alive(), f"no result within {seconds} s"
    return Sample.objects.get(uptime_check=check)


@pytest.mark.req("MON-01")
def test_a_new_check_runs_at_once_and_only_once(acme, website):
    started = time.monotonic()
    check = checks.create_check(
        acme,
        actor=None,
        name="www",
        kind="http",
        settings={"url": website.url, "keyword": "Welcome"},
    )
    sample = wait_for_sample(check)
    assert time.monotonic() - started < 10
    assert sample.ok and website.requests == 1
    check.refresh_from_db()
    assert check.state == CheckState.UP and check.last_run_at == sample.at
    assert check.lease_until is None and check.running_slot is None
    # Its next slot is an interval away: the runner finds nothing due now.
    assert check.next_run_at > sample.at
    assert services.claim_due(sample.at, 10) == []


@pytest.mark.req("MON-01")
def test_a_new_paused_check_waits(acme, website):
    check = checks.create_check(
        acme,
        actor=None,
        name="paused",
        kind="http",
        settings={"url": website.url},
        enabled=False,
    )
    time.sleep(1.5)
    assert not Sample.objects.filter(uptime_check=check).exists()
    assert website.requests == 0


@pytest.mark.req("MON-01")
def test_in_the_scaled_out_mode_a_new_check_is_sent_to_the_workers(acme, website, settings):
    from mamori.celery import app

    # Celery runs the task where it is sent (no broker in this test): the same task and the
    # same worker code (distributed.run_batch) as a worker process runs.
    settings.MAMORI_BROKER_URL = "redis://127.0.0.1:1/0"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        check = checks.create_check(
            acme, actor=None, name="www", kind="http", settings={"url": website.url}
        )
    finally:
        app.conf.task_always_eager = eager
    sample = Sample.objects.get(uptime_check=check)
    assert sample.ok and website.requests == 1
    check.refresh_from_db()
    assert check.state == CheckState.UP and check.running_slot is None
