"""The scheduler's and the worker's logic of the scaled-out mode (mamori.monitoring.distributed),
on the test database, without a broker: the tasks' sender is a list."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys

import pytest
from django.utils import timezone

from mamori.monitoring import distributed
from mamori.monitoring.models import Check, Incident, Sample
from mamori.notices.models import Notice

LEASE = dt.timedelta(seconds=60)


@pytest.fixture
def listening():
    """A loopback TCP port that accepts connections (a tcp check of it is up)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield server.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def checks(acme, listening):
    """Five tcp checks due now: three up, two down (confirmed at the first failure)."""
    closed = _closed_port()
    now = timezone.now()
    return [
        Check.objects.create(
            client=acme,
            name=f"c{i}",
            kind="tcp",
            settings={"host": "127.0.0.1", "port": listening if i < 3 else closed},
            timeout_seconds=2,
            failures_to_confirm=1,
            next_run_at=now,
        )
        for i in range(5)
    ]


class Sent(list):
    def __call__(self, ids, at):
        self.append((list(ids), at))


def test_the_due_checks_go_out_in_batches_of_the_given_size_all_for_one_slot(checks):
    sent, now = Sent(), timezone.now()
    report = distributed.dispatch(now, sent, batch=2, lease=LEASE)
    assert [len(ids) for ids, _ in sent] == [2, 2, 1]
    assert {at for _, at in sent} == {now}
    assert sorted(pk for ids, _ in sent for pk in ids) == sorted(c.pk for c in checks)
    assert (report.dispatched, report.batches, report.redispatched) == (5, 3, 0)
    for check in Check.objects.all():
        assert (check.running_slot, check.lease_until) == (now, now + LEASE)
    # Claimed: nothing goes out twice.
    assert distributed.dispatch(now, sent, batch=2, lease=LEASE).batches == 0


def test_a_run_whose_lease_ran_out_goes_out_again_for_the_same_slot(checks):
    sent, start = Sent(), timezone.now()
    distributed.dispatch(start, sent, batch=10, lease=LEASE)
    sent.clear()
    later = start + LEASE + dt.timedelta(seconds=1)
    # Nobody recorded a result (the worker died): same checks, same slot, a new lease.
    report = distributed.dispatch(later, sent, batch=10, lease=LEASE)
    assert report.redispatched == 5 and report.dispatched == 0
    assert sent == [(sorted(c.pk for c in checks), start)]
    for check in Check.objects.all():
        assert (check.running_slot, check.lease_until) == (start, later + LEASE)
    sent.clear()
    assert distributed.dispatch(later + dt.timedelta(seconds=1), sent, batch=10, lease=LEASE) == (
        distributed.TickReport()
    )


def test_a_batch_run_twice_records_each_check_and_its_incident_once(checks, smtp):
    sent, now = Sent(), timezone.now()
    distributed.dispatch(now, sent, batch=10, lease=LEASE)
    [(ids, at)] = sent

    first = distributed.run_batch(ids, at)
    assert (first.ran, first.recorded, first.skipped) == (5, 5, 0)
    # The copy a broker hands out again after the first one finished: nothing left to run.
    again = distributed.run_batch(ids, at)
    assert (again.ran, again.recorded, again.skipped) == (0, 0, 5)
    # A copy that took its checks before the first one recorded them: it runs them, then
    # finds each result there already.
    Check.objects.update(running_slot=at)
    late = distributed.run_batch(ids, at)
    assert (late.ran, late.recorded, late.duplicates) == (5, 0, 5)

    assert Sample.objects.count() == 5
    assert sorted(Sample.objects.values_list("ok", flat=True)) == [False, False, True, True, True]
    assert Incident.objects.count() == 2
    keys = list(Notice.objects.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) > 0
    assert not Check.objects.filter(lease_until__isnull=False).exists()


def test_a_batch_for_another_slot_runs_nothing(checks):
    sent, now = Sent(), timezone.now()
    distributed.dispatch(now, sent, batch=10, lease=LEASE)
    report = distributed.run_batch([c.pk for c in checks], now - dt.timedelta(minutes=1))
    assert (report.ran, report.skipped) == (0, 5)
    assert not Sample.objects.exists()


def test_the_scheduler_sends_each_periodic_task_once_per_period(db):
    calls = []
    jobs = [
        distributed.Periodic("often", 0.0001, lambda every: calls.append("often")),
        distributed.Periodic("rarely", 3600, lambda every: calls.append("rarely")),
    ]
    scheduler = distributed.Scheduler(Sent(), jobs, batch=10, lease=LEASE)
    scheduler.run_once()
    scheduler.run_once()
    assert calls.count("rarely") == 1
    assert calls.count("often") == 2


def test_the_celery_app_acknowledges_late_and_sends_lost_tasks_back(settings):
    from mamori.celery import CHECKS_QUEUE, app, configure

    settings.MAMORI_BROKER_URL = "redis://127.0.0.1:6379/3"
    settings.MAMORI_BROKER_VISIBILITY_TIMEOUT = 120
    configure(app)
    conf = app.conf
    assert conf.broker_url == "redis://127.0.0.1:6379/3"
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 120
    assert conf.task_routes["mamori.run_batch"] == {"queue": CHECKS_QUEUE}
    assert {q.name for q in conf.task_queues} == {"mamori", CHECKS_QUEUE}


def test_embedded_mode_never_loads_celery(tmp_path):
    code = (
        "import sys, django; django.setup();"
        "import mamori.urls, mamori.operations.runner;"
        "from django.core.management import call_command;"
        "print('celery' in sys.modules)"
    )
    env = {
        **os.environ,
        "MAMORI_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "mamori.settings",
    }
    for name in ("MAMORI_BROKER_URL", "MAMORI_DATABASE_URL", "MAMORI_KEYSTORE_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False", done.stderr
