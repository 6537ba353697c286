"""Maintenance windows (MON-06): when they occur and what they cover.

A window covers the whole client (no site, no server), one site (its own checks) or one server
(its checks and the checks of the sites it hosts). Occurrences repeat in the operators' time
zone, so a weekly window at 02:00 on Sunday stays at 02:00 local time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from dateutil.relativedelta import relativedelta
from django.db.models import Q
from django.utils import timezone

from mamori.monitoring.models import Check, MaintenanceWindow, Recurrence

#: A safety bound on the occurrences enumerated for one window and one range.
MAX_OCCURRENCES = 10_000

_STEP = {
    Recurrence.DAILY: relativedelta(days=1),
    Recurrence.WEEKLY: relativedelta(weeks=1),
    Recurrence.MONTHLY: relativedelta(months=1),
}


def _last_day(window: MaintenanceWindow) -> dt.datetime | None:
    """The end of ``repeat_until`` (local midnight after it), or None: for ever."""
    if window.repeat_until is None:
        return None
    day = window.repeat_until + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day))


def occurrences(
    window: MaintenanceWindow, start: dt.datetime, end: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The (start, end) of each occurrence of ``window`` that overlaps [start, end)."""
    if window.cancelled_at is not None:
        return
    length = window.ends_at - window.starts_at
    if window.recurrence == Recurrence.NONE:
        if window.starts_at < end and window.ends_at > start:
            yield window.starts_at, window.ends_at
        return
    step = _STEP[Recurrence(window.recurrence)]
    until = _last_day(window)
    first = timezone.localtime(window.starts_at)
    # Months differ in length: each occurrence is computed from the first, not the previous.
    for n in range(MAX_OCCURRENCES):
        local = first + step * n
        begins = timezone.make_aware(local.replace(tzinfo=None), first.tzinfo)
        if begins >= end or (until is not None and begins >= until):
            return
        if begins + length > start:
            yield begins, begins + length


def covering_filter(check: Check) -> Q:
    """Windows that cover ``check``: the client's, its site's, its server's (and the server
    hosting its site)."""
    scope = Q(site__isnull=True, server__isnull=True)
    if check.site_id:
        scope |= Q(site_id=check.site_id)
        if check.site.server_id:
            scope |= Q(server_id=check.site.server_id)
    if check.server_id:
        scope |= Q(server_id=check.server_id)
    return Q(client_id=check.client_id, cancelled_at__isnull=True) & scope


def windows_for(check: Check) -> list[MaintenanceWindow]:
    return list(MaintenanceWindow.objects.filter(covering_filter(check)))


def active_window(
    check: Check, at: dt.datetime, windows: Iterable[MaintenanceWindow] | None = None
) -> MaintenanceWindow | None:
    """The window covering ``check`` at the moment ``at``, if any."""
    for window in windows if windows is not None else windows_for(check):
        for _ in occurrences(window, at, at + dt.timedelta(microseconds=1)):
            return window
    return None


def merged_periods(
    windows: Iterable[MaintenanceWindow], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The occurrences of ``windows`` clipped to [start, end) and merged where they overlap."""
    spans = sorted(
        (max(s, start), min(e, end)) for w in windows for s, e in occurrences(w, start, end)
    )
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged
