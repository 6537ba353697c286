"""The background work of embedded mode: check what is due, do the certificate lifecycle's work
(renewals, orders, deployments, revocation checks), then send what is due.

``run_once()`` is one pass (``mamori runchecks --once``, cron, tests); ``run_forever()`` repeats
it until told to stop (``mamori serve``, ``mamori runchecks``), with the uptime checks in a loop
of their own that wakes every second (:func:`uptime_loop`): a check due at 12:00:00 runs then,
not when the certificate work of the pass is done. Each pass is safe to run in several
processes at once: endpoints and checks are leased and notices claimed row by row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.db import close_old_connections

from mamori.certificates.services import CheckReport, check_due
from mamori.lifecycle.runner import LifecycleReport
from mamori.lifecycle.runner import run_once as lifecycle_pass
from mamori.monitoring.maintenance import announce_due as announce_maintenance
from mamori.monitoring.probing import ProbePool
from mamori.monitoring.services import MonitoringReport, roll_up
from mamori.monitoring.services import purge as purge_results
from mamori.monitoring.services import run_due as run_due_checks
from mamori.monitoring.sla import compute_closed_months
from mamori.monitoring.uptime import UptimeRunner, default_pool
from mamori.notices.services import DeliveryReport, deliver_due

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    checks: CheckReport
    delivery: DeliveryReport
    lifecycle: LifecycleReport | None = None
    monitoring: MonitoringReport | None = None

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
    """Checks, then the lifecycle, then delivery. One part that fails is logged and the others
    still run (the notices the others queued are still sent). ``uptime=False`` leaves the
    uptime checks to :func:`uptime_loop` (the monitoring housekeeping still runs)."""
    try:
        checks = check_due()
    except Exception:
        log.exception("endpoint checks failed; the lifecycle and delivery go on")
        checks = CheckReport()
    monitoring = monitoring_pass(uptime=uptime)
    lifecycle = lifecycle_pass()  # each of its steps catches and logs its own failure
    delivery = deliver_due()
    return PassReport(checks, delivery, lifecycle, monitoring)


def monitoring_pass(*, uptime: bool = True) -> MonitoringReport:
    """Uptime checks (unless ``uptime`` is false), maintenance announcements, roll-ups, the
    purge of old results and last month's SLA; each step on its own."""
    report = MonitoringReport()
    if uptime:
        try:
            report.run = run_due_checks()
        except Exception:
            log.exception("uptime checks failed; roll-ups, the purge and delivery go on")
    try:
        announce_maintenance()
    except Exception:
        log.exception("announcing maintenance failed; roll-ups, the purge and delivery go on")
    try:
        report.rollup = roll_up()
    except Exception:
        log.exception("rolling up check results failed; the purge and delivery go on")
    try:
        report.purged = purge_results()
    except Exception:
        log.exception("purging old check results failed; delivery goes on")
    try:
        compute_closed_months()
    except Exception:
        log.exception("computing last month's SLA failed; delivery goes on")
    return report


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


def run_forever(stop: threading.Event, interval: float = 10.0) -> None:
    """Run passes every ``interval`` seconds until ``stop`` is set, and the uptime checks in
    their own thread (:func:`uptime_loop`). A failing pass is logged and the loop goes on: one
    bad endpoint or a mail outage must not stop the watch."""
    checker = threading.Thread(target=uptime_loop, args=(stop,), name="mamori-uptime", daemon=True)
    checker.start()
    while not stop.is_set():
        close_old_connections()
        try:
            report = run_once(uptime=False)
            busy = report.lifecycle is not None and report.lifecycle.busy
            if report.checks.checked or report.delivery.sent or report.delivery.failed or busy:
                log.info(report.summary())
        except Exception:
            log.exception("background pass failed; trying again in %ss", interval)
        finally:
            close_old_connections()
        stop.wait(interval)
    checker.join(timeout=30)
