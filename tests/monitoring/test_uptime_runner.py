"""The embedded uptime runner (monitoring/uptime.py) with real probe workers: checks run without
waiting for one another, a dead worker loses no check for good, Mamori's own outage is judged
over the whole run, and stopping releases what is still out (MON-01, MON-02)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import threading
import time

import pytest
from django.utils import timezone

from mamori.monitoring.models import Check, CheckState, Sample
from mamori.monitoring.probing import ProbePool
from mamori.monitoring.uptime import UptimeRunner
from mamori.notices.models import Notice, NoticeKind

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def silent_port():
    """A TCP port on loopback that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for connection in held:
        connection.close()
    listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tick_until(runner: UptimeRunner, done, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    runner.tick(time.monotonic() + 0.3)
    while not done():
        assert time.monotonic() < deadline, "the runner did not get there in time"
        runner.tick(time.monotonic() + 0.3)


def silent_check(make_check, client, port: int, timeout_seconds: int) -> Check:
    """An HTTP check, due now, of a site that accepts connections and never answers."""
    url = f"http://127.0.0.1:{port}/"
    return make_check(
        client, "http", {"url": url}, next_run_at=timezone.now(), timeout_seconds=timeout_seconds
    )


@pytest.fixture
def pool():
    with ProbePool(1, concurrency=50) as workers:
        yield workers


@pytest.mark.req("MON-01")
def test_a_site_that_never_answers_holds_back_no_other_check(
    acme, web, silent_port, make_check, pool
) -> None:
    now = timezone.now()
    slow = silent_check(make_check, acme, silent_port, timeout_seconds=5)
    fast = make_check(acme, "http", {"url": web}, next_run_at=now, name="fast")
    later = make_check(
        acme, "http", {"url": web}, next_run_at=now + dt.timedelta(seconds=2), name="later"
    )
    runner = UptimeRunner(pool)

    tick_until(runner, lambda: Sample.objects.filter(uptime_check=later).exists())
    # The later check was claimed and recorded while the silent site still had the first slot.
    assert not Sample.objects.filter(uptime_check=slow).exists()
    assert Sample.objects.get(uptime_check=fast).ok
    recorded = Sample.objects.get(uptime_check=later)
    assert recorded.ok
    assert (recorded.at - later.next_run_at).total_seconds() < 1.5  # started on time

    tick_until(runner, lambda: Sample.objects.filter(uptime_check=slow).exists())
    sample = Sample.objects.get(uptime_check=slow)
    assert not sample.ok
    assert sample.error_code == "timeout"
    slow.refresh_from_db()
    assert slow.running_slot is None and slow.lease_until is None
    assert slow.consecutive_failures == 1
    assert runner.in_flight == 0


@pytest.mark.req("MON-01")
def test_a_worker_killed_mid_check_loses_the_run_but_not_the_check(
    acme, web, silent_port, make_check, pool
) -> None:
    hanging = silent_check(make_check, acme, silent_port, timeout_seconds=10)
    runner = UptimeRunner(pool)
    runner.tick(time.monotonic() + 0.5)
    hanging.refresh_from_db()
    assert hanging.running_slot is not None  # claimed and handed out
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)

    tick_until(runner, lambda: runner.in_flight == 0)
    hanging.refresh_from_db()
    # Released without a result: no failure counted against the client's site.
    assert hanging.running_slot is None and hanging.lease_until is None
    assert hanging.consecutive_failures == 0
    assert not Sample.objects.filter(uptime_check=hanging).exists()

    # A new worker took the dead one's place and runs the next checks.
    assert pool.pids() and pool.pids() != [pid]
    fresh = make_check(acme, "http", {"url": web}, next_run_at=timezone.now(), name="after")
    tick_until(runner, lambda: Sample.objects.filter(uptime_check=fresh).exists())
    assert Sample.objects.get(uptime_check=fresh).ok


@pytest.mark.req("MON-02")
def test_mamori_own_outage_is_judged_over_the_whole_run(acme, operator, make_check, pool) -> None:
    now = timezone.now()
    port = closed_port()
    checks = [
        make_check(acme, "tcp", {"host": "127.0.0.1", "port": port}, next_run_at=now, name=f"c{i}")
        for i in range(20)
    ]
    runner = UptimeRunner(pool)
    tick_until(runner, lambda: runner.in_flight == 0 and not runner._groups)

    # Every check failed to connect and no reference target is set: taken as Mamori's own
    # network outage, nothing recorded for the clients, one operator alert.
    assert not Sample.objects.filter(uptime_check__in=checks).exists()
    for check in Check.objects.filter(pk__in=[c.pk for c in checks]):
        assert check.consecutive_failures == 0
        assert check.running_slot is None
    assert Notice.objects.filter(kind=NoticeKind.MONITORING_OUTAGE).exists()


@pytest.mark.req("MON-02")
def test_failures_among_successes_are_recorded_and_confirmed(acme, web, make_check, pool) -> None:
    now = timezone.now()
    port = closed_port()
    up = [make_check(acme, "http", {"url": web}, next_run_at=now, name=f"up{i}") for i in range(4)]
    down = make_check(
        acme,
        "tcp",
        {"host": "127.0.0.1", "port": port},
        next_run_at=now,
        name="down",
        failures_to_confirm=1,
    )
    runner = UptimeRunner(pool)
    tick_until(runner, lambda: Sample.objects.filter(uptime_check=down).exists())
    assert Sample.objects.filter(uptime_check__in=up, ok=True).count() == 4
    down.refresh_from_db()
    assert down.state == CheckState.DOWN
    assert down.incidents.filter(state="open").count() == 1


def test_stopping_records_what_came_back_and_releases_the_rest(
    acme, web, silent_port, make_check, pool
) -> None:
    now = timezone.now()
    hanging = silent_check(make_check, acme, silent_port, timeout_seconds=30)
    quick = make_check(acme, "http", {"url": web}, next_run_at=now, name="quick")
    runner = UptimeRunner(pool)
    runner.tick(time.monotonic() + 0.5)
    runner.close(drain=1.0)

    assert Sample.objects.get(uptime_check=quick).ok
    hanging.refresh_from_db()
    assert hanging.running_slot is None and hanging.lease_until is None
    assert not Sample.objects.filter(uptime_check=hanging).exists()
    assert runner.in_flight == 0
