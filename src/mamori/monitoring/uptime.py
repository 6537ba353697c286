"""The embedded uptime runner: checks run without pause while one thread keeps the books.

Once a second (a *tick*) :class:`UptimeRunner` records the results that came back since the last
tick and claims every check that is due (:func:`~mamori.monitoring.services.claim_due`), handing
them to the probe workers (:class:`~mamori.monitoring.probing.ProbePool`). Checks never wait for
one another: a site that takes its whole timeout to answer holds back neither the next tick's
checks nor the recording of the others' results, so a check due at 12:00:00 starts by 12:00:01.

Checks claimed in the same tick form a *run group* sharing their start time (``Sample.at``).
Successes are recorded at the first tick after they arrive. Failures wait until their whole
group is back, because whether they are the clients' outages or Mamori's own is decided over the
group (:func:`~mamori.monitoring.services.hold_back`), as :func:`services.run_due` does for a
batch. Recording follows :func:`~mamori.monitoring.services.record_results`: quiet results
together in one transaction, state changes one by one with their incidents.

A check whose worker died is released without a result and runs at its next slot. On stop the
runner waits a few seconds for the checks in flight, records them, and releases the rest.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from mamori.monitoring import services
from mamori.monitoring.kinds import invalid_settings_result, probe_call
from mamori.monitoring.models import Check
from mamori.monitoring.probing import ProbePool
from mamori.probe.checks_result import CheckResult

log = logging.getLogger(__name__)

#: Most checks claimed in one statement.
CLAIM_BATCH = 500
#: How long :meth:`UptimeRunner.close` waits for the checks in flight.
DRAIN_SECONDS = 5.0


@dataclass
class _Group:
    """Checks claimed together at ``at``."""

    at: dt.datetime
    outstanding: int = 0
    results: list[tuple[Check, CheckResult]] = field(default_factory=list)
    failures: list[tuple[Check, CheckResult]] = field(default_factory=list)
    seen: list[CheckResult] = field(default_factory=list)


class UptimeRunner:
    """Claim, hand out and record uptime checks; call :meth:`tick` once a second (or
    :meth:`run` until an event is set). ``pool`` runs the checks; ``on_changes`` is called after
    a tick that changed a check's state (to send the incident notices at once)."""

    def __init__(
        self,
        pool: ProbePool,
        *,
        max_in_flight: int | None = None,
        on_changes: Callable[[services.RunReport], None] | None = None,
    ) -> None:
        self.pool = pool
        self.max_in_flight = max_in_flight or pool.capacity
        self.on_changes = on_changes
        self._ids = itertools.count(1)
        self._jobs: dict[int, tuple[Check, _Group]] = {}
        self._groups: dict[dt.datetime, _Group] = {}

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    # -- one tick -----------------------------------------------------------------------------

    def tick(self, until: float) -> services.RunReport:
        """Record what arrived, claim what is due and hand it out, then gather results until
        ``until`` (``time.monotonic()``). Returns what was recorded."""
        report = services.RunReport()
        self._record(report)
        self._claim(timezone.now())
        self._gather(self.pool.collect(until))
        return report

    def _claim(self, now: dt.datetime) -> None:
        jobs = []
        immediate: list[tuple[Check, _Group, CheckResult]] = []
        while (free := self.max_in_flight - len(self._jobs)) > 0:
            claimed = services.claim_due(now, min(free, CLAIM_BATCH))
            if not claimed:
                break
            group = self._groups.setdefault(now, _Group(now))
            for check in claimed:
                group.outstanding += 1
                invalid = invalid_settings_result(check.kind, check.settings)
                if invalid is not None:
                    immediate.append((check, group, invalid))
                    continue
                job_id = next(self._ids)
                self._jobs[job_id] = (check, group)
                kind, kwargs = probe_call(check.kind, check.settings, check.timeout_seconds)
                jobs.append((job_id, kind, kwargs))
            if len(claimed) < CLAIM_BATCH:
                break
        self.pool.submit(jobs)
        for check, group, result in immediate:
            self._arrived(check, group, result)

    def _gather(self, arrived: list[tuple[int, CheckResult | None]]) -> None:
        lost: list[tuple[Check, _Group]] = []
        for job_id, result in arrived:
            entry = self._jobs.pop(job_id, None)
            if entry is None:
                continue
            check, group = entry
            if result is None:
                group.outstanding -= 1
                lost.append((check, group))
            else:
                self._arrived(check, group, result)
        for check, group in lost:
            Check.objects.filter(pk=check.pk, running_slot=group.at).update(
                lease_until=None, running_slot=None
            )

    def _arrived(self, check: Check, group: _Group, result: CheckResult) -> None:
        group.outstanding -= 1
        group.results.append((check, result))
        group.seen.append(result)

    # -- recording ----------------------------------------------------------------------------

    def _record(self, report: services.RunReport) -> None:
        for at, group in list(self._groups.items()):
            if group.results:
                successes = [(c, r) for c, r in group.results if r.ok]
                group.failures.extend((c, r) for c, r in group.results if not r.ok)
                group.results = []
                if successes:
                    self._write(successes, at, report)
            if group.outstanding > 0:
                continue
            del self._groups[at]
            if group.failures:
                self._write_failures(group, report)
        if report.changes and self.on_changes is not None:
            self.on_changes(report)

    def _write(
        self, pairs: list[tuple[Check, CheckResult]], at: dt.datetime, report: services.RunReport
    ) -> None:
        services.record_results([c for c, _ in pairs], [r for _, r in pairs], at, report)

    def _write_failures(self, group: _Group, report: services.RunReport) -> None:
        # Decide Mamori's own outage over the whole group: the successes count in the share.
        checks = [c for c, _ in group.failures]
        results = [r for _, r in group.failures]
        held = services.hold_back(checks, results, group.at, batch=group.seen)
        report.held += len(held)
        kept = [(c, r) for c, r in group.failures if c.pk not in held]
        if kept:
            self._write(kept, group.at, report)

    # -- running ------------------------------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set, then :meth:`close`."""
        next_tick = time.monotonic()
        while not stop.is_set():
            next_tick += interval
            now = time.monotonic()
            if next_tick < now:  # a tick overran: start again from now, do not burst
                next_tick = now + interval
            close_old_connections()
            try:
                report = self.tick(next_tick)
                if report.changes or report.errors or report.held:
                    log.info(report.summary())
            except Exception:
                log.exception("uptime checks failed; trying again in %ss", interval)
                stop.wait(max(0.0, next_tick - time.monotonic()))
            finally:
                close_old_connections()
        self.close()

    def close(self, drain: float = DRAIN_SECONDS) -> None:
        """Wait up to ``drain`` seconds for the checks in flight, record them, and release the
        leases of those still out so they run at their next slot after a restart."""
        deadline = time.monotonic() + drain
        while self._jobs and time.monotonic() < deadline:
            self._gather(self.pool.collect(min(deadline, time.monotonic() + 0.2)))
        try:
            report = services.RunReport()
            for group in self._groups.values():
                group.outstanding -= sum(1 for _, g in self._jobs.values() if g is group)
            self._record(report)
            for check, group in self._jobs.values():
                Check.objects.filter(pk=check.pk, running_slot=group.at).update(
                    lease_until=None, running_slot=None
                )
        finally:
            self._jobs.clear()
            self._groups.clear()


def default_pool() -> ProbePool:
    """The probe workers of ``mamori serve``: ``MAMORI_PROBE_PROCESSES`` processes."""
    return ProbePool(settings.MAMORI_PROBE_PROCESSES, ca_bundle=settings.MAMORI_CA_BUNDLE or None)
