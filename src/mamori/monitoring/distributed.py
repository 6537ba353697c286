"""Scaled-out mode: one scheduler hands batches of due checks to Celery workers (docs/scaling.md).

The scheduler (``mamori scheduler``, :class:`Scheduler`) never probes anything. Every tick it

1. hands out again the runs whose lease ran out before their result was recorded
   (:func:`reclaim_expired`): a worker died with them, or they waited in the queue longer than
   ``MAMORI_DISPATCH_TIMEOUT``. They keep their slot (``running_slot``, the ``at`` of the run),
   so the result lands once whichever copy finishes first: no run is lost;
2. claims the due checks in batches (:func:`mamori.monitoring.services.claim_due`, leaving
   alone the runs of step 1) and sends each batch as one ``run_batch(check_ids, at)`` task;
3. sends the periodic jobs of the registry that are due (:class:`Periodic`, built from
   :data:`mamori.operations.jobs.JOBS` by :func:`mamori.operations.tasks.periodic`).

A worker runs a batch with :func:`run_batch`: it takes the checks still waiting for that slot,
shortens their lease to the batch's longest timeout plus :data:`RUN_GRACE` (so a worker killed
mid-batch is noticed within seconds, not after the dispatch timeout), probes them all at once
and records each result with ``record_result``, which stores one sample per check and slot and
opens or recovers incidents (and queues their notices) in the same transaction. A copy of the
batch that arrives later (the broker gave the message of a dead worker to another, or the
scheduler handed the runs out again) finds nothing left to run, or finds the sample there.

Only one scheduler may run: it holds a PostgreSQL advisory lock (a lock file on SQLite) for its
whole life, and a second one waits for it (:func:`scheduler_lock`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connections, transaction
from django.utils import timezone

from mamori.monitoring.models import Check, Sample
from mamori.monitoring.services import claim_due, hold_back, record_result, run_checks_for

log = logging.getLogger(__name__)

#: Time a worker has, after its batch's longest timeout, to record the results.
RUN_GRACE = dt.timedelta(seconds=10)
#: Key of the PostgreSQL advisory lock held by the one running scheduler.
LOCK_KEY = zlib.crc32(b"mamori.scheduler")

Sender = Callable[[list[int], dt.datetime], None]


def dispatch_timeout() -> dt.timedelta:
    return dt.timedelta(seconds=settings.MAMORI_DISPATCH_TIMEOUT)


# --- the scheduler's side ------------------------------------------------------------------------


def reclaim_expired(now: dt.datetime, lease: dt.timedelta, limit: int = 5000) -> dict:
    """Lease again the runs whose lease ran out before a result was recorded.

    Returns ``{at: [check ids]}``: each run keeps its slot, so whichever copy records first
    wins and the other records nothing.
    """
    runs: dict[dt.datetime, list[int]] = defaultdict(list)
    with transaction.atomic():
        qs = Check.objects.filter(running_slot__isnull=False, lease_until__lte=now).order_by(
            "running_slot", "pk"
        )
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        for pk, slot, until in qs.values_list("pk", "running_slot", "lease_until")[:limit]:
            taken = Check.objects.filter(pk=pk, running_slot=slot, lease_until=until).update(
                lease_until=now + lease
            )
            if taken:
                runs[slot].append(pk)
    return dict(runs)


@dataclass
class TickReport:
    dispatched: int = 0
    batches: int = 0
    redispatched: int = 0


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def dispatch(now: dt.datetime, send: Sender, *, batch: int, lease: dt.timedelta) -> TickReport:
    """One tick of the scheduler: hand out expired runs again, then the due checks."""
    report = TickReport()
    for at, ids in reclaim_expired(now, lease).items():
        for chunk in _chunks(ids, batch):
            send(chunk, at)
            report.redispatched += len(chunk)
            report.batches += 1
    if report.redispatched:
        log.warning("handed out again %s run(s) whose worker did not finish", report.redispatched)
    while True:
        claimed = claim_due(now, batch, lease=lease, skip_running=True)
        if claimed:
            send([check.pk for check in claimed], now)
            report.dispatched += len(claimed)
            report.batches += 1
        if len(claimed) < batch:
            return report


@dataclass
class Periodic:
    """A task sent every ``every`` seconds; the sender makes a copy that waited longer than
    that in the queue expire (the next one does the same work)."""

    name: str
    every: float
    send: Callable[[float], None]
    last: float = field(default=-1e18)

    def due(self, clock: float) -> bool:
        return clock - self.last >= self.every


class Scheduler:
    """The loop of ``mamori scheduler``; ``send`` and ``periodic`` come from the Celery tasks
    (``mamori.monitoring.tasks``, ``mamori.operations.tasks``), so the loop itself is testable
    without a broker."""

    def __init__(
        self,
        send: Sender,
        periodic: list[Periodic],
        *,
        batch: int = 200,
        tick: float = 1.0,
        lease: dt.timedelta | None = None,
    ) -> None:
        self.send = send
        self.periodic = periodic
        self.batch = batch
        self.tick = tick
        self.lease = lease or dispatch_timeout()

    def run_once(self, now: dt.datetime | None = None) -> TickReport:
        close_old_connections()
        report = dispatch(now or timezone.now(), self.send, batch=self.batch, lease=self.lease)
        if report.dispatched:
            log.info("dispatched %s check(s) in %s batch(es)", report.dispatched, report.batches)
        clock = time.monotonic()
        for job in self.periodic:
            if job.due(clock):
                job.send(job.every)
                job.last = clock
        return report

    def run(self, stop: threading.Event, alive: Callable[[], bool] = lambda: True) -> None:
        """Tick until ``stop`` is set. A failing tick (the database or the broker away) is
        logged and the loop goes on; ``alive`` returning False (the lock is lost) ends it."""
        while not stop.is_set():
            if not alive():
                raise LockLost("the scheduler lock was lost (database connection closed)")
            try:
                self.run_once()
            except Exception:
                log.exception("scheduler tick failed; trying again in %ss", self.tick)
                close_old_connections()
            stop.wait(self.tick)


# --- one scheduler only --------------------------------------------------------------------------


class LockLost(RuntimeError):
    """The connection holding the scheduler lock went away: another scheduler may take over."""


class SchedulerLock:
    """Held by the running scheduler. On PostgreSQL a session advisory lock on a connection of
    its own (Django may close its usual connections at any time); elsewhere a lock file."""

    def __init__(self) -> None:
        self._connection = None
        self._file = None

    def try_acquire(self) -> bool:
        default = connections["default"]
        if default.vendor == "postgresql":
            if self._connection is None:
                self._connection = connections.create_connection("default")
            with self._connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
                return bool(cursor.fetchone()[0])
        path = settings.DATA_DIR / "scheduler.lock"
        if self._file is None:
            self._file = open(path, "a+")  # noqa: SIM115 - held for the scheduler's lifetime
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def alive(self) -> bool:
        if self._connection is None:
            return True
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except Exception:
            return False

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()  # ends the session: the lock goes with it
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None


@contextlib.contextmanager
def scheduler_lock(stop: threading.Event, poll: float = 1.0) -> Iterator[SchedulerLock | None]:
    """Wait for the scheduler lock until ``stop``; yields the held lock, or None if stopped
    while waiting."""
    lock = SchedulerLock()
    waiting = False
    try:
        while not stop.is_set():
            if lock.try_acquire():
                break
            if not waiting:
                log.info("another scheduler is running; waiting to take over")
                waiting = True
            stop.wait(poll)
        held = not stop.is_set()
        if held:
            log.info("scheduler lock acquired")
        yield lock if held else None
    finally:
        lock.release()


# --- the worker's side ---------------------------------------------------------------------------


@dataclass
class BatchReport:
    ran: int = 0
    recorded: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: int = 0

    def summary(self) -> str:
        return (
            f"ran {self.ran}, recorded {self.recorded}, already recorded {self.duplicates}, "
            f"nothing to do for {self.skipped}, errors {self.errors}"
        )


def run_batch(check_ids: list[int], at: dt.datetime) -> BatchReport:
    """Run the checks of one batch for the slot ``at`` and record each result once."""
    report = BatchReport()
    checks = list(Check.objects.filter(pk__in=check_ids, running_slot=at).order_by("pk"))
    report.skipped = len(set(check_ids)) - len(checks)
    if not checks:
        return report
    # The lease now runs from the start of the batch: a worker that dies is noticed soon.
    longest = max(check.timeout_seconds for check in checks)
    until = timezone.now() + dt.timedelta(seconds=longest + 1) + RUN_GRACE
    Check.objects.filter(pk__in=[c.pk for c in checks], running_slot=at).update(lease_until=until)
    log.info(
        "batch of %s check(s) at %s started (pid %s)", len(checks), at.isoformat(), os.getpid()
    )
    results = run_checks_for(checks)
    report.ran = len(checks)
    # Mamori's own network outage is not the clients' (MON-02): those runs are not recorded.
    held = hold_back(checks, results, at)
    for check, result in zip(checks, results, strict=True):
        if check.pk in held:
            continue
        try:
            # Only for the report: record_result itself makes sure of recording once.
            seen = Sample.objects.filter(uptime_check=check, at=at).exists()
            record_result(check, result, at)
            if seen:
                report.duplicates += 1
            else:
                report.recorded += 1
        except IntegrityError:
            # Another copy of this run recorded the same slot a moment before us.
            report.duplicates += 1
        except Exception:
            # A failure that running again would repeat: give up this run, as embedded mode
            # does, instead of handing it out for ever.
            log.exception("recording the result of check %s failed", check.pk)
            report.errors += 1
            with contextlib.suppress(Exception):
                Check.objects.filter(pk=check.pk, running_slot=at).update(
                    running_slot=None, lease_until=None
                )
    return report
