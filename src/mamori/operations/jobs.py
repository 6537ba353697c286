"""The one registry of Mamori's periodic jobs, read by both modes.

Embedded mode (``mamori serve``, ``mamori runchecks``; :mod:`mamori.operations.runner`) runs
the jobs that are due in its background thread; scaled-out mode (``mamori scheduler``;
:mod:`mamori.operations.tasks`) sends each one, when due, as a ``mamori.run_job`` task that a
Celery worker runs. Both go through :func:`run_job`, so a job added to :data:`JOBS` runs in both
modes, with the same interval, the same single-flight rule and the same record (``JobRun``).

The uptime checks are not periodic jobs: each check has its own interval, down to seconds, so
they keep a loop of their own that wakes every second (``runner.uptime_loop`` in embedded mode;
the scheduler's tick with ``distributed.dispatch`` and the ``mamori.run_batch`` tasks in
scaled-out mode). ``runchecks --once`` runs them once before the jobs.

Adding a job: write the function (no arguments; safe to run again and, unless the job is
single-flight, in several processes at once), then add a :class:`Job` to :data:`JOBS`. Order
matters in embedded mode only: a pass runs the due jobs in this order (delivery last, so that
what the others queued goes out in the same pass).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db.models import F, Q
from django.utils import timezone

from mamori.operations.models import JobRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A periodic job. ``call`` is ``"module:function"``, imported when the job runs (embedded
    mode never imports what only a job needs before it runs). A ``single_flight`` job runs in
    one process at a time: it takes a lease on its ``JobRun`` row first (one UPDATE, atomic on
    SQLite and PostgreSQL), held for at most ``lease`` seconds in case its process dies; a run
    that finds the lease taken is skipped (the next one does the same work)."""

    name: str
    every: float
    call: str
    single_flight: bool = False
    lease: float = 900.0

    def function(self) -> Callable[[], object]:
        module, _, attribute = self.call.partition(":")
        return getattr(importlib.import_module(module), attribute)


#: Every periodic job, in the order of an embedded pass. Calendar rules are the jobs' own:
#: ``sla_months`` runs every few minutes and computes a month only once it is over.
JOBS: tuple[Job, ...] = (
    Job("certificate_watch", 10, "mamori.certificates.services:check_due"),
    Job("maintenance_announcements", 60, "mamori.monitoring.maintenance:announce_due"),
    Job("check_rollups", 60, "mamori.monitoring.services:roll_up", single_flight=True),
    Job("check_purge", 300, "mamori.monitoring.services:purge", single_flight=True),
    Job("sla_months", 300, "mamori.monitoring.sla:compute_closed_months", single_flight=True),
    Job("certificate_lifecycle", 10, "mamori.lifecycle.runner:run_once"),
    Job("contract_notice_reminders", 3600, "mamori.clients.reminders:remind_due"),
    Job("desk_targets", 60, "mamori.desk.targets:check_due"),
    Job("desk_unanswered", 3600, "mamori.desk.waits:flag_unanswered"),
    Job("desk_mail_poll", 60, "mamori.desk.mailbox:poll_job", single_flight=True),
    Job("software_collection", 300, "mamori.software.services:collect_due"),
    Job("software_eol_refresh", 3600, "mamori.software.eol:refresh_job", single_flight=True),
    Job("software_eol_warnings", 3600, "mamori.software.eol:warn_due"),
    Job("backups_due", 60, "mamori.backups.schedule:run_due", single_flight=True),
    Job("advisory_refresh", 3600, "mamori.advisories.feeds:refresh_job", single_flight=True),
    Job("update_runs", 10, "mamori.advisories.updates:run_due"),
    Job("retention_purge", 3600, "mamori.retention.services:purge_job", single_flight=True),
    Job("weblog_collection", 300, "mamori.weblogs.services:collect_due"),
    Job("reports_build", 3600, "mamori.reports.services:build_job", single_flight=True),
    Job("notice_delivery", 5, "mamori.notices.services:deliver_due"),
)

REGISTRY: dict[str, Job] = {job.name: job for job in JOBS}


@dataclass
class Outcome:
    """One run of a job: ``ran`` is False when a single-flight job found its lease taken;
    ``result`` is what the function returned (its report), ``error`` the exception's class
    name when it failed."""

    job: Job
    ran: bool = False
    result: object = None
    error: str = ""


def _row(name: str) -> None:
    JobRun.objects.get_or_create(name=name)


def _take_lease(job: Job, owner: str, now: dt.datetime) -> bool:
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    until = now + dt.timedelta(seconds=job.lease)
    return bool(
        JobRun.objects.filter(free, name=job.name).update(lease_until=until, lease_owner=owner)
    )


def run_job(job: Job) -> Outcome:
    """Run ``job`` once and record it; a failure is logged and recorded, never raised."""
    outcome = Outcome(job)
    owner = uuid.uuid4().hex
    try:
        _row(job.name)
        if job.single_flight and not _take_lease(job, owner, timezone.now()):
            log.debug("job %s is running elsewhere; skipped", job.name)
            return outcome
        JobRun.objects.filter(name=job.name).update(last_started_at=timezone.now())
    except Exception:
        log.exception("cannot record the start of job %s; it does not run now", job.name)
        return outcome
    outcome.ran = True
    started = time.monotonic()
    try:
        outcome.result = job.function()()
    except Exception as exc:
        outcome.error = type(exc).__name__[:100]
        log.exception("job %s failed; the other jobs go on", job.name)
    _finish(job, owner, outcome, time.monotonic() - started)
    return outcome


def _finish(job: Job, owner: str, outcome: Outcome, duration: float) -> None:
    now = timezone.now()
    changes: dict = {
        "last_finished_at": now,
        "last_duration": round(duration, 6),
        "runs": F("runs") + 1,
    }
    if outcome.error:
        changes.update(failures=F("failures") + 1, last_error=outcome.error, last_failed_at=now)
    try:
        JobRun.objects.filter(name=job.name).update(**changes)
        if job.single_flight:
            JobRun.objects.filter(name=job.name, lease_owner=owner).update(
                lease_until=None, lease_owner=""
            )
    except Exception:
        log.exception("cannot record the end of job %s", job.name)


def run_jobs(jobs: Iterable[Job] = JOBS) -> dict[str, Outcome]:
    """Run ``jobs`` one after the other (one embedded pass); one that fails does not stop the
    others."""
    return {job.name: run_job(job) for job in jobs}


@dataclass
class Cadence:
    """Which jobs are due, by the monotonic clock of one process (the embedded runner's, or the
    scheduler's through its ``Periodic`` list). Every job is due at the first look."""

    jobs: tuple[Job, ...] = JOBS
    last: dict[str, float] = field(default_factory=dict)

    def due(self, clock: float) -> list[Job]:
        ready = [j for j in self.jobs if clock - self.last.get(j.name, -1e18) >= j.every]
        for job in ready:
            self.last[job.name] = clock
        return ready


def job_runs() -> list[JobRun]:
    """The record of every registered job, in registry order (for ``/metrics`` and status
    pages); a job that never ran has an unsaved row with zero runs."""
    rows = {row.name: row for row in JobRun.objects.filter(name__in=list(REGISTRY))}
    return [rows.get(name) or JobRun(name=name) for name in REGISTRY]
