"""Running checks, confirming state changes, rolling results up and purging them.

``run_due()`` claims due checks (:func:`claim_due`), runs a batch at once through
:func:`mamori.probe.checks.run_checks` (one ``asyncio.run`` per batch, no database access while
probing), then records each result in its own transaction (:func:`record_result`). ``roll_up()``
and ``purge()`` keep the history small (MON-10). ``operations/runner.py`` calls all three each pass.

Scheduling: a check runs in slots ``next_run_at``, ``+ interval``, ``+ 2 × interval`` ... The
claim moves ``next_run_at`` to the next slot after *now* in the same conditional UPDATE, so the
cadence never drifts, missed slots are skipped rather than run in a burst, and no two workers
can run the same slot. ``lease_until`` marks the check as running (its next slot is not claimed
before the result is recorded); a worker that dies loses that one run, and the lease expires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from mamori.monitoring import incidents, outcomes, registration
from mamori.monitoring.kinds import CheckKind, invalid_settings_result, probe_call
from mamori.monitoring.models import MAX_TIMEOUT, Check, CheckState, Resolution, Rollup, Sample
from mamori.monitoring.probing import run_tls_call, trust_store
from mamori.notices.models import NoticeKind
from mamori.notices.services import enqueue, operator_recipients
from mamori.probe.checks import run_checks
from mamori.probe.checks_result import CheckError, CheckResult

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


def claim_due(
    now: dt.datetime,
    limit: int,
    *,
    lease: dt.timedelta = LEASE,
    skip_running: bool = False,
    only: Sequence[int] | None = None,
) -> list[Check]:
    """Lease up to ``limit`` due checks for this worker and move each to its next slot.

    Each claim is a conditional UPDATE on the slot the worker saw, so of two workers only one
    gets a given slot; on PostgreSQL rows locked by another worker are skipped outright. The
    returned checks carry ``slot`` (the time they were due).

    ``skip_running`` leaves alone checks whose last run is still unrecorded (``running_slot``)
    even after their lease: the scaled-out scheduler hands those runs out again instead
    (:mod:`mamori.monitoring.distributed`). ``only`` limits the claim to those checks (a new
    check run at once, :func:`mamori.monitoring.checks.run_first`).
    """
    claimed: list[Check] = []
    lease_until = now + lease
    with transaction.atomic():
        qs = Check.objects.due(now).order_by("next_run_at", "pk")
        if skip_running:
            qs = qs.filter(running_slot__isnull=True)
        if only is not None:
            qs = qs.filter(pk__in=list(only))
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        for check in qs[:limit]:
            slot = check.next_run_at
            following = next_slot(slot, check.interval_seconds, now)
            taken = (
                Check.objects.filter(pk=check.pk, next_run_at=slot)
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
                .update(next_run_at=following, lease_until=lease_until, running_slot=now)
            )
            if taken:
                check.slot, check.next_run_at, check.lease_until = slot, following, lease_until
                check.running_slot = now
                claimed.append(check)
    return claimed


# --- running -------------------------------------------------------------------------------------


async def _run_tls(calls: list[dict[str, Any]], concurrency: int = 100) -> list[CheckResult]:
    trust = trust_store(settings.MAMORI_CA_BUNDLE or None)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(kwargs: dict[str, Any]) -> CheckResult:
        async with semaphore:
            return await run_tls_call(kwargs, trust)

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
        invalid = invalid_settings_result(check.kind, check.settings)
        if invalid is not None:
            results[index] = invalid
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
    says = not result.ok or bool(result.error_code)
    detail = result.detail if says else ""
    params = outcomes.params_for(check, result)
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
            params=params if says else {},
        )
        old = check.state
        new = _transition(check, result.ok)
        changed = new != old
        if changed:
            check.state, check.state_changed_at = new, at
        check.last_run_at = at
        check.last_result = {**result.to_json(), "params": params}
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
        registration.notify_expiring(check, result)
    return new if changed else None


def _is_quiet(check: Check, result: CheckResult) -> bool:
    """A success of a check that is up: it changes no state and touches no incident, so it
    can be recorded with others in one transaction (most results are these)."""
    return result.ok and check.state == CheckState.UP


def record_quiet(pairs: Sequence[tuple[Check, CheckResult]], at: dt.datetime) -> int:
    """Record many quiet results (:func:`_is_quiet`) of the run started at ``at`` in one
    transaction: the same rows :func:`record_result` writes, without paying a commit for
    each. Results already recorded for ``at`` are skipped. Returns how many were recorded."""
    with transaction.atomic():
        done = set(
            Sample.objects.filter(uptime_check__in=[c for c, _ in pairs], at=at).values_list(
                "uptime_check_id", flat=True
            )
        )
        fresh = [(check, result) for check, result in pairs if check.pk not in done]
        if done:
            Check.objects.filter(pk__in=done, running_slot=at).update(
                lease_until=None, running_slot=None
            )
        Sample.objects.bulk_create(
            [
                Sample(
                    uptime_check=check,
                    at=at,
                    ok=True,
                    duration_ms=max(0, round(result.duration_ms)),
                    error_code=result.error_code[:32],
                    detail=(result.detail if result.error_code else "")[:DETAIL_LENGTH],
                    params=outcomes.params_for(check, result) if result.error_code else {},
                )
                for check, result in fresh
            ],
            batch_size=500,
        )
        for check, result in fresh:
            _transition(check, True)
            check.last_run_at = at
            check.last_result = {**result.to_json(), "params": outcomes.params_for(check, result)}
            check.lease_until = check.running_slot = None
            if result.error_code:  # a flagged success: an expiring domain is told
                registration.notify_expiring(check, result)
        _update_rows(
            [check for check, _ in fresh],
            [
                "consecutive_failures",
                "consecutive_successes",
                "last_run_at",
                "last_result",
                "lease_until",
                "running_slot",
            ],
        )
    return len(fresh)


def _update_rows(checks: Sequence[Check], fields: Sequence[str]) -> None:
    """Write ``fields`` of many checks, one prepared UPDATE run for all rows.

    What ``bulk_update`` does, without its CASE expression per field and row: building those
    cost ~2.6 ms of CPU per check, most of the recording of a busy minute."""
    if not checks:
        return
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    meta = Check._meta
    columns = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    # Only quoted model metadata is formatted in; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    rows = [
        [column.get_db_prep_save(getattr(check, column.attname), connection) for column in columns]
        + [check.pk]
        for check in checks
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def record_results(
    checks: Sequence[Check], results: Sequence[CheckResult], at: dt.datetime, report: RunReport
) -> None:
    """Record a batch: the quiet results together (:func:`record_quiet`), every other one in
    its own transaction (:func:`record_result`). A result that cannot be recorded is logged;
    its lease expires and the check runs again at its next slot."""
    quiet = [(c, r) for c, r in zip(checks, results, strict=True) if _is_quiet(c, r)]
    others = [(c, r) for c, r in zip(checks, results, strict=True) if not _is_quiet(c, r)]
    if quiet:
        try:
            record_quiet(quiet, at)
            report.ran += len(quiet)
            report.up += len(quiet)
        except Exception:
            log.exception("recording %s results together failed; one by one instead", len(quiet))
            others = quiet + others
    for check, result in others:
        try:
            old = check.state
            new = record_result(check, result, at)
        except Exception:
            log.exception("recording the result of check %s failed", check.pk)
            report.errors += 1
            continue
        report.ran += 1
        report.up += result.ok
        report.down += not result.ok
        if new:
            report.changes.append((check.pk, old, new))


# --- Mamori's own outage (MON-02) ----------------------------------------------------------------

#: Failures to reach a target at all: what every check shows when Mamori's own network is down.
NETWORK_ERRORS = frozenset(
    {
        CheckError.TIMEOUT,
        CheckError.CONNECTION_REFUSED,
        CheckError.UNREACHABLE,
        CheckError.DNS_FAILURE,
    }
)
#: A batch is suspect when it has at least this many checks and this share of them failed to
#: connect; with no reference targets, only when all of at least OUTAGE_ALL_OF checks did.
OUTAGE_MIN_BATCH = 5
OUTAGE_MIN_SHARE = 0.5
OUTAGE_ALL_OF = 20
REFERENCE_TIMEOUT = 5.0


def unreachable(result: CheckResult) -> bool:
    return not result.ok and result.error_code in NETWORK_ERRORS


def reference_calls(entries: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Probe calls for ``MAMORI_MONITOR_REFERENCE_URLS``: an URL is fetched, ``host:port`` is
    connected to. Entries that are neither are logged and left out."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for entry in entries:
        if "://" in entry:
            calls.append((CheckKind.HTTP, {"url": entry, "timeout": REFERENCE_TIMEOUT}))
            continue
        host, _, port = entry.rpartition(":")
        host = host.strip("[]")
        if host and port.isdigit() and 0 < int(port) < 65536:
            calls.append(
                (CheckKind.TCP, {"host": host, "port": int(port), "timeout": REFERENCE_TIMEOUT})
            )
        else:
            log.error("MAMORI_MONITOR_REFERENCE_URLS: %r is neither a URL nor host:port", entry)
    return calls


def own_outage(results: Sequence[CheckResult]) -> bool:
    """Whether the failures of a batch are Mamori's own network outage, not its targets'.

    Only a batch of at least :data:`OUTAGE_MIN_BATCH` checks of which at least
    :data:`OUTAGE_MIN_SHARE` failed to connect (:data:`NETWORK_ERRORS`) is suspect. Then, with
    reference targets configured, it is Mamori's outage when none of them answers (any answer,
    even an HTTP error, proves the network works); without, when every check of a batch of at
    least :data:`OUTAGE_ALL_OF` failed to connect.
    """
    failed = sum(1 for result in results if unreachable(result))
    if len(results) < OUTAGE_MIN_BATCH or failed < len(results) * OUTAGE_MIN_SHARE:
        return False
    calls = reference_calls(settings.MAMORI_MONITOR_REFERENCE_URLS)
    if calls:
        answers = asyncio.run(run_checks(calls, concurrency=len(calls)))
        return all(unreachable(answer) for answer in answers)
    return len(results) >= OUTAGE_ALL_OF and failed == len(results)


def hold_back(
    checks: Sequence[Check],
    results: Sequence[CheckResult],
    at: dt.datetime,
    *,
    batch: Sequence[CheckResult] | None = None,
) -> set[int]:
    """If the batch's failures are Mamori's own outage (:func:`own_outage`), release the checks
    that failed to connect without recording anything (their counters and states do not move,
    no incident opens), warn, alert the operators once an hour, and return their pks.

    ``batch``: every result of the run when ``results`` are only some of them (the uptime
    runner passes its failures alone); the outage is judged over the whole run."""
    batch = results if batch is None else batch
    if not own_outage(batch):
        return set()
    held = {check.pk for check, result in zip(checks, results, strict=True) if unreachable(result)}
    Check.objects.filter(pk__in=held, running_slot=at).update(lease_until=None, running_slot=None)
    log.warning(
        "%s of %s checks could not connect at %s (%s): taken as Mamori's own network outage, "
        "their results are not recorded",
        len(held),
        len(batch),
        at.isoformat(),
        "nor could the reference targets"
        if settings.MAMORI_MONITOR_REFERENCE_URLS
        else "all of them, no reference targets set",
    )
    hour = at.astimezone(UTC).strftime("%Y-%m-%dT%H")
    details = sorted({r.detail for r in results if unreachable(r)})[:5]
    enqueue(
        NoticeKind.MONITORING_OUTAGE,
        f"monitoring-outage:{hour}",
        operator_recipients(),
        {
            "at": at,
            "held": len(held),
            "batch": len(batch),
            "references": settings.MAMORI_MONITOR_REFERENCE_URLS,
            "details": details,
        },
    )
    return held


@dataclass
class RunReport:
    ran: int = 0
    up: int = 0
    down: int = 0
    changes: list[tuple[int, str, str]] = field(default_factory=list)
    errors: int = 0
    held: int = 0

    def summary(self) -> str:
        return (
            f"ran {self.ran} check(s): {self.up} up, {self.down} down; "
            f"{len(self.changes)} state change(s)"
            + (f"; {self.errors} could not be recorded" if self.errors else "")
            + (f"; {self.held} not recorded (Mamori's own network outage)" if self.held else "")
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
        results = run_checks_for(checks)
        held = hold_back(checks, results, started)
        report.held += len(held)
        kept = [(c, r) for c, r in zip(checks, results, strict=True) if c.pk not in held]
        record_results([c for c, _ in kept], [r for _, r in kept], started, report)


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


def five_minute_buckets(rows: Iterable[tuple[int, dt.datetime, bool, int]]) -> list[Rollup]:
    """The 5-minute roll-ups (unsaved) of samples given as ``(check id, at, ok, duration_ms)``:
    what :func:`roll_up` stores, and what a check's page draws from the raw samples newer than
    the last stored roll-up (MON-10)."""
    buckets: dict[tuple[int, dt.datetime], list[tuple[bool, int]]] = defaultdict(list)
    for check_id, at, ok, ms in rows:
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
    return rollups


def _roll_five_minutes(start: dt.datetime, end: dt.datetime) -> int:
    """Recompute the 5-minute buckets in [start, end) from samples, an hour at a time."""
    written = 0
    window = start
    while window < end:
        window_end = min(window + HOUR, end)
        rows = (
            Sample.objects.filter(at__gte=window, at__lt=window_end)
            .order_by()
            .values_list("uptime_check_id", "at", "ok", "duration_ms")
        )
        rollups = five_minute_buckets(rows.iterator(chunk_size=5000))
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
