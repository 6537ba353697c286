"""Prometheus metrics, computed from the database at each scrape.

Mamori's work is done by several processes (``mamori serve`` and its probe processes in
embedded mode; the scheduler and Celery workers in scaled-out mode), so no process can count
it in memory. :class:`MamoriCollector` instead asks the database, with a fixed handful of
aggregate queries whatever the number of checks, notices or certificates, so any one web
process answers for all of them. The metric names and labels are listed in docs/metrics.md.

Labels are bounded: check kind and state, notice state and channel, order issuer and state,
deployment state, a certificate's days-left bucket, a background job's name. No metric has a
label per check, client or certificate.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from django.db.models import Avg, Count, Max, Min, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from mamori.core.models import User

log = logging.getLogger(__name__)

#: Runs of the last this many seconds make the check run and duration gauges.
RECENT_WINDOW = dt.timedelta(minutes=5)
#: An enabled check whose slot passed this long ago without a worker taking it is late.
LATE_AFTER = dt.timedelta(seconds=60)
#: Days-left buckets of watched certificates: (label, lower bound in days, upper bound).
DAYS_LEFT_BUCKETS: list[tuple[str, int | None, int | None]] = [
    ("expired", None, 0),
    ("0-7", 0, 7),
    ("7-14", 7, 14),
    ("14-30", 14, 30),
    ("30-60", 30, 60),
    ("60+", 60, None),
]
PAUSED = "paused"


class JobRunRow(NamedTuple):
    """What is known of one background job: how often it ran and how its last run went."""

    name: str
    runs: int
    failures: int
    last_duration: float | None  # seconds
    last_finished: dt.datetime | None


def job_runs() -> list[JobRunRow]:
    """One row per registered background job (:mod:`mamori.operations.jobs`), from the runs
    each mode records in the database; a job that never ran counts zero runs."""
    from mamori.operations.jobs import job_runs as recorded

    return [
        JobRunRow(r.name, r.runs, r.failures, r.last_duration, r.last_finished_at)
        for r in recorded()
    ]


def may_see(user: User) -> bool:
    """Whether ``user`` may read the metrics: they count every client's checks, notices and
    certificates, so only those who see every client (provider administrators, operators)."""
    from mamori.core.models import ALL_CLIENT_ROLES

    return user.is_active and (user.is_superuser or user.role in ALL_CLIENT_ROLES)


def _check_metrics(now: dt.datetime) -> Iterator[Metric]:
    from mamori.monitoring.kinds import CheckKind
    from mamori.monitoring.models import Check, CheckState, Sample

    states = [*CheckState.values, PAUSED]
    counts = {(kind, state): 0 for kind in CheckKind.values for state in states}
    for row in Check.objects.values("kind", "state", "enabled").annotate(n=Count("pk")):
        state = row["state"] if row["enabled"] else PAUSED
        key = (row["kind"], state)
        counts[key] = counts.get(key, 0) + row["n"]
    checks = GaugeMetricFamily(
        "mamori_checks",
        "Uptime checks by kind and confirmed state (paused: disabled, whatever its last state).",
        labels=["kind", "state"],
    )
    for (kind, state), n in sorted(counts.items()):
        checks.add_metric([kind, state], n)
    yield checks

    late = Check.objects.filter(enabled=True, next_run_at__lte=now - LATE_AFTER).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    )
    yield GaugeMetricFamily(
        "mamori_checks_late",
        f"Enabled checks whose run is more than {int(LATE_AFTER.total_seconds())} s overdue and "
        "that no worker holds: the probe workers are not keeping up.",
        value=late.count(),
    )

    recent = {kind: None for kind in CheckKind.values}
    rows = (
        Sample.objects.filter(at__gt=now - RECENT_WINDOW)
        .values("uptime_check__kind")
        .annotate(
            runs=Count("pk"),
            failed=Count("pk", filter=Q(ok=False)),
            avg_ms=Avg("duration_ms"),
            max_ms=Max("duration_ms"),
        )
        .order_by()
    )
    for row in rows:
        recent[row["uptime_check__kind"]] = row
    window = int(RECENT_WINDOW.total_seconds())
    runs = GaugeMetricFamily(
        "mamori_check_runs_recent",
        f"Check runs recorded in the last {window} s, by kind.",
        labels=["kind"],
    )
    failed = GaugeMetricFamily(
        "mamori_check_failed_runs_recent",
        f"Failed check runs recorded in the last {window} s, by kind (before confirmation).",
        labels=["kind"],
    )
    avg = GaugeMetricFamily(
        "mamori_check_duration_avg_seconds",
        f"Mean run time of the check runs of the last {window} s, by kind.",
        labels=["kind"],
    )
    peak = GaugeMetricFamily(
        "mamori_check_duration_max_seconds",
        f"Longest run time of the check runs of the last {window} s, by kind.",
        labels=["kind"],
    )
    for kind, row in sorted(recent.items()):
        runs.add_metric([kind], row["runs"] if row else 0)
        failed.add_metric([kind], row["failed"] if row else 0)
        if row:
            avg.add_metric([kind], float(row["avg_ms"]) / 1000)
            peak.add_metric([kind], row["max_ms"] / 1000)
    yield from (runs, failed, avg, peak)


def _incident_metrics() -> Iterator[Metric]:
    from mamori.monitoring.models import Incident, IncidentState

    counts = Incident.objects.aggregate(
        open=Count("pk", filter=Q(state=IncidentState.OPEN)),
        recovered=Count("pk", filter=Q(state=IncidentState.RECOVERED)),
        unacknowledged=Count(
            "pk", filter=Q(state=IncidentState.OPEN, acknowledged_at__isnull=True)
        ),
    )
    incidents = GaugeMetricFamily(
        "mamori_incidents",
        "Incidents not yet closed: open (still down) and recovered (waiting to be closed).",
        labels=["state"],
    )
    incidents.add_metric([IncidentState.OPEN], counts["open"])
    incidents.add_metric([IncidentState.RECOVERED], counts["recovered"])
    yield incidents
    yield GaugeMetricFamily(
        "mamori_incidents_unacknowledged",
        "Open incidents no operator has acknowledged yet.",
        value=counts["unacknowledged"],
    )


def _notice_metrics(now: dt.datetime) -> Iterator[Metric]:
    from mamori.notices.models import Channel, Notice, NoticeState

    notices = GaugeMetricFamily(
        "mamori_notices",
        "Notices in the outbox by state and channel: pending and retry are the backlog, failed "
        "gave up after its retries, sent is the record of what went out.",
        labels=["state", "channel"],
    )
    counts = {(s, c): 0 for s in NoticeState.values for c in Channel.values}
    oldest: dict[str, dt.datetime] = {}
    rows = Notice.objects.values("state", "channel").annotate(
        n=Count("pk"), first=Min("created_at")
    )
    for row in rows.order_by():
        counts[(row["state"], row["channel"])] = row["n"]
        if row["first"] is not None and (
            row["state"] not in oldest or row["first"] < oldest[row["state"]]
        ):
            oldest[row["state"]] = row["first"]
    for (state, channel), n in sorted(counts.items()):
        notices.add_metric([state, channel], n)
    yield notices
    age = GaugeMetricFamily(
        "mamori_notice_oldest_waiting_seconds",
        "Age of the oldest notice still waiting to be sent (pending) or retried (retry); 0 when "
        "none waits.",
        labels=["state"],
    )
    for state in (NoticeState.PENDING, NoticeState.RETRY):
        first = oldest.get(state)
        age.add_metric([state], max(0.0, (now - first).total_seconds()) if first else 0.0)
    yield age


def _lifecycle_metrics() -> Iterator[Metric]:
    from mamori.lifecycle.models import (
        Deployment,
        DeploymentState,
        IssuerKind,
        Order,
        OrderState,
    )

    orders = GaugeMetricFamily(
        "mamori_certificate_orders",
        "Certificate orders by issuer (acme, manual) and state.",
        labels=["issuer", "state"],
    )
    counts = {(i, s): 0 for i in IssuerKind.values for s in OrderState.values}
    for row in Order.objects.values("issuer", "state").annotate(n=Count("pk")).order_by():
        counts[(row["issuer"], row["state"])] = row["n"]
    for (issuer, state), n in sorted(counts.items()):
        orders.add_metric([issuer, state], n)
    yield orders

    deployments = GaugeMetricFamily(
        "mamori_certificate_deployments",
        "Certificate deployments by state.",
        labels=["state"],
    )
    by_state = dict.fromkeys(DeploymentState.values, 0)
    for row in Deployment.objects.values("state").annotate(n=Count("pk")).order_by():
        by_state[row["state"]] = row["n"]
    for state, n in sorted(by_state.items()):
        deployments.add_metric([state], n)
    yield deployments


def _certificate_metrics(now: dt.datetime) -> Iterator[Metric]:
    from mamori.certificates.models import Certificate, CertificateSighting
    from mamori.lifecycle.models import ManagedCertificate

    served = CertificateSighting.objects.filter(ended_at__isnull=True).values("certificate_id")
    managed = ManagedCertificate.objects.filter(certificate__isnull=False).values("certificate_id")
    watched = Certificate.objects.filter(Q(pk__in=served) | Q(pk__in=managed))

    def bucket(low: int | None, high: int | None) -> Q:
        q = Q()
        if low is not None:
            q &= Q(not_after__gt=now + dt.timedelta(days=low))
        if high is not None:
            q &= Q(not_after__lte=now + dt.timedelta(days=high))
        return q

    counts = watched.aggregate(
        **{
            f"b{i}": Count("pk", filter=bucket(low, high))
            for i, (_, low, high) in enumerate(DAYS_LEFT_BUCKETS)
        }
    )
    family = GaugeMetricFamily(
        "mamori_certificates",
        "Certificates served now by an endpoint or current for a managed certificate, by days "
        "left until they expire (the upper bound of each bucket is included).",
        labels=["days_left"],
    )
    for i, (label, _, _) in enumerate(DAYS_LEFT_BUCKETS):
        family.add_metric([label], counts[f"b{i}"])
    yield family


def _job_metrics(rows: list[JobRunRow]) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "mamori_job_runs",
        "Runs of each background job since it was first recorded.",
        labels=["job"],
    )
    failures = CounterMetricFamily(
        "mamori_job_failures", "Runs of each background job that failed.", labels=["job"]
    )
    duration = GaugeMetricFamily(
        "mamori_job_last_duration_seconds",
        "How long the last run of each job took.",
        labels=["job"],
    )
    finished = GaugeMetricFamily(
        "mamori_job_last_finished_timestamp_seconds",
        "When the last run of each job finished (Unix time).",
        labels=["job"],
    )
    for row in rows:
        runs.add_metric([row.name], row.runs)
        failures.add_metric([row.name], row.failures)
        if row.last_duration is not None:
            duration.add_metric([row.name], row.last_duration)
        if row.last_finished is not None:
            finished.add_metric([row.name], row.last_finished.timestamp())
    yield from (runs, failures, duration, finished)


class MamoriCollector(Collector):
    """Every Mamori metric, from the database at the time of the scrape; the background jobs'
    runs from ``jobs`` (by default :func:`job_runs`)."""

    def __init__(self, jobs: Callable[[], list[JobRunRow]] | None = None):
        self.jobs = jobs or job_runs

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        now = timezone.now()
        yield from _check_metrics(now)
        yield from _incident_metrics()
        yield from _notice_metrics(now)
        yield from _lifecycle_metrics()
        yield from _certificate_metrics(now)
        yield from _job_metrics(self.jobs())
        yield GaugeMetricFamily(
            "mamori_metrics_collect_seconds",
            "How long computing these metrics took.",
            value=time.perf_counter() - started,
        )


def registry() -> CollectorRegistry:
    """A registry holding only :class:`MamoriCollector` (no per-process metrics: they would
    describe whichever process happened to answer the scrape)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MamoriCollector())
    return reg


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The metrics as Prometheus text (or OpenMetrics when ``accept`` asks for it): the body
    and its content type."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry()), content_type


def wsgi_app(environ: dict, start_response: Callable) -> list[bytes]:
    """``GET /metrics`` without authentication, for the separate address of
    ``MAMORI_METRICS_LISTEN`` (a private network only Prometheus reaches); nothing else there."""
    from django.db import close_old_connections

    def answer(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8"):
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    if environ.get("PATH_INFO") != "/metrics":
        return answer("404 Not Found", b"Not found: Prometheus metrics are at /metrics.\n")
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return answer("405 Method Not Allowed", b"Only GET.\n")
    close_old_connections()
    try:
        body, content_type = exposition(environ.get("HTTP_ACCEPT", ""))
    except Exception:
        log.exception("computing the metrics failed")
        return answer("500 Internal Server Error", b"The metrics could not be computed.\n")
    finally:
        close_old_connections()
    return answer("200 OK", body, content_type)
