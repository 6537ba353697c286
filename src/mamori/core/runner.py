"""The background work of embedded mode: check what is due, then send what is due.

``run_once()`` is one pass (``mamori runchecks --once``, cron, tests); ``run_forever()`` repeats
it until told to stop (``mamori serve``, ``mamori runchecks``). Each pass is safe to run in
several processes at once: endpoints are leased and notices claimed row by row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.db import close_old_connections

from mamori.certificates.services import CheckReport, check_due
from mamori.notices.services import DeliveryReport, deliver_due

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    checks: CheckReport
    delivery: DeliveryReport

    def summary(self) -> str:
        c, d = self.checks, self.delivery
        return (
            f"checked {c.checked} endpoint(s), {c.problems} with problems, "
            f"{len(c.events)} event(s), {c.notices} notice(s) queued; "
            f"sent {d.sent}, retrying {d.retrying}, failed {d.failed}"
        )


def run_once() -> PassReport:
    checks = check_due()
    delivery = deliver_due()
    return PassReport(checks, delivery)


def run_forever(stop: threading.Event, interval: float = 10.0) -> None:
    """Run passes every ``interval`` seconds until ``stop`` is set. A failing pass is logged and
    the loop goes on: one bad endpoint or a mail outage must not stop the watch."""
    while not stop.is_set():
        close_old_connections()
        try:
            report = run_once()
            if report.checks.checked or report.delivery.sent or report.delivery.failed:
                log.info(report.summary())
        except Exception:
            log.exception("background pass failed; trying again in %ss", interval)
        finally:
            close_old_connections()
        stop.wait(interval)
