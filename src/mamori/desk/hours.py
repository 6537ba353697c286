"""Business time on Japanese business days (MNT-05, 004 §28).

A business day is one of the contract's weekdays that is neither a Japanese public holiday
(the maintained ``holidays`` library: national holidays, substitute holidays 振替休日, citizens'
holidays 国民の休日, the Emperor's birthday as it moved) nor one of the provider's closed days
(年末年始, 夏季休業). Support runs from ``opens`` to ``closes`` on each business day, in
Asia/Tokyo. Business time is the time inside those windows.

The arithmetic (:class:`Hours`) is pure: it is given the closed days and never reads the
database. :func:`for_contract` and :func:`closed_ranges` load what it needs.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays

TOKYO = ZoneInfo("Asia/Tokyo")

#: Day names as written in settings, the CLI and the import file (Python's numbering: 0 = Monday).
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: How far :meth:`Hours.next_open` looks for a business day before it gives up (a calendar with
#: no business day at all, e.g. every day closed).
SEARCH_DAYS = 3 * 366

Span = tuple[dt.datetime, dt.datetime]


class HoursError(ValueError):
    """Support hours that cannot be used (bad weekdays, times or durations); the message says
    what is wrong in the reader's language where it reaches a user."""


@functools.lru_cache(maxsize=64)
def japanese_holidays(year: int) -> frozenset[dt.date]:
    """Japan's public holidays of ``year`` from the ``holidays`` library."""
    return frozenset(holidays.country_holidays("JP", years=year))


def holiday_name(day: dt.date, language: str = "ja") -> str:
    """The holiday's name in ``language`` (ja or en), or "" when ``day`` is none."""
    names = holidays.country_holidays(
        "JP", years=day.year, language="ja" if language == "ja" else "en_US"
    )
    return names.get(day, "")


def is_public_holiday(day: dt.date) -> bool:
    return day in japanese_holidays(day.year)


# --- parsing what people write --------------------------------------------------------------


def parse_weekdays(text: str) -> list[int]:
    """``"mon-fri"``, ``"mon,wed,fri"``, ``"mon-fri,sat"`` → ``[0, 1, 2, 3, 4]``."""
    days: set[int] = set()
    for part in (text or "").lower().replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if first not in DAY_NAMES or (dash and last not in DAY_NAMES):
            raise HoursError(f"unknown day {part!r}: use mon, tue, wed, thu, fri, sat, sun")
        a = DAY_NAMES.index(first)
        b = DAY_NAMES.index(last) if dash else a
        if b < a:
            raise HoursError(f"{part!r}: the first day comes after the last")
        days.update(range(a, b + 1))
    if not days:
        raise HoursError("no days of the week")
    return sorted(days)


def format_weekdays(days: Iterable[int]) -> str:
    """``[0, 1, 2, 3, 4]`` → ``"mon-fri"``; runs of three or more days are joined by a dash."""
    days = sorted(set(days))
    parts: list[str] = []
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1] == days[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{DAY_NAMES[days[i]]}-{DAY_NAMES[days[j]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in days[i : j + 1])
        i = j + 1
    return ",".join(parts)


_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_time(text: str) -> dt.time:
    match = _TIME.match((text or "").strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise HoursError(f"{text!r} is not a time of day such as 10:00")
    return dt.time(int(match[1]), int(match[2]))


def parse_span(text: str) -> tuple[dt.time, dt.time]:
    """``"10:00-18:00"`` → ``(10:00, 18:00)``; the support day must not cross midnight."""
    first, dash, last = (text or "").replace("–", "-").partition("-")
    if not dash:
        raise HoursError(f"{text!r}: write the hours as 10:00-18:00")
    opens, closes = parse_time(first), parse_time(last)
    if closes <= opens:
        raise HoursError(f"{text!r}: support must close after it opens, on the same day")
    return opens, closes


def parse_schedule(text: str) -> tuple[list[int], dt.time, dt.time]:
    """``"mon-fri 10:00-18:00"`` → weekdays, opens, closes."""
    words = (text or "").split()
    if len(words) != 2:
        raise HoursError(f"{text!r}: write the days and the hours, e.g. mon-fri 10:00-18:00")
    return (parse_weekdays(words[0]), *parse_span(words[1]))


_DURATION = re.compile(r"^(\d+)\s*([mhd]?)$")


def parse_duration(text: str, day_minutes: int) -> int:
    """Business minutes from ``"240"``, ``"90m"``, ``"4h"`` or ``"3d"``; a day is one support
    day (``day_minutes``, e.g. 480 for 10:00-18:00), not 24 hours."""
    match = _DURATION.match((text or "").strip().lower())
    if not match:
        raise HoursError(f"{text!r}: write a duration such as 90m, 4h or 3d")
    number, unit = int(match[1]), match[2] or "m"
    minutes = number * {"m": 1, "h": 60, "d": day_minutes}[unit]
    if minutes < 1:
        raise HoursError(f"{text!r}: the duration must be at least one minute")
    return minutes


def format_minutes(minutes: int, day_minutes: int | None = None) -> str:
    """``1440`` → ``"3d"`` when it is whole support days, ``"4h"``, ``"90m"``."""
    if day_minutes and minutes % day_minutes == 0:
        return f"{minutes // day_minutes}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


# --- the arithmetic -------------------------------------------------------------------------


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, overlapping or touching spans joined; empty spans dropped."""
    result: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def _subtract(window: Span, excluded: Sequence[Span]) -> list[Span]:
    """The parts of ``window`` outside the (merged, sorted) ``excluded`` spans."""
    start, end = window
    parts: list[Span] = []
    for ex_start, ex_end in excluded:
        if ex_end <= start:
            continue
        if ex_start >= end:
            break
        if ex_start > start:
            parts.append((start, ex_start))
        start = max(start, ex_end)
        if start >= end:
            return parts
    if start < end:
        parts.append((start, end))
    return parts


@dataclass(frozen=True)
class Hours:
    """A contract's support calendar: weekdays, daily hours in Asia/Tokyo, the provider's
    closed days (``(first, last)`` inclusive), and its targets in business minutes."""

    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: dt.time = dt.time(10, 0)
    closes: dt.time = dt.time(18, 0)
    closed: tuple[tuple[dt.date, dt.date], ...] = field(default=())
    first_response_minutes: int = 240
    resolution_minutes: int = 1440

    def __post_init__(self) -> None:
        if not self.weekdays or not set(self.weekdays) <= set(range(7)):
            raise HoursError("weekdays must be some of 0 (Monday) to 6 (Sunday)")
        if self.closes <= self.opens:
            raise HoursError("support must close after it opens, on the same day")

    # days

    @property
    def day_minutes(self) -> int:
        """Business minutes in one support day."""
        opens = self.opens.hour * 60 + self.opens.minute
        return self.closes.hour * 60 + self.closes.minute - opens

    def is_closed_day(self, day: dt.date) -> bool:
        return any(first <= day <= last for first, last in self.closed)

    def is_business_day(self, day: dt.date) -> bool:
        return (
            day.weekday() in self.weekdays
            and not is_public_holiday(day)
            and not self.is_closed_day(day)
        )

    def next_business_day(self, day: dt.date) -> dt.date:
        """The first business day after ``day``."""
        for offset in range(1, SEARCH_DAYS + 1):
            candidate = day + dt.timedelta(days=offset)
            if self.is_business_day(candidate):
                return candidate
        raise HoursError("no business day within three years")

    def business_days(self, after: dt.date, count: int) -> list[dt.date]:
        """The next ``count`` business days after ``after``."""
        days: list[dt.date] = []
        day = after
        for _ in range(count):
            day = self.next_business_day(day)
            days.append(day)
        return days

    def window(self, day: dt.date) -> Span:
        """Support hours of ``day`` as aware datetimes in Asia/Tokyo."""
        return (
            dt.datetime.combine(day, self.opens, TOKYO),
            dt.datetime.combine(day, self.closes, TOKYO),
        )

    # instants

    def is_open(self, at: dt.datetime) -> bool:
        """Whether support is open at ``at`` (opening time included, closing time not)."""
        local = _local(at)
        if not self.is_business_day(local.date()):
            return False
        return self.opens <= local.time().replace(tzinfo=None) < self.closes

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself when support is open then, else the next opening."""
        local = _local(at)
        day = local.date()
        if self.is_business_day(day):
            opens, closes = self.window(day)
            if local < opens:
                return opens
            if local < closes:
                return local
        return self.window(self.next_business_day(day))[0]

    def _windows_from(self, at: dt.datetime):
        """Business windows from ``at`` on, the first one clipped to start at ``at``."""
        start = self.next_open(at)
        day = start.date()
        yield start, self.window(day)[1]
        while True:
            day = self.next_business_day(day)
            yield self.window(day)

    def add_business_minutes(
        self,
        start: dt.datetime,
        minutes: int,
        excluded_spans: Iterable[Span] = (),
    ) -> dt.datetime:
        """The instant when ``minutes`` of business time have passed since ``start``, not
        counting business time inside ``excluded_spans`` (the client's waits). A target that
        runs out exactly at closing time is due at closing time, not at the next opening."""
        if minutes < 0:
            raise HoursError("minutes must not be negative")
        excluded = merge(excluded_spans)
        remaining = dt.timedelta(minutes=minutes)
        for window in self._windows_from(start):
            for part_start, part_end in _subtract(window, excluded):
                length = part_end - part_start
                if remaining <= length:
                    return part_start + remaining
                remaining -= length
        raise AssertionError("unreachable")  # pragma: no cover

    def business_time_between(
        self, start: dt.datetime, end: dt.datetime, excluded_spans: Iterable[Span] = ()
    ) -> dt.timedelta:
        """Business time from ``start`` to ``end`` outside ``excluded_spans``; negative when
        ``end`` comes first."""
        if end < start:
            return -self.business_time_between(end, start, excluded_spans)
        start, end = _local(start), _local(end)
        excluded = merge(excluded_spans)
        total = dt.timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_business_day(day):
                opens, closes = self.window(day)
                window = (max(opens, start), min(closes, end))
                if window[1] > window[0]:
                    for part_start, part_end in _subtract(window, excluded):
                        total += part_end - part_start
            day += dt.timedelta(days=1)
        return total

    def business_minutes_between(
        self, start: dt.datetime, end: dt.datetime, excluded_spans: Iterable[Span] = ()
    ) -> int:
        """:meth:`business_time_between` in whole minutes (towards zero)."""
        seconds = self.business_time_between(start, end, excluded_spans).total_seconds()
        return int(seconds / 60)


def _local(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise HoursError("an aware datetime is needed")
    return at.astimezone(TOKYO)


# --- module-level functions over the default calendar ----------------------------------------


def is_open(at: dt.datetime, calendar: Hours | None = None) -> bool:
    return (calendar or Hours()).is_open(at)


def next_open(at: dt.datetime, calendar: Hours | None = None) -> dt.datetime:
    return (calendar or Hours()).next_open(at)


def add_business_minutes(
    start: dt.datetime,
    minutes: int,
    calendar: Hours | None = None,
    excluded_spans: Iterable[Span] = (),
) -> dt.datetime:
    return (calendar or Hours()).add_business_minutes(start, minutes, excluded_spans)


def business_minutes_between(
    start: dt.datetime,
    end: dt.datetime,
    excluded_spans: Iterable[Span] = (),
    calendar: Hours | None = None,
) -> int:
    return (calendar or Hours()).business_minutes_between(start, end, excluded_spans)


# --- loading a calendar (reads the database) -------------------------------------------------


def closed_ranges() -> tuple[tuple[dt.date, dt.date], ...]:
    """The provider's closed days as ``(first, last)`` ranges."""
    from mamori.desk.models import ClosedDay

    return tuple(ClosedDay.objects.order_by("first").values_list("first", "last"))


def defaults(closed: tuple[tuple[dt.date, dt.date], ...] = ()) -> Hours:
    """The calendar of a contract without support hours of its own (the settings)."""
    from django.conf import settings

    from mamori.conf import ConfigError

    try:
        weekdays = parse_weekdays(settings.MAMORI_SUPPORT_WEEKDAYS)
    except HoursError as exc:
        raise ConfigError(f"MAMORI_SUPPORT_WEEKDAYS: {exc}") from None
    try:
        opens, closes = parse_span(settings.MAMORI_SUPPORT_HOURS)
    except HoursError as exc:
        raise ConfigError(f"MAMORI_SUPPORT_HOURS: {exc}") from None
    return Hours(
        weekdays=frozenset(weekdays),
        opens=opens,
        closes=closes,
        closed=closed,
        first_response_minutes=settings.MAMORI_DESK_FIRST_RESPONSE_MINUTES,
        resolution_minutes=settings.MAMORI_DESK_RESOLUTION_MINUTES,
    )


def from_support_hours(row, closed: tuple[tuple[dt.date, dt.date], ...] = ()) -> Hours:
    """The calendar of a :class:`~mamori.desk.models.SupportHours` row; a target it leaves
    empty is the settings' default."""
    from django.conf import settings

    return Hours(
        weekdays=frozenset(row.weekdays),
        opens=row.opens,
        closes=row.closes,
        closed=closed,
        first_response_minutes=row.first_response_minutes
        or settings.MAMORI_DESK_FIRST_RESPONSE_MINUTES,
        resolution_minutes=row.resolution_minutes or settings.MAMORI_DESK_RESOLUTION_MINUTES,
    )


def for_contract(contract, closed: tuple[tuple[dt.date, dt.date], ...] | None = None) -> Hours:
    """The calendar of ``contract`` (None: the defaults), with the provider's closed days."""
    from mamori.desk.models import SupportHours

    closed = closed_ranges() if closed is None else closed
    row = None
    if contract is not None:
        row = SupportHours.objects.filter(contract=contract).first()
    return from_support_hours(row, closed) if row is not None else defaults(closed)
