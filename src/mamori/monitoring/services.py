"""Running checks, confirming state changes, rolling results up and purging them.

``run_due()`` claims due checks (:func:`claim_due`), runs a batch at once through
:func:`mamori.probe.checks.run_checks` (one ``asyncio.run`` per batch, no database access while
probing), then records each result in its own transaction (:func:`record_result`). ``roll_up()``
and ``purge()`` keep the history small (MON-10). ``core/runner.py`` calls all three each pass.

Scheduling: a check runs in slots ``next_run_at``, ``+ interval``, ``+ 2 × interval`` ... The
claim moves ``next_run_at`` to the next slot after *now* in the same conditional UPDATE, so the
cadence never drifts, missed slots are skipped rather than run in a burst, and no two workers
can run the same slot. ``lease_until`` marks the check as running (its next slot is not claimed
before the result is recorded); a worker that dies loses that one run, and the lease expires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from mamori.monitoring import incidents
from mamori.monitoring.kinds import CheckKind, check_tls, probe_call, validate_settings
from mamori.monitoring.models import MAX_TIMEOUT, Check, CheckState, Resolution, Rollup, Sample
from mamori.probe import TrustStore
from mamori.probe.checks import run_checks
from mamori.probe.checks_result import CheckError, CheckResult, seconds

log = logging.getLogger(__name__)

UTC = dt.UTC
LEASE = dt.timedelta(seconds=MAX_TIMEOUT + 180)
FIVE_MINUTES = dt.timedelta(minutes=5)
HOUR = dt.timedelta(hours=1)
# A 5-minute bucket is rolled up once no result can still arrive for it: runs are stamped with
# the time they started and take at most MAX_TIMEOUT (plus the batch's recording).
SETTLE = dt.timedelta(seconds=MAX_TIMEOUT + 60)
#: How long each roll-up resolution is kept; None: for ever. See docs/monitoring.md.
ROLLUP_RETENTION: dict[str, dt.timedelta | None] = {
    Resolution.FIVE_MINUTES: dt.timedelta(days=8),
    Resolution.HOUR: dt.timedelta(days=90),
    Resolution.DAY: None,
}
DETAIL_LENGTH = 300


# --- scheduling ----------------------------------------------------------------------------------


def next_slot(slot: dt.datetime, interval: int, now: dt.datetime) -> dt.datetime:
    """The first slot ``slot + k × interval`` (k ≥ 1) later than ``now``."""
    step = dt.timedelta(seconds=interval)
    if now < slot:
        return slot + step
    missed = int((now - slot) / step)
    return slot + step * (missed + 1)


def claim_due(now: dt.datetime, limit: int) -> list[Check]:
    """Lease up to ``limit`` due checks for this worker and move each to its next slot.

    Each claim is a conditional UPDATE on the slot the worker saw, so of two workers only one
    gets a given slot; on PostgreSQL rows locked by another worker are skipped outright. The
    returned checks carry ``slot`` (the time they were due).
    """
    claimed: list[Check] = []
    lease = now + LEASE
    with transaction.atomic():
        qs = Check.objects.due(now).order_by("next_run_at", "pk")
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        for check in qs[:limit]:
            slot = check.next_run_at
            following = next_slot(slot, check.interval_seconds, now)
            taken = (
                Check.objects.filter(pk=check.pk, next_run_at=slot)
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
                .update(next_run_at=following, lease_until=lease, running_slot=now)
            )
            if taken:
                check.slot, check.next_run_at, check.lease_until = slot, following, lease
                check.running_slot = now
                claimed.append(check)
    return claimed


# --- running -------------------------------------------------------------------------------------


@functools.cache
def _trust_store(bundle_path: str | None) -> TrustStore:
    return TrustStore.system(Path(bundle_path).read_bytes() if bundle_path else None)


async def _run_tls(calls: list[dict[str, Any]], concurrency: int = 100) -> list[CheckResult]:
    trust = _trust_store(settings.MAMORI_CA_BUNDLE)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(kwargs: dict[str, Any]) -> CheckResult:
        timeout = kwargs["timeout"]
        async with semaphore:
            try:
                async with asyncio.timeout(timeout + 1):
                    return await check_tls(**kwargs, trust=trust)
            except TimeoutError:
                return CheckResult.down(
                    timeout * 1000, CheckError.TIMEOUT, f"no TLS answer within {seconds(timeout)}"
                )
            except Exception as exc:  # a bug in one check must not lose the batch
                detail = f"internal error in the tls check: {type(exc).__name__}: {exc}"
                return CheckResult.down(0.0, CheckError.INTERNAL_ERROR, detail)

    return list(await asyncio.gather(*(one(kwargs) for kwargs in calls)))


async def _run_all(calls: list[tuple[str, dict[str, Any]]]) -> list[CheckResult]:
    plain = [index for index, (kind, _) in enumerate(calls) if kind != CheckKind.TLS]
    tls = [index for index, (kind, _) in enumerate(calls) if kind == CheckKind.TLS]
    plain_results, tls_results = await asyncio.gather(
        run_checks([calls[i] for i in plain], concurrency=max(1, min(500, len(plain)))),
        _run_tls([calls[i][1] for i in tls]),
    )
    results: list[CheckResult | None] = [None] * len(calls)
    for index, result in zip(plain + tls, [*plain_results, *tls_results], strict=True):
        results[index] = result
    return [r for r in results if r is not None]


def run_checks_for(checks: Sequence[Check]) -> list[CheckResult]:
    """Run ``checks`` concurrently (no database access); results in the same order. A check
    whose stored settings are invalid is not run and comes back down with ``invalid_target``."""
    calls: list[tuple[str, dict[str, Any]]] = []
    runnable: list[int] = []
    results: list[CheckResult | None] = [None] * len(checks)
    for index, check in enumerate(checks):
        problems = validate_settings(check.kind, check.settings)
        if problems:
            results[index] = CheckResult.down(
                0.0, CheckError.INVALID_TARGET, "invalid settings: " + "; ".join(problems)
            )
            continue
        calls.append(probe_call(check.kind, check.settings, check.timeout_seconds))
        runnable.append(index)
    if calls:
        for index, result in zip(runnable, asyncio.run(_run_all(calls)), strict=True):
            results[index] = result
    return [r for r in results if r is not None]


def _transition(check: Check, ok: bool) -> str:
    """Count the result and return the state it confirms (MON-02). A first success from
    ``unknown`` confirms ``up`` at once; every other change needs its confirmations."""
    if ok:
        check.consecutive_successes += 1
        check.consecutive_failures = 0
        if check.state == CheckState.UNKNOWN or (
            check.state == CheckState.DOWN
            and check.consecutive_successes >= check.recoveries_to_confirm
        ):
            return CheckState.UP
    else:
        check.consecutive_failures += 1
        check.consecutive_successes = 0
        if (
            check.state != CheckState.DOWN
            and check.consecutive_failures >= check.failures_to_confirm
        ):
            return CheckState.DOWN
    return check.state


def record_result(check: Check, result: CheckResult, at: dt.datetime) -> str | None:
    """Store one run started at ``at``: a :class:`Sample`, the counters, the confirmed state,
    and release the lease; open or recover the check's incident in the same transaction
    (:func:`mamori.monitoring.incidents.evaluate`). Returns the new state when it changed,
    else None."""
    detail = result.detail if (not result.ok or result.error_code) else ""
    with transaction.atomic():
        if Sample.objects.filter(uptime_check=check, at=at).exists():
            # This run was recorded already (a batch handed out again after a worker died).
            Check.objects.filter(pk=check.pk, running_slot=at).update(
                lease_until=None, running_slot=None
            )
            return None
        Sample.objects.create(
            uptime_check=check,
            at=at,
            ok=result.ok,
            duration_ms=max(0, round(result.duration_ms)),
            error_code=result.error_code[:32],
            detail=detail[:DETAIL_LENGTH],
        )
        old = check.state
        new = _transition(check, result.ok)
        changed = new != old
        if changed:
            check.state, check.state_changed_at = new, at
        check.last_run_at = at
        check.last_result = result.to_json()
        check.lease_until = check.running_slot = None
        Check.objects.filter(pk=check.pk).update(
            state=check.state,
            state_changed_at=check.state_changed_at,
            consecutive_failures=check.consecutive_failures,
            consecutive_successes=check.consecutive_successes,
            last_run_at=at,
            last_result=check.last_result,
            lease_until=None,
            running_slot=None,
        )
        incidents.evaluate(check, result, at, changed)
    return new if changed else None


@dataclass
class RunReport:
    ran: int = 0
    up: int = 0
    down: int = 0
    changes: list[tuple[int, str, str]] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> str:
        return (
            f"ran {self.ran} check(s): {self.up} up, {self.down} down; "
            f"{len(self.changes)} state change(s)"
            + (f"; {self.errors} could not be recorded" if self.errors else "")
        )


def run_due(now: dt.datetime | None = None, batch: int = 500) -> RunReport:
    """Run every due check, ``batch`` at a time, and record the results.

    ``now`` fixes the clock (tests); by default each batch takes the current time.
    """
    report = RunReport()
    while True:
        started = now or timezone.now()
        checks = claim_due(started, batch)
        if not checks:
            return report
        for check, result in zip(checks, run_checks_for(checks), strict=True):
            try:
                old = check.state
                new = record_result(check, result, started)
            except Exception:
                # The lease expires and the next slot runs it again.
                log.exception("recording the result of check %s failed", check.pk)
                report.errors += 1
                continue
            report.ran += 1
            report.up += result.ok
            report.down += not result.ok
            if new:
                report.changes.append((check.pk, old, new))


# --- roll-ups and retention (MON-10) -------------------------------------------------------------


def _floor(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


def retention() -> dt.timedelta:
    return dt.timedelta(hours=settings.MAMORI_RESULT_RETENTION_HOURS)


def _p95(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]  # nearest-rank


def _upsert(rows: list[Rollup]) -> None:
    Rollup.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["uptime_check", "resolution", "start"],
        update_fields=["count", "up_count", "sum_ms", "min_ms", "max_ms", "p95_ms"],
    )


def _roll_five_minutes(start: dt.datetime, end: dt.datetime) -> int:
    """Recompute the 5-minute buckets in [start, end) from samples, an hour at a time."""
    written = 0
    window = start
    while window < end:
        window_end = min(window + HOUR, end)
        buckets: dict[tuple[int, dt.datetime], list[tuple[bool, int]]] = defaultdict(list)
        rows = (
            Sample.objects.filter(at__gte=window, at__lt=window_end)
            .order_by()
            .values_list("uptime_check_id", "at", "ok", "duration_ms")
        )
        for check_id, at, ok, ms in rows.iterator(chunk_size=5000):
            buckets[(check_id, _floor(at, FIVE_MINUTES))].append((ok, ms))
        rollups = []
        for (check_id, bucket), runs in buckets.items():
            durations = [ms for _, ms in runs]
            rollups.append(
                Rollup(
                    uptime_check_id=check_id,
                    resolution=Resolution.FIVE_MINUTES,
                    start=bucket,
                    count=len(runs),
                    up_count=sum(ok for ok, _ in runs),
                    sum_ms=sum(durations),
                    min_ms=min(durations),
                    max_ms=max(durations),
                    p95_ms=_p95(durations),
                )
            )
        _upsert(rollups)
        written += len(rollups)
        window = window_end
    return written


def _roll_coarser(
    source: str, target: str, start: dt.datetime, end: dt.datetime, trunc: type
) -> int:
    """Recompute ``target`` buckets from ``source`` roll-ups starting in [start, end)."""
    tz = timezone.get_current_timezone() if target == Resolution.DAY else UTC
    sums = (
        Rollup.objects.filter(resolution=source, start__gte=start, start__lt=end)
        .annotate(bucket=trunc("start", tzinfo=tz))
        .order_by()
        .values("uptime_check_id", "bucket")
        .annotate(
            n=Sum("count"),
            up=Sum("up_count"),
            ms=Sum("sum_ms"),
            low=Min("min_ms"),
            high=Max("max_ms"),
        )
    )
    rows = [
        Rollup(
            uptime_check_id=row["uptime_check_id"],
            resolution=target,
            start=row["bucket"],
            count=row["n"],
            up_count=row["up"],
            sum_ms=row["ms"],
            min_ms=row["low"],
            max_ms=row["high"],
        )
        for row in sums
    ]
    _upsert(rows)
    return len(rows)


@dataclass
class RollupReport:
    five_minutes: int = 0
    hours: int = 0
    days: int = 0


def roll_up(now: dt.datetime | None = None, *, since: dt.datetime | None = None) -> RollupReport:
    """Roll closed 5-minute buckets up from samples, and the hours and days they touch.

    By default it continues after the newest 5-minute roll-up; ``since`` recomputes from an
    earlier time (never before the retention, whose samples may be gone). Buckets are
    recomputed whole and upserted, so running it again gives the same roll-ups. Daily buckets
    start at local midnight of ``TIME_ZONE``.
    """
    now = now or timezone.now()
    end = _floor(now - SETTLE, FIVE_MINUTES)
    earliest = _floor(now - retention(), FIVE_MINUTES) + FIVE_MINUTES
    if since is None:
        newest = Rollup.objects.filter(resolution=Resolution.FIVE_MINUTES).aggregate(
            newest=Max("start")
        )["newest"]
        since = newest + FIVE_MINUTES if newest else earliest
    start = max(_floor(since, FIVE_MINUTES), earliest)
    report = RollupReport()
    if start >= end:
        return report
    # Skip straight to the first result (after a quiet spell there may be hours of nothing).
    first = Sample.objects.filter(at__gte=start, at__lt=end).aggregate(first=Min("at"))["first"]
    if first is None:
        return report
    start = max(start, _floor(first, FIVE_MINUTES))
    with transaction.atomic():
        report.five_minutes = _roll_five_minutes(start, end)
        hour = _floor(start, HOUR)
        report.hours = _roll_coarser(Resolution.FIVE_MINUTES, Resolution.HOUR, hour, end, TruncHour)
        local = timezone.localtime(hour)
        day = timezone.make_aware(dt.datetime(local.year, local.month, local.day), local.tzinfo)
        report.days = _roll_coarser(Resolution.HOUR, Resolution.DAY, day, end, TruncDay)
    return report


@dataclass
class PurgeReport:
    samples: int = 0
    rollups: int = 0


def purge(now: dt.datetime | None = None) -> PurgeReport:
    """Delete samples older than ``MAMORI_RESULT_RETENTION_HOURS`` and roll-ups older than
    :data:`ROLLUP_RETENTION` (daily ones are kept)."""
    now = now or timezone.now()
    report = PurgeReport()
    report.samples, _ = Sample.objects.filter(at__lt=now - retention()).delete()
    for resolution, keep in ROLLUP_RETENTION.items():
        if keep is not None:
            deleted, _ = Rollup.objects.filter(resolution=resolution, start__lt=now - keep).delete()
            report.rollups += deleted
    return report


@dataclass
class MonitoringReport:
    run: RunReport = field(default_factory=RunReport)
    rollup: RollupReport = field(default_factory=RollupReport)
    purged: PurgeReport = field(default_factory=PurgeReport)
