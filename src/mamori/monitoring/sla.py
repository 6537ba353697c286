"""The monthly SLA and its credit on the monthly fee (MON-07; contract 004 §30.4, §36).

:func:`compute_month` turns one month of one :class:`SlaPolicy` into an :class:`SlaCredit`
row that billing reads; :func:`finalize` freezes it. The rules, in order:

- **The month** is a calendar month in the operators' time zone (``TIME_ZONE``), clipped to the
  policy's ``valid_from``/``valid_until``. A month in progress can be computed (figures so far,
  open incidents counted until now) but not finalized.
- **Scope**: the policy covers the whole client, one site (its incidents, and those of the
  server hosting it) or one server (its incidents and those of the sites it hosts). Incidents
  that name neither a site nor a server are about the whole client and count for every policy.
- **Maintenance** (MON-06): windows that cover the whole scope (the client's, the site's or its
  server's, the server's) are left out of the month: availability is measured over the month
  minus them. Each incident's downtime also leaves out the windows that cover that incident.
- **Downtime**: each incident in scope is down from ``started_at`` (the first failed run) to
  ``recovered_at`` (or now), clipped to the month, less maintenance. Incidents whose cause
  counts (:data:`SLA_CAUSES`: the provider's own, or not yet attributed) are merged into one
  union, ``downtime_minutes``; the others (carrier §36.3, cloud or hosting vendor §36.4,
  client, attack, force majeure ...) into ``excluded_minutes``, less what the counted union
  already holds. Overlapping incidents never count twice.
- **Availability** = 1 − downtime ÷ (month − maintenance). Minutes of downtime are rounded up
  and minutes of maintenance down (in the client's favour); the stored percentage is rounded
  down to 3 decimals, and the tiers compare the exact value (99.8999… is below 99.9).
- **Tiers**: availability below a tier's ``below`` earns its ``credit_percent``; of the tiers
  that match, the lowest ``below`` wins.
- **The 6-hour rule** (004 §30.4): a total outage of the provider is measured from when the
  provider learned of it (``confirmed_at``: the run that confirmed the failure, or when an
  operator recorded it) to its recovery, whole (not clipped to the month), less maintenance.
  Under ``long_outage_hours`` (6) it gives nothing by itself; at or over, it earns
  ``long_outage_credit_percent``. It belongs to the month in which the provider learned of it,
  so an outage across the turn of a month is credited once.
- **Credit**: the larger of the tier credit and the long-outage credit, capped at 100 %.
  §30.4 sends a long outage to §36, and §36.1 grants one reduction of the monthly fee under the
  one SLA table: the long outage already lowers the month's availability, so adding both would
  pay twice for the same hours. ``credit_amount`` = fee × percent, rounded down to whole units.
- **Provisional** when downtime without a cause was counted: the figure can only fall once the
  operators attribute it. Such a month cannot be finalized.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.core import audit
from mamori.monitoring import maintenance
from mamori.monitoring.models import (
    SLA_CAUSES,
    Cause,
    Check,
    Incident,
    IncidentState,
    MaintenanceWindow,
    Resolution,
    Rollup,
    SlaCredit,
    SlaPolicy,
)

Span = tuple[dt.datetime, dt.datetime]


class SlaError(Exception):
    """A month that cannot be computed or finalized; the message says why."""


# --- months ------------------------------------------------------------------------------------


def parse_month(text: str) -> dt.date:
    """``"2026-11"`` → 2026-11-01. Raises :class:`SlaError` for anything else."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        return dt.date(year, month, 1)
    except (ValueError, TypeError):
        raise SlaError(
            _("%(value)s is not a month: write it as YYYY-MM, e.g. 2026-11.") % {"value": text}
        ) from None


def month_bounds(month: dt.date) -> Span:
    """The start and end of ``month`` at local midnight of ``TIME_ZONE``."""
    tz = timezone.get_default_timezone()
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return (
        dt.datetime(first.year, first.month, 1, tzinfo=tz),
        dt.datetime(following.year, following.month, 1, tzinfo=tz),
    )


def previous_month(today: dt.date | None = None) -> dt.date:
    today = today or timezone.localdate()
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def policy_period(policy: SlaPolicy, month: dt.date) -> Span | None:
    """``month`` clipped to the policy's validity, or None when they do not meet."""
    start, end = month_bounds(month)
    tz = timezone.get_default_timezone()
    if policy.valid_from:
        f = policy.valid_from
        start = max(start, dt.datetime(f.year, f.month, f.day, tzinfo=tz))
    if policy.valid_until:
        u = policy.valid_until + dt.timedelta(days=1)
        end = min(end, dt.datetime(u.year, u.month, u.day, tzinfo=tz))
    return (start, end) if start < end else None


# --- intervals ---------------------------------------------------------------------------------


def union(spans: Iterable[Span]) -> list[Span]:
    """Sorted, merged spans (empty ones dropped)."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(spans: Iterable[Span], holes: Sequence[Span]) -> list[Span]:
    """``spans`` less every part covered by ``holes``."""
    result: list[Span] = []
    holes = union(holes)
    for start, end in union(spans):
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def seconds(spans: Iterable[Span]) -> int:
    return int(sum((end - start).total_seconds() for start, end in spans))


def clip(span: Span, period: Span) -> Span:
    return max(span[0], period[0]), min(span[1], period[1])


# --- scope ---------------------------------------------------------------------------------------


def _whole_client() -> Q:
    return Q(site__isnull=True, server__isnull=True)


def incident_filter(policy: SlaPolicy) -> Q:
    """Incidents that count for the policy's scope (see the module's docstring)."""
    scope = Q(client_id=policy.client_id)
    if policy.site_id:
        site = policy.site
        mine = Q(site_id=site.pk) | _whole_client()
        if site.server_id:
            mine |= Q(site__isnull=True, server_id=site.server_id)
        return scope & mine
    if policy.server_id:
        mine = Q(server_id=policy.server_id) | Q(site__server_id=policy.server_id)
        return scope & (mine | _whole_client())
    return scope


def scope_windows_filter(policy: SlaPolicy) -> Q:
    """Maintenance windows that cover the policy's whole scope."""
    scope = _whole_client()
    if policy.site_id:
        scope |= Q(site_id=policy.site_id)
        if policy.site.server_id:
            scope |= Q(server_id=policy.site.server_id, site__isnull=True)
    elif policy.server_id:
        scope |= Q(server_id=policy.server_id, site__isnull=True)
    return Q(client_id=policy.client_id, cancelled_at__isnull=True) & scope


def covers(window: MaintenanceWindow, incident: Incident) -> bool:
    """Whether ``window`` covers what ``incident`` is about (as :func:`maintenance.covering_filter`
    decides for a check: the client's windows, its site's, its server's, the site's server's)."""
    if window.site_id is None and window.server_id is None:
        return True
    site = incident.site or (incident.uptime_check.site if incident.uptime_check else None)
    server_id = incident.server_id or (
        incident.uptime_check.server_id if incident.uptime_check else None
    )
    if window.site_id is not None:
        return site is not None and window.site_id == site.pk
    return window.server_id in {server_id, site.server_id if site else None} - {None}


# --- the figures of a month ----------------------------------------------------------------------


@dataclass
class Figures:
    """One month of one policy, before it is stored. Minutes are whole minutes."""

    period: Span
    minutes_in_month: int
    maintenance_minutes: int
    downtime_minutes: int
    excluded_minutes: int
    longest_outage_minutes: int
    availability: Fraction  # 0..1, exact
    tier_percent: Decimal
    long_outage_percent: Decimal
    provisional: bool

    @property
    def availability_percent(self) -> Decimal:
        """Rounded down to 3 decimals: never shown as reaching a threshold it missed."""
        return Decimal(math.floor(self.availability * 100_000)) / 1000

    @property
    def credit_percent(self) -> Decimal:
        return min(Decimal(100), max(self.tier_percent, self.long_outage_percent))


def tier_credit(tiers: list[dict], availability: Fraction) -> Decimal:
    """The credit of the lowest tier whose ``below`` the availability is under; 0 if none."""
    percent = availability * 100
    matching = [t for t in tiers if percent < Fraction(Decimal(str(t["below"])))]
    if not matching:
        return Decimal(0)
    lowest = min(matching, key=lambda t: Decimal(str(t["below"])))
    return Decimal(str(lowest["credit_percent"]))


def credit_amount(fee: Decimal, percent: Decimal) -> Decimal:
    """``fee`` × ``percent`` %, rounded down to whole yen (or whole units of the currency)."""
    return (Decimal(fee) * percent / 100).quantize(Decimal(1), rounding=ROUND_DOWN)


def _end(incident: Incident, now: dt.datetime) -> dt.datetime:
    return incident.recovered_at or incident.closed_at or now


def outage_seconds(incident: Incident, windows: Sequence[Span], now: dt.datetime) -> int:
    """How long the provider has known of the outage (004 §30.4: from ``confirmed_at``) until
    its recovery, less maintenance."""
    known = incident.confirmed_at or incident.started_at
    end = _end(incident, now)
    return seconds(subtract([(known, end)], windows)) if end > known else 0


def figures(policy: SlaPolicy, month: dt.date, *, now: dt.datetime | None = None) -> Figures:
    """Compute ``month`` of ``policy`` (nothing is stored). Raises :class:`SlaError` for a month
    outside the policy's validity or not begun yet."""
    now = now or timezone.now()
    period = policy_period(policy, month)
    if period is None:
        raise SlaError(_("The policy is not valid in %(month)s.") % {"month": f"{month:%Y-%m}"})
    if period[0] > now:
        raise SlaError(_("%(month)s has not begun.") % {"month": f"{month:%Y-%m}"})
    windows = list(MaintenanceWindow.objects.filter(client_id=policy.client_id))
    occurrences = {w.pk: maintenance.merged_periods([w], *_wide(period)) for w in windows}
    in_scope = set(
        MaintenanceWindow.objects.filter(scope_windows_filter(policy)).values_list("pk", flat=True)
    )
    scope_maintenance = union(
        clip(span, period) for pk in in_scope for span in occurrences.get(pk, [])
    )

    counted: list[Span] = []
    excluded: list[Span] = []
    provisional = False
    longest = 0
    long_threshold = (policy.long_outage_hours or 0) * 3600
    long_percent = Decimal(0)
    incidents = (
        Incident.objects.filter(incident_filter(policy))
        .filter(started_at__lt=period[1])
        .filter(Q(recovered_at__isnull=True) | Q(recovered_at__gt=period[0]))
        .select_related("site", "uptime_check__site")
    )
    for incident in incidents:
        own_windows = union(
            span for w in windows if covers(w, incident) for span in occurrences.get(w.pk, [])
        )
        down = subtract([clip((incident.started_at, _end(incident, now)), period)], own_windows)
        counts = incident.cause in SLA_CAUSES
        (counted if counts else excluded).extend(down)
        if counts and incident.cause == Cause.UNATTRIBUTED and seconds(down) > 0:
            provisional = True
        known = incident.confirmed_at or incident.started_at
        if counts and incident.total_outage and period[0] <= known < period[1]:
            length = outage_seconds(incident, own_windows, now)
            longest = max(longest, length)
            if policy.long_outage_hours and length >= long_threshold:
                long_percent = Decimal(policy.long_outage_credit_percent)
                provisional = provisional or incident.cause == Cause.UNATTRIBUTED

    counted = union(counted)
    excluded = subtract(excluded, counted)
    minutes_in_month = seconds([period]) // 60
    maintenance_minutes = seconds(scope_maintenance) // 60
    downtime = math.ceil(seconds(counted) / 60)
    available = minutes_in_month - maintenance_minutes
    availability = (
        Fraction(max(0, available - downtime), available) if available > 0 else Fraction(1)
    )
    return Figures(
        period=period,
        minutes_in_month=minutes_in_month,
        maintenance_minutes=maintenance_minutes,
        downtime_minutes=downtime,
        excluded_minutes=math.ceil(seconds(excluded) / 60),
        longest_outage_minutes=longest // 60,
        availability=availability,
        tier_percent=tier_credit(policy.tiers or [], availability),
        long_outage_percent=long_percent,
        provisional=provisional,
    )


def _wide(period: Span) -> Span:
    """The period widened for long outages measured whole across the turn of a month."""
    return period[0] - dt.timedelta(days=62), period[1] + dt.timedelta(days=62)


# --- storing and finalizing ----------------------------------------------------------------------


def _fields(result: Figures, policy: SlaPolicy, now: dt.datetime) -> dict:
    percent = result.credit_percent
    return {
        "minutes_in_month": result.minutes_in_month,
        "maintenance_minutes": result.maintenance_minutes,
        "downtime_minutes": result.downtime_minutes,
        "excluded_minutes": result.excluded_minutes,
        "longest_outage_minutes": result.longest_outage_minutes,
        "availability_percent": result.availability_percent,
        "credit_percent": percent,
        "credit_amount": credit_amount(policy.monthly_fee, percent),
        "provisional": result.provisional,
        "computed_at": now,
    }


def compute_month(
    policy: SlaPolicy,
    month: dt.date,
    *,
    actor=None,
    request=None,
    now: dt.datetime | None = None,
) -> SlaCredit:
    """Compute and store ``month`` of ``policy`` (created or updated, audited as
    ``sla.compute``). A finalized month is returned as it is. Raises :class:`SlaError`."""
    now = now or timezone.now()
    month = month.replace(day=1)
    with transaction.atomic():
        credit = SlaCredit.objects.select_for_update().filter(policy=policy, month=month).first()
        if credit is not None and credit.finalized_at is not None:
            return credit
        values = _fields(figures(policy, month, now=now), policy, now)
        if credit is None:
            credit = SlaCredit.objects.create(policy=policy, month=month, **values)
        else:
            for name, value in values.items():
                setattr(credit, name, value)
            credit.save(update_fields=list(values))
        audit.record(
            "sla.compute",
            credit,
            actor=actor,
            request=request,
            client_id=policy.client_id,
            changes=_audit_changes(credit),
        )
    return credit


def finalize(credit: SlaCredit, user=None, *, request=None, now: dt.datetime | None = None):
    """Recompute ``credit``'s month one last time and freeze it for billing (``sla.finalize``).

    Raises :class:`SlaError` (and changes nothing) if it is finalized already, the month is not
    over, downtime is still unattributed (provisional), or a total outage that could still
    reach the long-outage threshold is open.
    """
    now = now or timezone.now()
    policy = credit.policy
    if SlaCredit.objects.filter(pk=credit.pk, finalized_at__isnull=False).exists():
        raise SlaError(_("This month is finalized already."))
    if month_bounds(credit.month)[1] > now:
        raise SlaError(_("The month is not over yet."))
    if figures(policy, credit.month, now=now).provisional:
        raise SlaError(
            _("Some downtime of this month has no cause yet: attribute it before finalizing.")
        )
    if _open_candidates(policy, credit.month, now):
        raise SlaError(
            _("A total outage of this month is still open and may reach the long-outage limit.")
        )
    with transaction.atomic():
        fresh = compute_month(policy, credit.month, actor=user, request=request, now=now)
        if fresh.finalized_at is not None:  # finalized meanwhile by someone else
            raise SlaError(_("This month is finalized already."))
        if fresh.provisional:  # an incident was opened or its cause reset meanwhile
            raise SlaError(
                _("Some downtime of this month has no cause yet: attribute it before finalizing.")
            )
        fresh.finalized_at = now
        fresh.save(update_fields=["finalized_at"])
        audit.record(
            "sla.finalize",
            fresh,
            actor=user,
            request=request,
            client_id=policy.client_id,
            changes=_audit_changes(fresh),
        )
    credit.refresh_from_db()
    return credit


def _open_candidates(policy: SlaPolicy, month: dt.date, now: dt.datetime) -> bool:
    if not policy.long_outage_hours:
        return False
    start, end = month_bounds(month)
    threshold = now - dt.timedelta(hours=policy.long_outage_hours)
    return (
        Incident.objects.filter(incident_filter(policy), total_outage=True)
        .filter(cause__in=SLA_CAUSES, state=IncidentState.OPEN, recovered_at__isnull=True)
        .filter(confirmed_at__gte=start, confirmed_at__lt=end, confirmed_at__gt=threshold)
        .exists()
    )


def _audit_changes(credit: SlaCredit) -> dict:
    return {
        "month": f"{credit.month:%Y-%m}",
        "availability_percent": str(credit.availability_percent),
        "downtime_minutes": credit.downtime_minutes,
        "credit_percent": str(credit.credit_percent),
        "credit_amount": str(credit.credit_amount),
        "provisional": credit.provisional,
    }


def compute_all(
    month: dt.date, *, client_code: str | None = None, actor=None, now=None
) -> list[SlaCredit]:
    """Compute ``month`` for every policy valid in it (of one client if given)."""
    policies = SlaPolicy.objects.select_related("client", "site", "server").order_by(
        "client__code", "name"
    )
    if client_code:
        policies = policies.filter(client__code=client_code)
    return [
        compute_month(policy, month, actor=actor, now=now)
        for policy in policies
        if policy_period(policy, month) is not None
    ]


def compute_closed_months(now: dt.datetime | None = None) -> list[SlaCredit]:
    """First figures for last month, once, as soon as it is over: every valid policy that has
    no row for it yet gets one (provisional or not), ready for billing. Later changes (a
    cause set, an incident closed) are taken in by computing again or finalizing."""
    now = now or timezone.now()
    month = previous_month(timezone.localdate(now))
    done = SlaCredit.objects.filter(month=month).values("policy_id")
    todo = SlaPolicy.objects.exclude(pk__in=done).select_related("client", "site", "server")
    return [
        compute_month(policy, month, now=now)
        for policy in todo
        if policy_period(policy, month) is not None
    ]


# --- measured availability (per check, from the daily roll-ups) ----------------------------------


@dataclass
class CheckAvailability:
    """What the checks measured, beside the incident-based SLA figure: every run counts,
    maintenance and every cause included. ``percent`` is None when the month has no data."""

    check: Check
    runs: int
    up: int

    @property
    def percent(self) -> Decimal | None:
        if not self.runs:
            return None
        return Decimal(math.floor(Fraction(self.up, self.runs) * 100_000)) / 1000


def check_filter(policy: SlaPolicy) -> Q:
    """The checks of the policy's scope (as :func:`incident_filter` chooses incidents)."""
    scope = Q(client_id=policy.client_id)
    if policy.site_id:
        mine = Q(site_id=policy.site_id) | Q(site__isnull=True, server__isnull=True)
        if policy.site.server_id:
            mine |= Q(site__isnull=True, server_id=policy.site.server_id)
        return scope & mine
    if policy.server_id:
        mine = Q(server_id=policy.server_id) | Q(site__server_id=policy.server_id)
        return scope & (mine | Q(site__isnull=True, server__isnull=True))
    return scope


def measured(policy: SlaPolicy, month: dt.date) -> list[CheckAvailability]:
    """Availability of each check in scope over ``month``, from its daily roll-ups (local days,
    so they fall exactly within the month)."""
    start, end = month_bounds(month)
    checks = list(Check.objects.filter(check_filter(policy)).order_by("name"))
    sums = {
        row["uptime_check_id"]: row
        for row in Rollup.objects.filter(
            uptime_check__in=checks, resolution=Resolution.DAY, start__gte=start, start__lt=end
        )
        .order_by()
        .values("uptime_check_id")
        .annotate(runs=Sum("count"), up=Sum("up_count"))
    }
    return [
        CheckAvailability(
            check,
            sums.get(check.pk, {}).get("runs") or 0,
            sums.get(check.pk, {}).get("up") or 0,
        )
        for check in checks
    ]
