"""Business time on Japanese business days (MNT-05), checked against the calendar.

The holiday table below is written from the Cabinet Office's list of national holidays
(内閣府「国民の祝日について」, the 2026 calendar and the 2018-2020 calendars), not from the library
or the code; the due times are worked out by hand on a 10:00-18:00, Monday-Friday calendar.
"""

from __future__ import annotations

import datetime as dt

import pytest

from mamori.desk import hours
from mamori.desk.hours import TOKYO, Hours, HoursError

D = dt.date

# Japan 2026, from the Cabinet Office's table: every public holiday of the year.
HOLIDAYS_2026 = {
    D(2026, 1, 1): "元日",  # Thu
    D(2026, 1, 12): "成人の日",  # 2nd Monday of January
    D(2026, 2, 11): "建国記念の日",
    D(2026, 2, 23): "天皇誕生日",  # Mon
    D(2026, 3, 20): "春分の日",  # Fri
    D(2026, 4, 29): "昭和の日",
    D(2026, 5, 3): "憲法記念日",  # Sun
    D(2026, 5, 4): "みどりの日",
    D(2026, 5, 5): "こどもの日",
    D(2026, 5, 6): "休日",  # 振替休日 for 5/3 (the first day after it that is no holiday)
    D(2026, 7, 20): "海の日",  # 3rd Monday of July
    D(2026, 8, 11): "山の日",
    D(2026, 9, 21): "敬老の日",  # 3rd Monday of September
    D(2026, 9, 22): "休日",  # 国民の休日: between two holidays
    D(2026, 9, 23): "秋分の日",  # Wed
    D(2026, 10, 12): "スポーツの日",  # 2nd Monday of October
    D(2026, 11, 3): "文化の日",
    D(2026, 11, 23): "勤労感謝の日",
}

# 10:00-18:00, Monday to Friday: 480 business minutes a day.
WEEKDAYS = Hours()
NEW_YEAR = ((D(2026, 12, 29), D(2027, 1, 3)),)  # 年末年始


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


@pytest.mark.req("MNT-05")
def test_the_librarys_2026_holidays_are_exactly_the_cabinet_offices():
    assert set(hours.japanese_holidays(2026)) == set(HOLIDAYS_2026)
    assert hours.holiday_name(D(2026, 5, 6), "ja")  # named, in Japanese
    assert hours.holiday_name(D(2026, 5, 7), "ja") == ""


@pytest.mark.req("MNT-05")
@pytest.mark.parametrize(
    "day, holiday",
    [
        # The Emperor's birthday moved from 12/23 to 2/23 with the new era (2019 had neither:
        # 12/23/2019 was an ordinary Monday; 2/23/2020, a Sunday, moved to Monday 2/24).
        (D(2019, 12, 23), False),
        (D(2018, 12, 23), True),
        (D(2018, 12, 24), True),  # 振替休日 for Sunday 12/23/2018
        (D(2020, 2, 23), True),
        (D(2020, 2, 24), True),  # 振替休日
        (D(2019, 2, 23), False),
        # 2019's one-off holidays of the enthronement: 5/1 and the days around it.
        (D(2019, 4, 30), True),
        (D(2019, 5, 1), True),
        (D(2019, 5, 2), True),
        (D(2019, 10, 22), True),
    ],
)
def test_the_emperors_birthday_and_substitute_holidays(day, holiday):
    assert hours.is_public_holiday(day) is holiday


@pytest.mark.req("MNT-05")
def test_business_days_of_2026_are_weekdays_that_are_no_holiday():
    business = [d for d in _days(D(2026, 1, 1), D(2026, 12, 31)) if WEEKDAYS.is_business_day(d)]
    # 2026 has 261 weekdays; 17 of its 18 holidays fall on one (only 5/3 is a Sunday)
    weekday_holidays = [d for d in HOLIDAYS_2026 if d.weekday() < 5]
    assert len(weekday_holidays) == 17
    assert len(business) == 261 - 17
    assert not WEEKDAYS.is_business_day(D(2026, 5, 6))  # the substitute holiday, a Wednesday
    assert WEEKDAYS.is_business_day(D(2026, 5, 7))


def _days(first: dt.date, last: dt.date):
    while first <= last:
        yield first
        first += dt.timedelta(days=1)


@pytest.mark.req("MNT-05")
def test_friday_1730_plus_60_business_minutes_is_monday_1030():
    # Friday 2026-06-05 17:30: 30 minutes on Friday, 30 on Monday 6/8.
    assert WEEKDAYS.add_business_minutes(at(2026, 6, 5, 17, 30), 60) == at(2026, 6, 8, 10, 30)


@pytest.mark.req("MNT-05")
def test_silver_week_2026():
    # Friday 9/18 17:00 + 120 min: 60 on Friday; Sat, Sun, 9/21 敬老の日, 9/22 国民の休日,
    # 9/23 秋分の日 are no business days; 60 on Thursday 9/24.
    assert WEEKDAYS.add_business_minutes(at(2026, 9, 18, 17), 120) == at(2026, 9, 24, 11)
    assert WEEKDAYS.next_business_day(D(2026, 9, 18)) == D(2026, 9, 24)
    assert WEEKDAYS.business_minutes_between(at(2026, 9, 18, 9), at(2026, 9, 25, 9)) == 2 * 480


@pytest.mark.req("MNT-05")
def test_golden_week_2026_substitute_holiday():
    # Thursday 4/30 and Friday 5/1 are business days; 5/4, 5/5 and the 振替休日 5/6 are not.
    assert WEEKDAYS.next_business_day(D(2026, 5, 1)) == D(2026, 5, 7)
    # 3 support days from Thursday 4/30 10:00: 4/30, 5/1, 5/7 → due 5/7 18:00.
    assert WEEKDAYS.add_business_minutes(at(2026, 4, 30, 10), 3 * 480) == at(2026, 5, 7, 18)


@pytest.mark.req("MNT-05")
def test_year_end_closed_days_12_29_to_1_3():
    calendar = Hours(closed=NEW_YEAR)
    # Monday 12/28 is the last business day; 1/4/2027 is a Monday, the first one after.
    assert calendar.next_business_day(D(2026, 12, 28)) == D(2027, 1, 4)
    assert calendar.add_business_minutes(at(2026, 12, 28, 17), 240) == at(2027, 1, 4, 13)
    # With 1/4 closed too (a longer break), the next one is Tuesday 1/5.
    longer = Hours(closed=((D(2026, 12, 29), D(2027, 1, 4)),))
    assert longer.next_business_day(D(2026, 12, 28)) == D(2027, 1, 5)
    # Without closed days, 12/29-12/31 are ordinary weekdays; 1/1 is 元日.
    assert WEEKDAYS.next_business_day(D(2026, 12, 28)) == D(2026, 12, 29)
    assert WEEKDAYS.next_business_day(D(2026, 12, 31)) == D(2027, 1, 4)


@pytest.mark.req("MNT-05")
def test_hours_boundaries():
    monday = D(2026, 6, 8)
    # Before opening: the clock starts at 10:00.
    assert WEEKDAYS.add_business_minutes(at(2026, 6, 8, 7, 15), 60) == at(2026, 6, 8, 11)
    assert WEEKDAYS.next_open(at(2026, 6, 8, 7, 15)) == at(2026, 6, 8, 10)
    # Exactly at opening: open. Exactly at closing: closed; the clock starts next morning.
    assert WEEKDAYS.is_open(at(2026, 6, 8, 10))
    assert not WEEKDAYS.is_open(at(2026, 6, 8, 18))
    assert WEEKDAYS.is_open(at(2026, 6, 8, 17, 59))
    assert WEEKDAYS.add_business_minutes(at(2026, 6, 8, 18), 60) == at(2026, 6, 9, 11)
    # A target that runs out at closing is due at closing, not the next morning.
    assert WEEKDAYS.add_business_minutes(at(2026, 6, 8, 17), 60) == at(2026, 6, 8, 18)
    # Late at night and at the weekend: Monday's opening.
    assert WEEKDAYS.next_open(at(2026, 6, 5, 23)) == at(2026, 6, 8, 10)
    assert WEEKDAYS.next_open(at(2026, 6, 6, 12)) == at(2026, 6, 8, 10)
    # The instant in another time zone is the same instant: 01:00 UTC is 10:00 in Tokyo.
    assert WEEKDAYS.is_open(dt.datetime(2026, 6, 8, 1, tzinfo=dt.UTC))
    assert WEEKDAYS.window(monday) == (at(2026, 6, 8, 10), at(2026, 6, 8, 18))


@pytest.mark.req("MNT-05")
def test_client_waits_do_not_count_against_the_provider():
    start = at(2026, 6, 8, 10)  # Monday
    # Waiting on the client Monday 11:00-15:00 (4 business hours): 240 minutes due 18:00, not
    # 14:00.
    wait = [(at(2026, 6, 8, 11), at(2026, 6, 8, 15))]
    assert WEEKDAYS.add_business_minutes(start, 240, wait) == at(2026, 6, 8, 18)
    # Waiting over the weekend only costs nothing: weekends are not business time anyway.
    weekend = [(at(2026, 6, 5, 18), at(2026, 6, 8, 10))]
    assert WEEKDAYS.add_business_minutes(at(2026, 6, 5, 17), 120, weekend) == at(2026, 6, 8, 11)
    # Overlapping waits count once.
    twice = [(at(2026, 6, 8, 11), at(2026, 6, 8, 13)), (at(2026, 6, 8, 12), at(2026, 6, 8, 15))]
    assert WEEKDAYS.add_business_minutes(start, 240, twice) == at(2026, 6, 8, 18)
    assert WEEKDAYS.business_minutes_between(start, at(2026, 6, 8, 18), twice) == 240


@pytest.mark.req("MNT-05")
def test_business_minutes_between_is_signed():
    assert WEEKDAYS.business_minutes_between(at(2026, 6, 5, 17), at(2026, 6, 8, 11)) == 120
    assert WEEKDAYS.business_minutes_between(at(2026, 6, 8, 11), at(2026, 6, 5, 17)) == -120
    assert WEEKDAYS.business_minutes_between(at(2026, 6, 6, 9), at(2026, 6, 7, 20)) == 0


def test_a_saturday_calendar_and_other_hours():
    calendar = Hours(weekdays=frozenset(range(6)), opens=dt.time(9), closes=dt.time(17, 30))
    assert calendar.day_minutes == 510
    # Friday 17:00 + 60: 30 minutes Friday, 30 on Saturday from 9:00.
    assert calendar.add_business_minutes(at(2026, 6, 5, 17), 60) == at(2026, 6, 6, 9, 30)


def test_parsing_what_operators_write():
    assert hours.parse_weekdays("mon-fri") == [0, 1, 2, 3, 4]
    assert hours.parse_weekdays("mon,wed, fri") == [0, 2, 4]
    assert hours.parse_weekdays("mon-fri,sat") == [0, 1, 2, 3, 4, 5]
    assert hours.format_weekdays([0, 1, 2, 3, 4]) == "mon-fri"
    assert hours.format_weekdays([0, 2, 4]) == "mon,wed,fri"
    assert hours.parse_schedule("mon-fri 10:00-18:00") == (
        [0, 1, 2, 3, 4],
        dt.time(10),
        dt.time(18),
    )
    assert hours.parse_duration("4h", 480) == 240
    assert hours.parse_duration("3d", 480) == 1440
    assert hours.parse_duration("90", 480) == 90
    assert hours.format_minutes(1440, 480) == "3d"
    assert hours.format_minutes(240, 480) == "4h"
    for bad in ["fri-mon", "funday", ""]:
        with pytest.raises(HoursError):
            hours.parse_weekdays(bad)
    for bad in ["18:00-10:00", "10:00", "25:00-26:00", "10:00-10:00"]:
        with pytest.raises(HoursError):
            hours.parse_span(bad)
    for bad in ["4w", "-3h", "0", "h"]:
        with pytest.raises(HoursError):
            hours.parse_duration(bad, 480)
    with pytest.raises(HoursError):
        Hours(weekdays=frozenset())
    with pytest.raises(HoursError):
        WEEKDAYS.is_open(dt.datetime(2026, 6, 8, 10))  # naive
