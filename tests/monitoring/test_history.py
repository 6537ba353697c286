"""Roll-ups and retention (MON-10): a scripted day of results gives known figures, rolling up
again changes nothing, and the purge keeps the roll-ups."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from mamori.monitoring.models import Check, Resolution, Rollup, Sample
from mamori.monitoring.services import purge, roll_up

pytestmark = pytest.mark.req("MON-10")

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = dt.datetime(2026, 11, 20, tzinfo=TOKYO)  # local midnight = 2026-11-19 15:00 UTC
MINUTE = dt.timedelta(minutes=1)
OUTAGE = (DAY + dt.timedelta(hours=10), DAY + dt.timedelta(hours=10, minutes=30))


@pytest.fixture
def scripted_day(acme, settings):
    """One check run every minute of a local day: up (100–199 ms) except a 30-minute outage
    from 10:00 to 10:30 (timeouts of 5000 ms)."""
    settings.TIME_ZONE = "Asia/Tokyo"
    check = Check.objects.create(
        client=acme, name="www", kind="tcp", settings={"host": "www.acme.example", "port": 443}
    )
    samples = []
    for minute in range(24 * 60):
        at = DAY + minute * MINUTE
        down = OUTAGE[0] <= at < OUTAGE[1]
        samples.append(
            Sample(
                uptime_check=check,
                at=at,
                ok=not down,
                duration_ms=5000 if down else 100 + minute % 100,
                error_code="timeout" if down else "",
            )
        )
    Sample.objects.bulk_create(samples)
    return check


def snapshot() -> list[tuple]:
    return list(
        Rollup.objects.order_by("resolution", "start").values_list(
            "resolution", "start", "count", "up_count", "sum_ms", "min_ms", "max_ms", "p95_ms"
        )
    )


def test_a_scripted_day_rolls_up_to_known_figures(scripted_day):
    now = DAY + dt.timedelta(days=1, hours=1)

    report = roll_up(now)

    assert (report.five_minutes, report.hours, report.days) == (288, 24, 1)
    day = Rollup.objects.get(resolution=Resolution.DAY)
    assert day.start == DAY
    assert (day.count, day.up_count) == (1440, 1410)
    assert day.availability == pytest.approx(1410 / 1440)
    assert (day.min_ms, day.max_ms) == (100, 5000)
    # 1410 up runs at 100 + minute % 100 ms, 30 down runs at 5000 ms.
    expected_sum = (
        sum(100 + m % 100 for m in range(1440))
        - sum(100 + m % 100 for m in range(600, 630))
        + 30 * 5000
    )
    assert day.sum_ms == expected_sum
    ten = Rollup.objects.get(resolution=Resolution.HOUR, start=OUTAGE[0])
    assert (ten.count, ten.up_count) == (60, 30)
    assert Rollup.objects.filter(resolution=Resolution.HOUR, up_count=60).count() == 23
    five = Rollup.objects.filter(resolution=Resolution.FIVE_MINUTES)
    assert five.filter(count=5).count() == 288
    assert five.filter(up_count=0).count() == 6
    first = five.get(start=DAY)
    assert (first.min_ms, first.max_ms, first.p95_ms, first.sum_ms) == (100, 104, 104, 510)


def test_rolling_up_again_changes_nothing(scripted_day):
    now = DAY + dt.timedelta(days=1, hours=1)
    roll_up(now)
    before = snapshot()

    again = roll_up(now)
    assert (again.five_minutes, again.hours, again.days) == (0, 0, 0)
    roll_up(now, since=DAY - dt.timedelta(hours=2))  # recompute everything still in raw form
    roll_up(now + dt.timedelta(minutes=30))

    assert snapshot() == before


def test_it_rolls_up_in_steps_to_the_same_figures(scripted_day):
    for hour in range(1, 27):  # as the background pass would, hour after hour
        roll_up(DAY + dt.timedelta(hours=hour))
    stepwise = snapshot()
    Rollup.objects.all().delete()
    roll_up(DAY + dt.timedelta(hours=26))
    assert snapshot() == stepwise


def test_purge_removes_old_raw_results_and_keeps_the_roll_ups(scripted_day, settings):
    settings.MAMORI_RESULT_RETENTION_HOURS = 48
    roll_up(DAY + dt.timedelta(days=1, hours=1))
    rolled = snapshot()

    now = DAY + dt.timedelta(hours=48 + 12)
    report = purge(now)

    assert report.samples == 12 * 60 and report.rollups == 0
    assert not Sample.objects.filter(at__lt=DAY + dt.timedelta(hours=12)).exists()
    assert Sample.objects.count() == 12 * 60
    # Rolling up after the purge leaves the buckets whose raw rows are gone as they were.
    roll_up(now)
    assert snapshot() == rolled


def test_purge_drops_fine_roll_ups_after_their_own_retention_but_keeps_days(scripted_day):
    roll_up(DAY + dt.timedelta(days=1, hours=1))

    purge(DAY + dt.timedelta(days=500))

    assert not Sample.objects.exists()
    assert list(Rollup.objects.values_list("resolution", flat=True)) == ["1d"]
