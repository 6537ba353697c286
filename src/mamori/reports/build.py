"""The figures of a client's month (RPT-01), gathered from the functions the pages use.

:func:`build` returns a JSON-ready snapshot: codes, numbers, dates and the names of the
client's own things (sites, checks, certificates), never sentences. Each section is taken from
the one function its page or API reads:

- availability: :func:`mamori.monitoring.sla.measured` (the SLA page's per-check availability)
  and the checks' daily roll-ups for the chart; SLA: :func:`mamori.monitoring.sla.figures`
  and the stored :class:`~mamori.monitoring.models.SlaCredit` of the month (its credit);
- incidents: the client's incidents overlapping the month; maintenance:
  :func:`mamori.monitoring.maintenance.upcoming` over the month;
- certificates: served certificates expiring in the month, orders issued, installations,
  revocations and approvals (mamori.certificates, mamori.lifecycle);
- backups: runs and restore drills (mamori.backups); updates and findings (mamori.advisories);
- requests and work time: :func:`mamori.desk.work.month_work`; the client's waits:
  :func:`mamori.clients.waits.client_delay`;
- visitors: :func:`mamori.weblogs.services.month_figures` per site;
- announcements: :func:`mamori.announcements.services.sent_for`;
- next month: maintenance windows, certificates expiring, updates queued.

A section is present only when it has something, and only when a contract in force in the
month covers its subject (:data:`SUBJECTS`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db.models import F, Q
from django.utils import timezone

from mamori.advisories.models import Finding, UpdateRecord, UpdateState
from mamori.announcements import services as announcements
from mamori.backups.models import BackupRun, RunKind
from mamori.certificates.models import CertificateSighting
from mamori.clients import terms, waits
from mamori.clients.models import Client, ContractType
from mamori.desk.models import Request
from mamori.desk.work import month_work
from mamori.inventory.models import Site
from mamori.lifecycle.models import (
    Approval,
    ApprovalState,
    Deployment,
    DeploymentState,
    Order,
    OrderState,
    Revocation,
    RevocationState,
)
from mamori.monitoring import maintenance, sla
from mamori.monitoring.models import (
    Incident,
    MaintenanceWindow,
    Resolution,
    Rollup,
    SlaCredit,
    SlaPolicy,
)
from mamori.weblogs.services import month_figures

#: The format of the snapshot; a renderer refuses what it does not know.
FORMAT = 1

_MON = {ContractType.SITE_MAINTENANCE, ContractType.SERVER_MANAGEMENT}
#: Which contract types cover which section (001 site maintenance, 002 server management,
#: 004 operations support, 000 SSL management, 003 CA service).
SUBJECTS: dict[str, set[str]] = {
    "availability": _MON | {ContractType.OPERATIONS_SUPPORT},
    "incidents": _MON | {ContractType.OPERATIONS_SUPPORT},
    "sla": _MON | {ContractType.OPERATIONS_SUPPORT},
    "maintenance": _MON | {ContractType.OPERATIONS_SUPPORT},
    "certificates": {ContractType.SSL_MANAGEMENT, ContractType.CA_SERVICE},
    "backups": set(_MON),
    "updates": set(_MON),
    "work": _MON | {ContractType.OPERATIONS_SUPPORT},
    "visitors": set(_MON),
    "announcements": set(ContractType.values),
    "next_month": set(ContractType.values),
}
SECTIONS = list(SUBJECTS)


def month_span(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The month as [start, end) in the operators' time zone (as the SLA pages count it)."""
    return sla.month_bounds(month)


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _minutes(delta: dt.timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def covered_types(client: Client, month: dt.date) -> set[str]:
    """The types of the client's contracts in force at some time in ``month``."""
    first = month.replace(day=1)
    last = first + relativedelta(months=1) - dt.timedelta(days=1)
    found = set()
    for contract in client.contracts.select_related("terms_profile").prefetch_related("notices"):
        end = terms.effective_end(contract)
        if contract.start <= last and (end is None or end >= first):
            found.add(contract.type)
    return found


# --- sections -------------------------------------------------------------------------------------


def availability(client: Client, month: dt.date) -> dict | None:
    start, end = month_span(month)
    whole = SlaPolicy(client=client, client_id=client.pk)
    checks = []
    for row in sla.measured(whole, month):
        if not row.runs:
            continue
        days = {
            r.start.astimezone(timezone.get_default_timezone()).date().isoformat(): [
                r.count,
                r.up_count,
            ]
            for r in Rollup.objects.filter(
                uptime_check=row.check,
                resolution=Resolution.DAY,
                start__gte=start,
                start__lt=end,
            ).order_by("start")
        }
        checks.append(
            {
                "check": row.check.pk,
                "name": row.check.name,
                "kind": row.check.kind,
                "runs": row.runs,
                "up": row.up,
                "percent": _dec(row.percent),
                "days": days,
            }
        )
    return {"checks": checks} if checks else None


def incidents(client: Client, month: dt.date) -> dict | None:
    start, end = month_span(month)
    now = timezone.now()
    rows = []
    found = (
        Incident.objects.filter(client=client, started_at__lt=end)
        .filter(Q(recovered_at__isnull=True) | Q(recovered_at__gte=start))
        .order_by("started_at", "pk")
    )
    for incident in found:
        until = incident.recovered_at or min(now, end)
        rows.append(
            {
                "id": incident.pk,
                "title": incident.title,
                "cause": incident.cause,
                "total_outage": incident.total_outage,
                "started_at": _iso(incident.started_at),
                "recovered_at": _iso(incident.recovered_at),
                "minutes": _minutes(until - incident.started_at),
            }
        )
    if not rows:
        return None
    return {"count": len(rows), "incidents": rows}


def sla_section(client: Client, month: dt.date) -> dict | None:
    rows = []
    policies = SlaPolicy.objects.filter(client=client).select_related("site", "server")
    for policy in policies.order_by("name"):
        if sla.policy_period(policy, month) is None:
            continue
        stored = SlaCredit.objects.filter(policy=policy, month=month).first()
        try:
            result = sla.figures(policy, month)
        except sla.SlaError:
            continue
        rows.append(
            {
                "policy": policy.pk,
                "name": policy.name,
                "target_percent": _dec(policy.target_percent),
                "availability_percent": _dec(result.availability_percent),
                "downtime_minutes": result.downtime_minutes,
                "maintenance_minutes": result.maintenance_minutes,
                "excluded_minutes": result.excluded_minutes,
                "client_delay_minutes": result.client_delay_minutes,
                "credit_percent": _dec(result.credit_percent),
                "provisional": result.provisional,
                # The credit on the invoice is the stored month (finalized by an operator).
                "credit_amount": _dec(stored.credit_amount) if stored else None,
                "currency": policy.currency,
                "finalized": bool(stored and stored.finalized_at),
            }
        )
    return {"policies": rows} if rows else None


def _windows(client: Client, start: dt.datetime, end: dt.datetime) -> list[dict]:
    windows = MaintenanceWindow.objects.filter(client=client).select_related("site", "server")
    return [
        {
            "window": w.pk,
            "title": w.title,
            "site": w.site.name if w.site_id else None,
            "server": w.server.name if w.server_id else None,
            "starts_at": _iso(s),
            "ends_at": _iso(e),
            "minutes": _minutes(e - s),
        }
        for w, s, e in maintenance.upcoming(windows, start, end)
    ]


def maintenance_section(client: Client, month: dt.date) -> dict | None:
    rows = _windows(client, *month_span(month))
    return {"windows": rows} if rows else None


def _expiring(client: Client, start: dt.datetime, end: dt.datetime) -> list[dict]:
    sightings = (
        # Served when it expired: still served, or replaced only after its expiry (a report
        # built days after the month's end still names a certificate replaced since).
        CertificateSighting.objects.filter(endpoint__client=client)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=F("certificate__not_after")))
        .filter(
            certificate__not_after__gte=start,
            certificate__not_after__lt=end,
        )
        .select_related("certificate", "endpoint")
        .order_by("certificate__not_after", "pk")
    )
    seen: dict[int, dict] = {}
    for s in sightings:
        seen.setdefault(
            s.certificate_id,
            {
                "certificate": s.certificate_id,
                "name": s.certificate.subject_cn or s.certificate.subject,
                "not_after": _iso(s.certificate.not_after),
            },
        )
    return list(seen.values())


def certificates(client: Client, month: dt.date) -> dict | None:
    start, end = month_span(month)
    orders = Order.objects.filter(
        managed__client=client, state=OrderState.ISSUED, finished_at__gte=start, finished_at__lt=end
    ).select_related("managed")
    issued = [
        {"order": o.pk, "name": o.managed.name, "purpose": o.purpose, "at": _iso(o.finished_at)}
        for o in orders.order_by("finished_at", "pk")
    ]
    deployments = Deployment.objects.filter(
        target__managed__client=client,
        state=DeploymentState.SUCCEEDED,
        finished_at__gte=start,
        finished_at__lt=end,
    ).select_related("target__managed")
    installed = [
        {"deployment": d.pk, "name": d.target.managed.name, "at": _iso(d.finished_at)}
        for d in deployments.order_by("finished_at", "pk")
    ]
    revocations = Revocation.objects.filter(
        client=client, state=RevocationState.DONE, done_at__gte=start, done_at__lt=end
    ).select_related("certificate")
    revoked = [
        {
            "revocation": r.pk,
            "name": r.certificate.subject_cn or r.certificate.subject,
            "reason": r.reason,
            "at": _iso(r.done_at),
        }
        for r in revocations.order_by("done_at", "pk")
    ]
    approvals = Approval.objects.filter(managed__client=client).select_related("managed")
    decided = [
        {"approval": a.pk, "name": a.managed.name, "state": a.state, "at": _iso(a.decided_at)}
        for a in approvals.filter(decided_at__gte=start, decided_at__lt=end).order_by(
            "decided_at", "pk"
        )
    ]
    # Awaited at the month's end: asked before it and not decided by then (one decided since,
    # before the report was built, was still awaited on the last day).
    open_at_end = approvals.filter(requested_at__lt=end).filter(
        Q(state=ApprovalState.REQUESTED, decided_at__isnull=True) | Q(decided_at__gte=end)
    )
    awaited = [
        {"approval": a.pk, "name": a.managed.name, "since": _iso(a.requested_at)}
        for a in open_at_end.order_by("requested_at", "pk")
    ]
    section = {
        "expiring": _expiring(client, start, end),
        "issued": issued,
        "installed": installed,
        "revoked": revoked,
        "approvals_decided": decided,
        "approvals_awaited": awaited,
    }
    return section if any(section.values()) else None


def backups(client: Client, month: dt.date) -> dict | None:
    start, end = month_span(month)
    runs = (
        BackupRun.objects.filter(job__client=client, kind__in=[RunKind.BACKUP, RunKind.DRILL])
        # As the backups page places a run: on the day it started, or (never started, missed)
        # on the day it was due; so a run late over a month's end is counted in one month.
        .filter(
            Q(started_at__gte=start, started_at__lt=end)
            | Q(started_at__isnull=True, due_at__gte=start, due_at__lt=end)
        )
        .select_related("job")
    )
    jobs: dict[int, dict] = {}
    for run in runs.order_by("job__name", "pk"):
        row = jobs.setdefault(
            run.job_id,
            {"job": run.job_id, "name": run.job.name, "backup": Counter(), "drill": Counter()},
        )
        row[run.kind][run.state] += 1
    if not jobs:
        return None
    rows = [
        {**row, "backup": dict(sorted(row["backup"].items())), "drill": dict(row["drill"])}
        for row in jobs.values()
    ]
    return {"jobs": rows}


def updates(client: Client, month: dt.date) -> dict | None:
    start, end = month_span(month)
    done = UpdateRecord.objects.filter(
        client=client,
        state__in=[UpdateState.DONE, UpdateState.SUCCEEDED],
        performed_at__gte=start,
        performed_at__lt=end,
    ).select_related("server", "site")
    records = [
        {
            "update": u.pk,
            "package": u.package,
            "from_version": u.from_version,
            "to_version": u.to_version,
            "kind": u.kind,
            "where": (u.site.name if u.site_id else u.server.name if u.server_id else None),
            "advisories": len(u.advisories or []),
            "at": _iso(u.performed_at),
        }
        for u in done.order_by("performed_at", "pk")
    ]
    findings = Finding.objects.filter(server__client=client)
    opened = Counter(
        findings.filter(opened_at__gte=start, opened_at__lt=end).values_list("level", flat=True)
    )
    closed = Counter(
        findings.filter(closed_at__gte=start, closed_at__lt=end).values_list("level", flat=True)
    )
    still_open = Counter(
        findings.filter(opened_at__lt=end)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=end))
        .values_list("level", flat=True)
    )
    if not (records or opened or closed or still_open):
        return None
    return {
        "updates": records,
        "findings_opened": dict(sorted(opened.items())),
        "findings_closed": dict(sorted(closed.items())),
        "findings_open_at_end": dict(sorted(still_open.items())),
    }


def work(client: Client, month: dt.date) -> dict | None:
    start, end = month_span(month)
    logged = month_work(client, month)
    received = Request.objects.filter(client=client, received_at__gte=start, received_at__lt=end)
    delay = waits.client_delay(client, month)
    wait_minutes = sum(_minutes(task.total) for task in delay)
    section = {
        "requests_received": received.count(),
        "minutes": logged.minutes,
        "requests": [
            {
                "request": r.request.number,
                "subject": r.request.subject,
                "minutes": r.minutes,
                "entries": len(r.entries),
            }
            for r in logged.requests
        ],
        "client_wait_minutes": wait_minutes,
        "client_waits": sum(len(task.spans) for task in delay),
    }
    if not (section["requests_received"] or section["minutes"] or wait_minutes):
        return None
    return section


def visitors(client: Client, month: dt.date) -> dict | None:
    rows = []
    for site in Site.objects.filter(client=client).order_by("name"):
        f = month_figures(site, month, top=5)
        if not f.has_data:
            continue
        rows.append(
            {
                "site": site.pk,
                "name": site.name,
                "page_views": f.page_views,
                "visitors": f.visitors,
                "hits": f.hits,
                "bot_hits": f.bot_hits,
                "search_bot_hits": f.search_bot_hits,
                "top_pages": [[k, n] for k, n in f.top.get("page", [])],
                "top_referrers": [[k, n] for k, n in f.top.get("referrer", [])],
                "top_countries": [[k, n] for k, n in f.top.get("country", [])],
            }
        )
    return {"sites": rows} if rows else None


def announcements_section(client: Client, month: dt.date) -> dict | None:
    rows = [
        {
            "announcement": a["id"],
            "kind": a["kind"],
            "effective_on": a["effective_on"].isoformat(),
            "subject_ja": a["subject_ja"],
            "subject_en": a["subject_en"],
            "notified_at": _iso(a["notified_at"]),
        }
        for a in announcements.sent_for(client, month)
    ]
    return {"announcements": rows} if rows else None


def next_month(client: Client, month: dt.date, covered: set[str]) -> dict | None:
    following = month.replace(day=1) + relativedelta(months=1)
    start, end = month_span(following)
    section: dict[str, Any] = {"month": f"{following:%Y-%m}"}
    if covered & SUBJECTS["maintenance"]:
        section["windows"] = _windows(client, start, end)
    if covered & SUBJECTS["certificates"]:
        section["expiring"] = _expiring(client, start, end)
    if covered & SUBJECTS["updates"]:
        section["updates"] = [
            {"update": u.pk, "package": u.package, "to_version": u.to_version}
            for u in UpdateRecord.objects.filter(client=client, state=UpdateState.QUEUED).order_by(
                "pk"
            )
        ]
    if not any(v for k, v in section.items() if k != "month"):
        return None
    return section


# --- the whole report -----------------------------------------------------------------------------

_BUILDERS = {
    "availability": availability,
    "incidents": incidents,
    "sla": sla_section,
    "maintenance": maintenance_section,
    "certificates": certificates,
    "backups": backups,
    "updates": updates,
    "work": work,
    "visitors": visitors,
    "announcements": announcements_section,
}


def build(client: Client, month: dt.date) -> dict[str, Any]:
    """The snapshot of ``client``'s ``month`` (any day of it): ``{"format", "client",
    "month", "sections": {code: figures}}`` with only the sections that have something and
    that a contract covers."""
    month = month.replace(day=1)
    covered = covered_types(client, month)
    sections: dict[str, Any] = {}
    for code, builder in _BUILDERS.items():
        if not covered & SUBJECTS[code]:
            continue
        found = builder(client, month)
        if found:
            sections[code] = found
    planned = next_month(client, month, covered) if covered else None
    if planned:
        sections["next_month"] = planned
    return {
        "format": FORMAT,
        "client": client.code,
        "month": f"{month:%Y-%m}",
        "contract_types": sorted(covered),
        "sections": sections,
    }
