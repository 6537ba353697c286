"""A scripted month of check results with known answers (MON-07).

November 2026 in Asia/Tokyo, one check of acme's site every 10 minutes, recorded through
``record_result`` so that the incident engine opens and recovers the incidents by itself, and
rolled up day by day. Then the operators attribute the causes and the month is computed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from mamori.monitoring import incidents, sla
from mamori.monitoring.models import Cause, Incident, MaintenanceWindow, SlaPolicy
from mamori.monitoring.services import record_result, roll_up
from mamori.probe.checks_result import CheckError, CheckResult

pytestmark = [pytest.mark.django_db, pytest.mark.req("MON-07")]

JST = ZoneInfo("Asia/Tokyo")
NOVEMBER = dt.date(2026, 11, 1)
STEP = dt.timedelta(minutes=10)
UP = CheckResult.up(120.0, "HTTP 200")
DOWN = CheckResult.down(3000.0, CheckError.TIMEOUT, "no answer within 3 s")


def jst(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=JST)


# Failed runs [from, to) in local time. A: 30 minutes (provider); B: 7 hours (provider, a total
# outage: the 6-hour rule); C: 2 hours (network carrier, 004 §36.3); D: inside the maintenance
# window of Nov 22 02:00–04:00 and 20 minutes beyond it (provider); E: one failed run, never
# confirmed (no incident).
OUTAGES = {
    "A": (jst(3, 10, 0), jst(3, 10, 30)),
    "B": (jst(10, 1, 0), jst(10, 8, 0)),
    "C": (jst(15, 13, 0), jst(15, 15, 0)),
    "D": (jst(22, 2, 30), jst(22, 4, 20)),
    "E": (jst(25, 12, 0), jst(25, 12, 10)),
}
MAINTENANCE = (jst(22, 2, 0), jst(22, 4, 0))


def is_down(at: dt.datetime) -> bool:
    return any(start <= at < end for start, end in OUTAGES.values())


@pytest.fixture
def november(settings, acme, acme_site, operator, make_check):
    """The month recorded and rolled up; the incidents attributed. Returns the check."""
    settings.TIME_ZONE = "Asia/Tokyo"
    MaintenanceWindow.objects.create(
        client=acme, title="OS update", starts_at=MAINTENANCE[0], ends_at=MAINTENANCE[1]
    )
    check = make_check(
        acme, "http", {"url": "https://www.acme.example/"}, site=acme_site, interval_seconds=600
    )
    at = jst(1, 0)
    end = jst(1, 0, month=12)
    day_end = at + dt.timedelta(days=1)
    while at < end:
        record_result(check, DOWN if is_down(at) else UP, at)
        at += STEP
        if at == day_end:
            roll_up(now=day_end + dt.timedelta(minutes=10))
            day_end += dt.timedelta(days=1)
    causes = {"A": Cause.PROVIDER, "B": Cause.PROVIDER, "C": Cause.CARRIER, "D": Cause.PROVIDER}
    opened = {i.started_at: i for i in Incident.objects.all()}
    assert sorted(opened) == [OUTAGES["A"][0], OUTAGES["B"][0], OUTAGES["C"][0], MAINTENANCE[1]]
    for name, cause in causes.items():
        started = MAINTENANCE[1] if name == "D" else OUTAGES[name][0]
        incidents.set_cause(opened[started], operator, cause)
    return check


@pytest.fixture
def policy(acme) -> SlaPolicy:
    return SlaPolicy.objects.create(
        client=acme,
        name="運用支援サービス SLA",
        monthly_fee=Decimal(123456),
        tiers=[
            {"below": 99.9, "credit_percent": 10},
            {"below": 99.5, "credit_percent": 15},
            {"below": 99.0, "credit_percent": 25},
            {"below": 95.0, "credit_percent": 50},
        ],
        long_outage_hours=6,
    )


def test_a_scripted_november_gives_the_credit_worked_out_by_hand(november, policy, operator):
    """November 2026 has 30 × 1,440 = 43,200 minutes.

    - Maintenance: the client-wide window of Nov 22 02:00–04:00 → 120 minutes.
    - A: failed runs 10:00–10:20, first success 10:30 → down 10:00–10:30 = 30 min (provider).
    - B: down 01:00–08:00 = 420 min (provider). Confirmed at the second failed run, 01:10: the
      provider knew of the total outage for 6 h 50 min = 410 min ≥ 6 h → the 6-hour rule.
    - C: down 13:00–15:00 = 120 min, network carrier → not counted (excluded_minutes 120).
    - D: failed runs from 02:30, inside the window: no incident. The failure outlasts the
      window, so the incident opens at 04:00 with its downtime starting there; first success
      04:20 → 20 min (provider).
    - E: one failed run, not confirmed → no incident, no SLA downtime.

    The contract (004 §30.4, §36.1; changed with issue 16): only B, a provider-caused total
    outage of 6 hours or more, counts, from when the provider knew of it: 410 min. A and D are
    shorter than 6 hours and give nothing; C is the carrier's. Not counted: A 30, B's 10 minutes
    before it was confirmed, C 120, D 20 = 180 (excluded_minutes).

    Availability = 1 − 410 / (43,200 − 120) = 42,670 / 43,080 = 99.04828…% → stored 99.048.
    Tiers: 99.048 is below 99.9 and 99.5 but not 99.0; the lowest matching tier is "below 99.5"
    → 15 % of ¥123,456 = ¥18,518.4 → ¥18,518 (rounded down).

    Measured by the checks (daily roll-ups): 30 × 144 = 4,320 runs, of which 3 (A) + 42 (B)
    + 12 (C) + 11 (D: 02:30–04:10) + 1 (E) = 69 failed → 4,251 / 4,320 = 98.40277…% → 98.402.
    """
    now = jst(1, 9, month=12)
    credit = sla.compute_month(policy, NOVEMBER, actor=operator, now=now)
    assert credit.month == NOVEMBER
    assert credit.minutes_in_month == 43200
    assert credit.maintenance_minutes == 120
    assert credit.downtime_minutes == 410
    assert credit.excluded_minutes == 180
    assert credit.client_delay_minutes == 0
    assert credit.longest_outage_minutes == 410
    assert credit.availability_percent == Decimal("99.048")
    assert credit.credit_percent == Decimal(15)
    assert credit.credit_amount == Decimal(18518)
    assert credit.provisional is False

    result = sla.figures(policy, NOVEMBER, now=now)
    assert result.availability == sla.Fraction(42670, 43080)
    assert (result.tier_percent, result.length_percent) == (Decimal(15), Decimal(0))

    [measured] = sla.measured(policy, NOVEMBER)
    assert (measured.check, measured.runs, measured.up) == (november, 4320, 4251)
    assert measured.percent == Decimal("98.402")

    finalized = sla.finalize(credit, operator, now=now)
    assert finalized.finalized_at == now
    assert finalized.credit_amount == Decimal(18518)
