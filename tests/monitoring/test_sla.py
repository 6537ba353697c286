"""The SLA's rules on incidents set up by hand (MON-07): the turn of a month, overlapping
incidents, scopes, maintenance, the 6-hour rule, tiers, rounding and finalizing.

Changed with issue 16 (the contract's rules, 004 §30.4/§36): outages under 6 hours no longer
lower the availability, degraded service never counts, and the credit is the one table's (no
"larger of availability and long outage"). The rules themselves, month by month, are in
``test_sla_contract.py``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from mamori.core.models import AuditEvent
from mamori.inventory.models import Server, Site
from mamori.monitoring import sla
from mamori.monitoring.models import (
    Cause,
    Incident,
    IncidentState,
    MaintenanceWindow,
    SlaCredit,
    SlaPolicy,
    SlaTable,
)

pytestmark = [pytest.mark.django_db, pytest.mark.req("MON-07")]


@pytest.fixture(autouse=True)
def english():
    """The refusals are matched by their English text (they are translated for Japanese
    readers, the default language)."""
    with translation.override("en"):
        yield


JST = ZoneInfo("Asia/Tokyo")
OCTOBER, NOVEMBER = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
NOV_MINUTES = 30 * 1440
LATER = dt.datetime(2026, 12, 5, tzinfo=JST)  # both months are over
TIERS = [
    {"below": 99.9, "credit_percent": 10},
    {"below": 99.5, "credit_percent": 15},
    {"below": 99.0, "credit_percent": 25},
]


@pytest.fixture(autouse=True)
def tokyo(settings):
    settings.TIME_ZONE = "Asia/Tokyo"


def jst(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=JST)


@pytest.fixture
def policy(acme) -> SlaPolicy:
    return SlaPolicy.objects.create(
        client=acme,
        name="SLA",
        monthly_fee=Decimal(50000),
        tiers=TIERS,
        long_outage_hours=6,
    )


@pytest.fixture
def by_length(acme) -> SlaPolicy:
    return SlaPolicy.objects.create(
        client=acme,
        name="SLA by length",
        monthly_fee=Decimal(50000),
        table=SlaTable.OUTAGE_LENGTH,
        length_tiers=[{"hours": 6, "credit_percent": 30}],
        long_outage_hours=6,
    )


def outage(client, start, end, *, cause=Cause.PROVIDER, confirmed=None, **extra) -> Incident:
    return Incident.objects.create(
        client=client,
        title=extra.pop("title", "outage"),
        started_at=start,
        confirmed_at=confirmed or start,
        recovered_at=end,
        state=IncidentState.RECOVERED if end else IncidentState.OPEN,
        cause=cause,
        **extra,
    )


def test_an_outage_across_the_turn_of_a_month_is_split_and_its_long_rule_counted_once(
    acme, policy, by_length
):
    """Oct 31 22:00 → Nov 1 05:00: a 7-hour outage, judged whole (≥ 6 h). By availability each
    month loses its part: October 120 minutes (1 − 120/44,640 = 99.731 % → 10 %), November 300
    (1 − 300/43,200 = 99.305… % → below 99.5 → 15 %). By length it was known in October, so
    October gets the credit (30 %) and November nothing."""
    outage(acme, jst(31, 22, month=10), jst(1, 5))
    october = sla.compute_month(policy, OCTOBER, now=LATER)
    november = sla.compute_month(policy, NOVEMBER, now=LATER)
    assert (october.minutes_in_month, october.downtime_minutes) == (31 * 1440, 120)
    assert october.longest_outage_minutes == 420
    assert october.credit_percent == 10
    assert (november.downtime_minutes, november.longest_outage_minutes) == (300, 0)
    assert november.availability_percent == Decimal("99.305")
    assert november.credit_percent == 15
    assert november.credit_amount == 7500
    assert sla.compute_month(by_length, OCTOBER, now=LATER).credit_percent == 30
    assert sla.compute_month(by_length, NOVEMBER, now=LATER).credit_percent == 0


def test_overlapping_incidents_count_once_and_excluded_time_is_what_counted_time_is_not(
    acme, policy
):
    outage(acme, jst(3, 10), jst(3, 14))  # 10:00–14:00
    outage(acme, jst(3, 12), jst(3, 16), cause=Cause.UNATTRIBUTED)  # 12:00–16:00
    outage(acme, jst(3, 15), jst(3, 17), cause=Cause.CARRIER)  # 15:00–17:00
    outage(acme, jst(3, 16, 45), jst(3, 17, 15), cause=Cause.HOSTING)  # 16:45–17:15
    credit = sla.compute_month(policy, NOVEMBER, now=LATER)
    assert credit.downtime_minutes == 360  # 10:00–16:00: one outage of 6 hours
    assert credit.excluded_minutes == 75  # 16:00–17:15
    assert credit.provisional is True  # the unattributed one counted


def test_a_finalized_month_does_not_change(acme, policy, operator):
    outage(acme, jst(3, 10), jst(3, 17))
    credit = sla.compute_month(policy, NOVEMBER, now=LATER)
    sla.finalize(credit, operator, now=LATER)
    outage(acme, jst(4, 0), jst(4, 23))  # found later: billing has the month already
    again = sla.compute_month(policy, NOVEMBER, now=LATER + dt.timedelta(days=1))
    assert again.pk == credit.pk
    assert (again.downtime_minutes, again.finalized_at) == (420, LATER)
    again.credit_amount = 0
    with pytest.raises(ValidationError):  # not even by hand
        again.save()
    with pytest.raises(sla.SlaError, match="finalized already"):
        sla.finalize(again, operator)
    assert AuditEvent.objects.filter(action="sla.finalize", actor=operator).count() == 1


def test_a_month_is_not_finalized_before_it_ends_or_while_downtime_has_no_cause(
    acme, policy, operator
):
    incident = outage(acme, jst(3, 10), jst(3, 17), cause=Cause.UNATTRIBUTED)
    credit = sla.compute_month(policy, NOVEMBER, now=jst(20, 0))
    with pytest.raises(sla.SlaError, match="not over"):
        sla.finalize(credit, operator, now=jst(20, 0))
    with pytest.raises(sla.SlaError, match="no cause"):
        sla.finalize(credit, operator, now=LATER)
    credit.refresh_from_db()
    assert credit.finalized_at is None and credit.provisional is True
    incident.cause = Cause.PROVIDER
    incident.save()
    credit = sla.finalize(credit, operator, now=LATER)
    assert credit.finalized_at == LATER and credit.provisional is False


def test_an_open_total_outage_that_may_still_reach_six_hours_holds_finalizing(
    acme, policy, make_check
):
    check = make_check(acme, "tcp", {"host": "www.acme.example", "port": 443})
    outage(acme, jst(1, 3, month=12), None, confirmed=jst(1, 3, month=12), uptime_check=check)
    november = sla.compute_month(policy, NOVEMBER, now=jst(1, 5, month=12))
    # The outage is December's; November can be finalized.
    assert sla.finalize(november, None, now=jst(1, 5, month=12)).finalized_at is not None
    Incident.objects.all().delete()
    # open since Nov 30 23:00, known for 4 hours by Dec 1 03:00
    outage(acme, jst(30, 23), None, uptime_check=check)
    policy2 = SlaPolicy.objects.create(client=acme, name="SLA 2", monthly_fee=1000, tiers=TIERS)
    credit = sla.compute_month(policy2, NOVEMBER, now=jst(1, 3, month=12))
    with pytest.raises(sla.SlaError, match="still open"):
        sla.finalize(credit, None, now=jst(1, 3, month=12))


@pytest.fixture
def places(acme):
    web01 = Server.objects.create(client=acme, name="web01", kind="vps")
    db01 = Server.objects.create(client=acme, name="db01", kind="vps")
    www = Site.objects.create(
        client=acme, name="www", url="https://www.acme.example/", server=web01
    )
    shop = Site.objects.create(client=acme, name="shop", url="https://shop.acme.example/")
    return {"web01": web01, "db01": db01, "www": www, "shop": shop}


def test_a_policy_of_one_site_or_server_counts_only_what_it_covers(acme, places):
    """www (on web01) is down 6 hours, shop 7, web01 itself 8, db01 9, the whole client 10
    (an incident naming no site nor server)."""
    outage(acme, jst(2, 0), jst(2, 6), site=places["www"], server=None)
    outage(acme, jst(3, 0), jst(3, 7), site=places["shop"])
    outage(acme, jst(4, 0), jst(4, 8), server=places["web01"])
    outage(acme, jst(5, 0), jst(5, 9), server=places["db01"])
    outage(acme, jst(6, 0), jst(6, 10))

    def downtime(**scope) -> int:
        policy = SlaPolicy.objects.create(client=acme, name=str(scope), monthly_fee=1, **scope)
        return sla.compute_month(policy, NOVEMBER, now=LATER).downtime_minutes // 60

    assert downtime() == 6 + 7 + 8 + 9 + 10
    assert downtime(site=places["www"]) == 6 + 8 + 10
    assert downtime(site=places["shop"]) == 7 + 10
    assert downtime(server=places["web01"]) == 6 + 8 + 10
    assert downtime(server=places["db01"]) == 9 + 10


def test_maintenance_is_left_out_of_the_month_and_of_each_incident_it_covers(acme, places):
    """A client-wide window 02:00–03:00 (60 min) and a window on shop only 04:00–06:00. The
    client-wide policy loses 60 minutes of the month (shop's window covers only part of it);
    shop's policy loses 180. An outage of shop 01:00–11:00 counts 01:00–02:00, 03:00–04:00
    and 06:00–11:00 = 420 minutes for both (7 hours: it reaches the 6-hour rule)."""
    MaintenanceWindow.objects.create(
        client=acme, title="all", starts_at=jst(9, 2), ends_at=jst(9, 3)
    )
    MaintenanceWindow.objects.create(
        client=acme, title="shop", site=places["shop"], starts_at=jst(9, 4), ends_at=jst(9, 6)
    )
    MaintenanceWindow.objects.create(
        client=acme,
        title="cancelled",
        starts_at=jst(9, 1),
        ends_at=jst(9, 6),
        cancelled_at=jst(1, 0),
    )
    outage(acme, jst(9, 1), jst(9, 11), site=places["shop"])
    whole = SlaPolicy.objects.create(client=acme, name="all", monthly_fee=1)
    shop = SlaPolicy.objects.create(client=acme, name="shop", monthly_fee=1, site=places["shop"])
    for policy, maintenance in ((whole, 60), (shop, 180)):
        credit = sla.compute_month(policy, NOVEMBER, now=LATER)
        assert (credit.maintenance_minutes, credit.downtime_minutes) == (maintenance, 420)
        expected = Fraction(NOV_MINUTES - maintenance - 420, NOV_MINUTES - maintenance)
        assert sla.figures(policy, NOVEMBER, now=LATER).availability == expected


def test_the_six_hour_rule_counts_from_when_the_provider_knew(acme, policy, by_length):
    """Down from 00:00 but confirmed at 00:10: 5 h 55 min known → nothing at all (not even in
    the availability). The same outage confirmed at 00:05 is known for exactly 6 hours → the
    table: 360/43,200 → 99.166 % → 15 % by availability; 30 % by length."""
    incident = outage(acme, jst(7, 0), jst(7, 6, 5), confirmed=jst(7, 0, 10))
    credit = sla.compute_month(policy, NOVEMBER, now=LATER)
    assert (credit.longest_outage_minutes, credit.downtime_minutes) == (355, 0)
    assert credit.credit_percent == 0
    incident.confirmed_at = jst(7, 0, 5)
    incident.save()
    credit = sla.compute_month(policy, NOVEMBER, now=LATER)
    assert (credit.longest_outage_minutes, credit.downtime_minutes) == (360, 360)
    assert (credit.credit_percent, credit.credit_amount) == (15, 7500)
    credit = sla.compute_month(by_length, NOVEMBER, now=LATER)
    assert (credit.credit_percent, credit.credit_amount) == (30, 15000)


def test_the_six_hour_rule_needs_a_total_outage_of_the_provider_outside_maintenance(acme, policy):
    MaintenanceWindow.objects.create(client=acme, title="m", starts_at=jst(8, 2), ends_at=jst(8, 4))
    outage(acme, jst(8, 0), jst(8, 7))  # 7 h less 2 h of maintenance = 5 h
    outage(acme, jst(10, 0), jst(10, 9), total_outage=False)  # degraded, not unusable
    outage(acme, jst(12, 0), jst(12, 9), cause=Cause.HOSTING)  # the cloud's (§36.4)
    result = sla.figures(policy, NOVEMBER, now=LATER)
    assert result.longest_outage_minutes == 300
    assert result.credit_percent == 0
    # Changed with issue 16: the degraded one no longer lowers the availability (§36.1 counts
    # only 利用が全くできない状態).
    assert result.downtime_minutes == 0
    assert result.excluded_minutes == 420 - 120 + 540 + 540


def test_tiers_take_the_lowest_matching_one_and_compare_the_exact_availability():
    assert sla.tier_credit(TIERS, Fraction(999, 1000)) == 0  # exactly 99.9 %: not below
    assert sla.tier_credit(TIERS, Fraction(9989999, 10**7)) == 10  # 99.89999 %
    assert sla.tier_credit(TIERS, Fraction(995, 1000)) == 10
    assert sla.tier_credit(TIERS, Fraction(98, 100)) == 25
    assert sla.tier_credit(list(reversed(TIERS)), Fraction(98, 100)) == 25
    assert sla.tier_credit([], Fraction(0)) == 0


def test_the_credit_is_the_tables_capped_and_rounded_down(acme):
    """Changed with issue 16: one table (§36.1), no longer the larger of two rules."""
    policy = SlaPolicy.objects.create(
        client=acme,
        name="generous",
        monthly_fee=Decimal(33333),
        tiers=[{"below": 99.9, "credit_percent": 12.5}, {"below": 50, "credit_percent": 100}],
        long_outage_hours=6,
        length_tiers=[{"hours": 6, "credit_percent": 7.5}],  # not this table's
    )
    outage(acme, jst(3, 0), jst(3, 8))  # 480 min: 98.88 % → 12.5 %
    credit = sla.compute_month(policy, NOVEMBER, now=LATER)
    assert credit.credit_percent == Decimal("12.5")
    assert credit.credit_amount == 4166  # 33,333 × 12.5 % = 4,166.625
    outage(acme, jst(4, 0), jst(29, 0))  # 25 days down
    credit = sla.compute_month(policy, NOVEMBER, now=LATER)
    assert (credit.credit_percent, credit.credit_amount) == (100, 33333)
    assert sla.credit_amount(Decimal(999), Decimal("33.33")) == 332


def test_a_month_without_incidents_or_data_is_fully_available(acme, policy, make_check):
    make_check(acme, "tcp", {"host": "www.acme.example", "port": 443})
    credit = sla.compute_month(policy, NOVEMBER, now=LATER)
    assert (credit.downtime_minutes, credit.excluded_minutes, credit.maintenance_minutes) == (
        0,
        0,
        0,
    )
    assert credit.availability_percent == 100
    assert (credit.credit_percent, credit.credit_amount, credit.provisional) == (0, 0, False)
    [measured] = sla.measured(policy, NOVEMBER)
    assert (measured.runs, measured.percent) == (0, None)


def test_an_open_incident_counts_until_now_in_a_month_in_progress(acme, policy):
    outage(acme, jst(20, 0), None)
    assert sla.compute_month(policy, NOVEMBER, now=jst(20, 2)).downtime_minutes == 0  # < 6 h
    credit = sla.compute_month(policy, NOVEMBER, now=jst(20, 7))
    assert credit.downtime_minutes == 420
    later = sla.compute_month(policy, NOVEMBER, now=jst(20, 8))
    assert later.pk == credit.pk and later.downtime_minutes == 480
    assert SlaCredit.objects.count() == 1


def test_the_policy_counts_only_while_it_is_valid(acme, policy):
    policy.valid_from = dt.date(2026, 11, 16)
    policy.save()
    credit = sla.compute_month(policy, NOVEMBER, now=LATER)
    assert credit.minutes_in_month == 15 * 1440
    with pytest.raises(sla.SlaError, match="not valid"):
        sla.compute_month(policy, OCTOBER, now=LATER)
    with pytest.raises(sla.SlaError, match="has not begun"):
        sla.compute_month(policy, dt.date(2027, 1, 1), now=LATER)
    assert [c.month for c in sla.compute_all(OCTOBER, now=LATER)] == []
    assert [c.month for c in sla.compute_all(NOVEMBER, client_code="acme", now=LATER)] == [NOVEMBER]


@pytest.mark.parametrize("text", ["2026-13", "November", "2026/11", "", "2026-11-01"])
def test_a_month_must_be_written_as_year_and_month(text):
    with pytest.raises(sla.SlaError, match="YYYY-MM"):
        sla.parse_month(text)


def test_months_are_local_months():
    start, end = sla.month_bounds(NOVEMBER)
    assert start == dt.datetime(2026, 10, 31, 15, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 30, 15, tzinfo=dt.UTC)
    assert sla.parse_month(" 2026-11 ") == NOVEMBER


@pytest.mark.req("MON-07")
def test_the_background_pass_computes_last_month_once_when_it_is_over(acme, policy):
    outage(acme, jst(3, 1), jst(3, 8))
    on_first = jst(1, 0, 5, month=12)
    credits = sla.compute_closed_months(now=on_first)
    assert [(c.policy, c.month, c.downtime_minutes) for c in credits] == [
        (policy, dt.date(2026, 11, 1), 420)
    ]
    # Already there: later passes leave it (and the audit trail) alone.
    events = AuditEvent.objects.count()
    assert sla.compute_closed_months(now=on_first + dt.timedelta(hours=5)) == []
    assert AuditEvent.objects.count() == events
    assert SlaCredit.objects.filter(policy=policy).count() == 1
