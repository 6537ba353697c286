"""The monthly SLA and its credit on the monthly fee (MON-07; contract 004 §30.4, §36; CT-09).

:func:`compute_month` turns one month of one :class:`SlaPolicy` into an :class:`SlaCredit`
row; :func:`finalize` freezes it and :func:`unbilled_finalized_credits` hands it to billing.
The rules, from the contract's text:

- **The month** is a calendar month in the operators' time zone (``TIME_ZONE``), clipped to the
  policy's ``valid_from``/``valid_until``. A month in progress can be computed (figures so far,
  open incidents counted until now) but not finalized.
- **Scope**: the policy covers the whole client, one site (its incidents, and those of the
  server hosting it) or one server (its incidents and those of the sites it hosts). Incidents
  that name neither a site nor a server are about the whole client and count for every policy.
- **What counts** (§36.1, §36.3, §36.4): only a *total outage* (利用が全くできない状態,
  ``Incident.total_outage``) whose cause is the provider's (:data:`SLA_CAUSES`: the provider's
  own, or not yet attributed, which makes the month provisional). Degraded service, and
  outages of the network carrier, the cloud or hosting vendor, the client, an attack, force
  majeure ... give nothing; their time is shown as ``excluded_minutes``.
- **From when** (§30.4: 当社が知った時から): a counted outage runs from when the provider knew
  of it (``confirmed_at``: the run that confirmed the failure, or when an operator recorded
  it) to its recovery (``recovered_at``). An incident opened by hand gets its recovery time
  recorded by an operator (:func:`mamori.monitoring.incidents.record_recovery`); its closing
  time is *not* its recovery: until the recovery is recorded it is open-ended (counted until
  now) and the month cannot be finalized.
- **Less maintenance** (MON-06): windows that cover the whole scope are left out of the month
  (availability is measured over the month minus them), and the windows covering an incident
  are left out of its outage.
- **Less waiting on the client** (CT-09): spans in which the incident waited on the client
  (:class:`mamori.clients.models.ClientWait`) are the client's delay, not the provider's: they
  are left out of the outage and shown as ``client_delay_minutes`` (the part of them that no
  other counted outage of the scope covered at the same time).
- **Overlapping incidents are one outage**: the counted incidents of the scope are merged
  into their union. An *outage* is one continuous stretch of that union (incidents that
  overlap or touch, from the provider's knowledge to the recovery); its length is the time
  in it that counts (less maintenance and client waiting). Decision: §30.4 measures "the
  period in which the service could not be used at all" (利用不能期間), which is a property
  of the service, not of how many incidents were recorded: two overlapping 4-hour incidents
  offset by 2 hours are one 6-hour outage and reach the 6-hour rule; two outages with service
  between them (even a minute) are two outages, each judged on its own. Waiting and
  maintenance inside an outage do not split it, they only shorten it.
- **The 6-hour rule** (§30.4): an outage shorter than ``long_outage_hours`` (6) gives nothing
  at all, neither by itself nor in the availability; from 6 hours the contract's SLA table
  applies (§36.1). An outage is judged by its whole length, also across the turn of a month.
- **The table** is data on the policy (``table``):

  - *by availability*: availability = 1 − downtime ÷ (month − maintenance), where downtime is
    the counted time of the outages of 6 hours or more, within the month. Minutes of downtime
    are rounded up and minutes of maintenance down (in the client's favour); the stored
    percentage is rounded down to 3 decimals, and the tiers compare the exact value
    (99.8999… is below 99.9). Availability below a tier's ``below`` earns its
    ``credit_percent``; of the tiers that match, the lowest ``below`` wins.
  - *by outage length*: the longest outage that began in the month (so an outage across the
    turn of a month is credited once) earns the credit of the longest tier whose ``hours`` it
    reaches.

  ``credit_amount`` = fee × percent (capped at 100 %), rounded down to whole units.
- **Provisional** when unattributed time is part of an outage that counts: the figure can only
  fall once the operators attribute it. Such a month cannot be finalized.
- **Finalized** months are immutable (the model refuses to save them again) and reach billing
  through :func:`unbilled_finalized_credits`, once: billing links an invoice line to the
  credit (``SlaCredit.<BILLED_RELATION>``), and a linked credit is not offered again.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.models import ClientWait
from mamori.core import audit
from mamori.monitoring import maintenance
from mamori.monitoring.models import (
    Cause,
    Check,
    Incident,
    MaintenanceWindow,
    Resolution,
    Rollup,
    SlaCredit,
    SlaPolicy,
    SlaTable,
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
    table: str
    minutes_in_month: int
    maintenance_minutes: int
    downtime_minutes: int
    excluded_minutes: int
    client_delay_minutes: int
    longest_outage_minutes: int
    availability: Fraction  # 0..1, exact
    tier_percent: Decimal  # what the table by availability gives
    length_percent: Decimal  # what the table by outage length gives
    provisional: bool
    #: Counted incidents no check will see recover (opened by hand, or closed while the check
    #: was paused) whose recovery is not recorded: they run until now.
    unrecovered: list[Incident] = field(default_factory=list)
    #: A counted outage touching the month is still open and may still change the credit.
    open_outage: bool = False

    @property
    def availability_percent(self) -> Decimal:
        """Rounded down to 3 decimals: never shown as reaching a threshold it missed."""
        return Decimal(math.floor(self.availability * 100_000)) / 1000

    @property
    def credit_percent(self) -> Decimal:
        percent = self.length_percent if self.table == SlaTable.OUTAGE_LENGTH else self.tier_percent
        return min(Decimal(100), percent)


def tier_credit(tiers: list[dict], availability: Fraction) -> Decimal:
    """The credit of the lowest tier whose ``below`` the availability is under; 0 if none."""
    percent = availability * 100
    matching = [t for t in tiers if percent < Fraction(Decimal(str(t["below"])))]
    if not matching:
        return Decimal(0)
    lowest = min(matching, key=lambda t: Decimal(str(t["below"])))
    return Decimal(str(lowest["credit_percent"]))


def length_credit(tiers: list[dict], outage_seconds: int) -> Decimal:
    """The credit of the longest tier whose ``hours`` the outage reaches; 0 if none."""
    matching = [t for t in tiers if outage_seconds >= Decimal(str(t["hours"])) * 3600]
    if not matching:
        return Decimal(0)
    longest = max(matching, key=lambda t: Decimal(str(t["hours"])))
    return Decimal(str(longest["credit_percent"]))


def credit_amount(fee: Decimal, percent: Decimal) -> Decimal:
    """``fee`` × ``percent`` %, rounded down to whole yen (or whole units of the currency)."""
    return (Decimal(fee) * percent / 100).quantize(Decimal(1), rounding=ROUND_DOWN)


def _end(incident: Incident, now: dt.datetime) -> dt.datetime:
    """When the service came back: the recovery (a check's, or recorded by an operator), or
    now while it is not known. Never the closing time (closing is paperwork)."""
    return incident.recovered_at or now


def _known(incident: Incident) -> dt.datetime:
    """When the provider knew of the outage (004 §30.4)."""
    return incident.confirmed_at or incident.started_at


def intersect(spans: Iterable[Span], others: Sequence[Span]) -> list[Span]:
    """The parts of ``spans`` that ``others`` cover."""
    spans = union(spans)
    return subtract(spans, subtract(spans, others))


def _in(spans: Iterable[Span], period: Span) -> list[Span]:
    return [c for c in (clip(s, period) for s in spans) if c[0] < c[1]]


def _waits(incidents: Sequence[Incident], now: dt.datetime) -> dict[int, list[Span]]:
    """The spans in which each incident waited on the client (CT-09), by incident id."""
    found: dict[int, list[Span]] = {}
    if not incidents:
        return found
    kind = ContentType.objects.get_for_model(Incident)
    waits = ClientWait.objects.filter(
        content_type=kind, object_id__in=[i.pk for i in incidents]
    ).order_by("since")
    for wait in waits:
        found.setdefault(wait.object_id, []).append(wait.span(now))
    return found


def figures(policy: SlaPolicy, month: dt.date, *, now: dt.datetime | None = None) -> Figures:
    """Compute ``month`` of ``policy`` (nothing is stored). Raises :class:`SlaError` for a month
    outside the policy's validity or not begun yet."""
    now = now or timezone.now()
    period = policy_period(policy, month)
    if period is None:
        raise SlaError(_("The policy is not valid in %(month)s.") % {"month": f"{month:%Y-%m}"})
    if period[0] > now:
        raise SlaError(_("%(month)s has not begun.") % {"month": f"{month:%Y-%m}"})
    wide = _wide(period)
    windows = list(MaintenanceWindow.objects.filter(client_id=policy.client_id))
    occurrences = {w.pk: maintenance.merged_periods([w], *wide) for w in windows}
    in_scope = set(
        MaintenanceWindow.objects.filter(scope_windows_filter(policy)).values_list("pk", flat=True)
    )
    scope_maintenance = union(
        clip(span, period) for pk in in_scope for span in occurrences.get(pk, [])
    )
    # Wide enough for an outage measured whole across the turn of a month.
    incidents = list(
        Incident.objects.filter(incident_filter(policy))
        .filter(started_at__lt=wide[1])
        .filter(Q(recovered_at__isnull=True) | Q(recovered_at__gt=wide[0]))
        .select_related("site", "uptime_check__site")
    )
    waits = _waits(incidents, now)

    stretches: list[Span] = []  # the counted incidents, from knowledge to recovery, whole
    counted: list[Span] = []  # the same less maintenance and waiting: the provider's time
    unattributed: list[Span] = []
    waited: list[Span] = []
    every: list[Span] = []  # every incident's downtime, less maintenance (for excluded)
    open_stretches: list[Span] = []
    unrecovered: list[Incident] = []
    for incident in incidents:
        end = _end(incident, now)
        own_windows = union(
            span for w in windows if covers(w, incident) for span in occurrences.get(w.pk, [])
        )
        every.extend(subtract([(incident.started_at, end)], own_windows))
        if not incident.counts_against_sla:
            continue
        stretch = (_known(incident), end)
        if stretch[0] >= stretch[1]:
            continue
        stretches.append(stretch)
        own_waits = intersect(waits.get(incident.pk, []), [stretch])
        waited.extend(subtract(own_waits, own_windows))
        mine = subtract([stretch], own_windows + own_waits)
        counted.extend(mine)
        if incident.cause == Cause.UNATTRIBUTED:
            unattributed.extend(mine)
        if incident.recovered_at is None:
            open_stretches.append(stretch)
            if incident.recovery_by_hand and stretch[0] < period[1]:
                unrecovered.append(incident)

    counted = union(counted)
    threshold = (policy.long_outage_hours or 0) * 3600
    qualifying: list[Span] = []
    longest = 0
    longest_qualifying = 0
    provisional = False
    open_outage = False
    for outage in union(stretches):
        own = intersect(counted, [outage])
        length = seconds(own)
        begins_here = period[0] <= outage[0] < period[1]
        touches = outage[0] < period[1] and outage[1] > period[0]
        if begins_here:
            longest = max(longest, length)
        if touches and intersect(open_stretches, [outage]):
            # Still running: it may yet reach 6 hours, or a longer tier.
            open_outage = open_outage or length < threshold or policy.table != SlaTable.AVAILABILITY
        if length < threshold:
            continue
        qualifying.extend(own)
        if begins_here:
            longest_qualifying = max(longest_qualifying, length)
        if touches and intersect(unattributed, [outage]):
            provisional = True

    downtime_spans = _in(qualifying, period)
    delay_spans = _in(subtract(union(waited), counted), period)
    excluded_spans = subtract(_in(every, period), downtime_spans + delay_spans)
    unrecovered = [i for i in unrecovered if _end(i, now) > period[0]]

    minutes_in_month = seconds([period]) // 60
    maintenance_minutes = seconds(scope_maintenance) // 60
    downtime = math.ceil(seconds(downtime_spans) / 60)
    available = minutes_in_month - maintenance_minutes
    availability = (
        Fraction(max(0, available - downtime), available) if available > 0 else Fraction(1)
    )
    return Figures(
        period=period,
        table=policy.table,
        minutes_in_month=minutes_in_month,
        maintenance_minutes=maintenance_minutes,
        downtime_minutes=downtime,
        excluded_minutes=math.ceil(seconds(excluded_spans) / 60),
        client_delay_minutes=seconds(delay_spans) // 60,
        longest_outage_minutes=longest // 60,
        availability=availability,
        tier_percent=tier_credit(policy.tiers or [], availability),
        length_percent=(
            length_credit(policy.length_tiers or [], longest_qualifying)
            if longest_qualifying
            else Decimal(0)
        ),
        provisional=provisional,
        unrecovered=unrecovered,
        open_outage=open_outage,
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
        "client_delay_minutes": result.client_delay_minutes,
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
    over, downtime is still unattributed (provisional), an incident opened by hand has no
    recorded recovery, or a total outage that could still change the credit is open.
    """
    now = now or timezone.now()
    policy = credit.policy
    if SlaCredit.objects.filter(pk=credit.pk, finalized_at__isnull=False).exists():
        raise SlaError(_("This month is finalized already."))
    if month_bounds(credit.month)[1] > now:
        raise SlaError(_("The month is not over yet."))
    _refusal(figures(policy, credit.month, now=now))
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


def _refusal(result: Figures) -> None:
    """Raise :class:`SlaError` when the month's figures may still change."""
    if result.unrecovered:
        raise SlaError(
            _(
                "No check saw incident %(ids)s recover and its recovery is not recorded: "
                "record when the service came back before finalizing."
            )
            % {"ids": ", ".join(f"#{i.pk}" for i in result.unrecovered)}
        )
    if result.provisional:
        raise SlaError(
            _("Some downtime of this month has no cause yet: attribute it before finalizing.")
        )
    if result.open_outage:
        raise SlaError(
            _("A total outage of this month is still open and may reach the long-outage limit.")
        )


#: The reverse relation of billing's invoice line to :class:`SlaCredit`
#: (``billing.InvoiceLine.sla_credit``, one-to-one, ``related_name="invoice_line"``). A credit
#: with such a line is billed.
BILLED_RELATION = "invoice_line"


def unbilled_finalized_credits(client_id: int, up_to_month: dt.date):
    """The finalized credits of ``client_id`` for ``up_to_month`` and the months before it
    that earn something and are not billed yet: what the next invoice run turns into negative
    lines (each once). Oldest first. Billing marks a credit billed by linking an invoice line
    to it (:data:`BILLED_RELATION`); until that relation exists every such credit is offered."""
    credits = SlaCredit.objects.filter(
        policy__client_id=client_id,
        finalized_at__isnull=False,
        month__lte=up_to_month.replace(day=1),
        credit_amount__gt=0,
    )
    if BILLED_RELATION in {f.name for f in SlaCredit._meta.get_fields()}:
        credits = credits.filter(**{f"{BILLED_RELATION}__isnull": True})
    return credits.select_related("policy").order_by("month", "policy__name", "pk")


def _audit_changes(credit: SlaCredit) -> dict:
    return {
        "month": f"{credit.month:%Y-%m}",
        "availability_percent": str(credit.availability_percent),
        "downtime_minutes": credit.downtime_minutes,
        "credit_percent": str(credit.credit_percent),
        "credit_amount": str(credit.credit_amount),
        "client_delay_minutes": credit.client_delay_minutes,
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
