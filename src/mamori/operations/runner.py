"""The background work of embedded mode: the periodic jobs of :mod:`mamori.operations.jobs`
(the certificate watch, maintenance announcements, roll-ups, purge, SLA months, the certificate
lifecycle, notice delivery), each at its own interval, and the uptime checks.

``run_once()`` is one pass of every job (``mamori runchecks --once``, cron, tests), with the
uptime checks that are due; ``run_forever()`` runs the jobs that are due every tick until told to
stop (``mamori serve``, ``mamori runchecks``), with the uptime checks in a loop of their own that
wakes every second (:func:`uptime_loop`): a check due at 12:00:00 runs then, not when the
certificate work of the pass is done. Each job is safe to run in several processes at once:
endpoints and checks are leased, notices claimed row by row, single-flight jobs leased whole.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.db import close_old_connections

from mamori.certificates.services import CheckReport
from mamori.lifecycle.runner import LifecycleReport
from mamori.monitoring.probing import ProbePool
from mamori.monitoring.services import MonitoringReport, PurgeReport, RollupReport
from mamori.monitoring.services import run_due as run_due_checks
from mamori.monitoring.uptime import UptimeRunner, default_pool
from mamori.notices.services import DeliveryReport, deliver_due
from mamori.operations import jobs

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    checks: CheckReport
    delivery: DeliveryReport
    lifecycle: LifecycleReport | None = None
    monitoring: MonitoringReport | None = None
    #: The names of the jobs this pass ran, in order.
    jobs: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, outcomes: dict[str, jobs.Outcome], uptime=None) -> PassReport:
        def result(name: str, kind: type):
            value = outcomes[name].result if name in outcomes else None
            return value if isinstance(value, kind) else None

        monitoring = MonitoringReport()
        if uptime is not None:
            monitoring.run = uptime
        monitoring.rollup = result("check_rollups", RollupReport) or monitoring.rollup
        monitoring.purged = result("check_purge", PurgeReport) or monitoring.purged
        return cls(
            checks=result("certificate_watch", CheckReport) or CheckReport(),
            delivery=result("notice_delivery", DeliveryReport) or DeliveryReport(),
            lifecycle=result("certificate_lifecycle", LifecycleReport),
            monitoring=monitoring,
            jobs=[name for name, outcome in outcomes.items() if outcome.ran],
        )

    @property
    def busy(self) -> bool:
        c, d = self.checks, self.delivery
        lifecycle = self.lifecycle is not None and self.lifecycle.busy
        return bool(c.checked or d.sent or d.failed or lifecycle)

    def summary(self) -> str:
        c, d = self.checks, self.delivery
        return (
            f"checked {c.checked} endpoint(s), {c.problems} with problems, "
            f"{len(c.events)} event(s), {c.notices} notice(s) queued; "
            f"sent {d.sent}, retrying {d.retrying}, failed {d.failed}"
            + (f"; {self.lifecycle.summary()}" if self.lifecycle and self.lifecycle.busy else "")
            + (
                f"; {self.monitoring.run.summary()}"
                if self.monitoring and self.monitoring.run.ran
                else ""
            )
        )


def run_once(*, uptime: bool = True) -> PassReport:
    """The uptime checks that are due (unless ``uptime`` is false: :func:`uptime_loop` runs
    them), then every periodic job once, in registry order. One that fails is logged and the
    others still run (the notices the others queued are still sent)."""
    checks = None
    if uptime:
        try:
            checks = run_due_checks()
        except Exception:
            log.exception("uptime checks failed; the periodic jobs go on")
    return PassReport.of(jobs.run_jobs(), checks)


def uptime_loop(stop: threading.Event, interval: float = 1.0) -> None:
    """Run the uptime checks until ``stop`` is set: every ``interval`` seconds record the
    results that came back and hand the due checks to the probe workers
    (:class:`~mamori.monitoring.uptime.UptimeRunner`), and send the notices of the incidents
    they open or recover at once."""
    try:
        pool = default_pool()
    except Exception:
        log.exception("cannot start the probe workers; uptime checks run in this process")
        pool = ProbePool(0)
    runner = UptimeRunner(pool, on_changes=lambda report: deliver_due())
    try:
        runner.run(stop, interval)
    finally:
        pool.close()


def run_forever(stop: threading.Event, interval: float = 1.0) -> None:
    """Every ``interval`` seconds run the periodic jobs that are due (each at its own
    interval, :data:`mamori.operations.jobs.JOBS`) until ``stop`` is set, and the uptime checks
    in their own thread (:func:`uptime_loop`). A failing job is logged and the loop goes on: one
    bad endpoint or a mail outage must not stop the watch."""
    checker = threading.Thread(target=uptime_loop, args=(stop,), name="mamori-uptime", daemon=True)
    checker.start()
    cadence = jobs.Cadence()
    while not stop.is_set():
        close_old_connections()
        try:
            due = cadence.due(time.monotonic())
            if due:
                report = PassReport.of(jobs.run_jobs(due))
                if report.busy:
                    log.info(report.summary())
        except Exception:
            log.exception("background pass failed; trying again in %ss", interval)
        finally:
            close_old_connections()
        stop.wait(interval)
    checker.join(timeout=30)
