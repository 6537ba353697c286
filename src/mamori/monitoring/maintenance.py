"""Maintenance windows (MON-06): when they occur and what they cover.

A window covers the whole client (no site, no server), one site (its own checks) or one server
(its checks and the checks of the sites it hosts). Occurrences repeat in the operators' time
zone, so a weekly window at 02:00 on Sunday stays at 02:00 local time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from mamori.core import audit
from mamori.core.permissions import require_change
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


# --- advance notices ------------------------------------------------------------------------------

#: Looking further ahead than this for announcements is pointless (the longest notice period a
#: form accepts is a year).
MAX_NOTICE = dt.timedelta(days=366)


def event_key(window: MaintenanceWindow, starts: dt.datetime) -> str:
    """The notice key of one occurrence: ``maintenance:<pk>:<start in UTC, ISO 8601>``."""
    return f"maintenance:{window.pk}:{starts.astimezone(dt.UTC).isoformat()}"


def scope_label(window: MaintenanceWindow) -> str:
    """What the window covers, for people: the site, the server or the whole client."""
    if window.site_id:
        return str(window.site)
    if window.server_id:
        return str(window.server)
    return ""


def _context(window: MaintenanceWindow, starts: dt.datetime, cancelled: bool) -> dict:
    return {
        "window": window,
        "client": window.client,
        "site": window.site,
        "server": window.server,
        "starts": starts,
        "ends": starts + (window.ends_at - window.starts_at),
        "cancelled": cancelled,
    }


def recipients(window: MaintenanceWindow):
    """Who the window's advance notice goes to: the client's contacts that take maintenance
    notices."""
    from mamori.clients.models import NoticeTopic
    from mamori.notices.services import recipients_for

    # The client is told; the operators planned the work and see it on the calendar.
    return recipients_for(window.client, NoticeTopic.MAINTENANCE, operators=False)


@dataclass
class AnnounceReport:
    occurrences: int = 0
    notices: int = 0


def announce_due(now: dt.datetime | None = None) -> AnnounceReport:
    """Queue the advance notice of every occurrence that is due to be announced: its start
    minus ``notify_hours_before`` has come and its start has not. Each occurrence is announced
    once (the outbox's idempotency key), from any number of passes and workers; an occurrence
    that has already started is never announced."""
    from mamori.notices.models import NoticeKind
    from mamori.notices.services import enqueue

    now = now or timezone.now()
    report = AnnounceReport()
    windows = (
        MaintenanceWindow.objects.filter(cancelled_at__isnull=True)
        .filter(
            Q(recurrence=Recurrence.NONE, starts_at__gt=now)
            | (~Q(recurrence=Recurrence.NONE) & Q(repeat_until__isnull=True))
            | Q(repeat_until__gte=(now - dt.timedelta(days=1)).date())
        )
        .select_related("client", "site", "server")
    )
    for window in windows:
        ahead = min(dt.timedelta(hours=window.notify_hours_before), MAX_NOTICE)
        for starts, _ends in occurrences(window, now, now + ahead + dt.timedelta(microseconds=1)):
            if starts <= now or starts - ahead > now:
                continue
            report.occurrences += 1
            result = enqueue(
                NoticeKind.MAINTENANCE_PLANNED,
                event_key(window, starts),
                recipients(window),
                _context(window, starts, cancelled=False),
                client=window.client,
                links={"maintenance_window": window},
            )
            report.notices += len(result.created)
    return report


def announced_starts(window: MaintenanceWindow) -> list[dt.datetime]:
    """The starts of the occurrences of ``window`` whose advance notice is in the outbox."""
    from mamori.notices.models import Notice, NoticeKind

    prefix = f"maintenance:{window.pk}:"
    starts = set()
    keys = Notice.objects.filter(
        maintenance_window=window, kind=NoticeKind.MAINTENANCE_PLANNED, key__startswith=prefix
    ).values_list("key", flat=True)
    for key in keys:
        event = key.split("|", 1)[0][len(prefix) :]
        if event.endswith(":cancelled"):
            continue
        try:
            starts.add(dt.datetime.fromisoformat(event))
        except ValueError:
            continue
    return sorted(starts)


def _withdraw(window: MaintenanceWindow, starts: Iterable[dt.datetime]) -> int:
    """Tell the client, once each, that the announced occurrences at ``starts`` will not
    happen."""
    from mamori.notices.models import NoticeKind
    from mamori.notices.services import enqueue

    queued = 0
    for begins in starts:
        result = enqueue(
            NoticeKind.MAINTENANCE_PLANNED,
            event_key(window, begins) + ":cancelled",
            recipients(window),
            _context(window, begins, cancelled=True),
            client=window.client,
            links={"maintenance_window": window},
        )
        queued += len(result.created)
    return queued


def cancel(window: MaintenanceWindow, now: dt.datetime | None = None) -> int:
    """Cancel ``window``: it covers nothing from now on, and the client is told once about
    each announced occurrence that has not started yet. Returns the number of notices queued.
    Cancelling twice changes nothing and sends nothing more."""
    now = now or timezone.now()
    if window.cancelled_at is None:
        window.cancelled_at = now
        window.save(update_fields=["cancelled_at"])
    return _withdraw(window, [s for s in announced_starts(window) if s > now])


def withdraw_moved(window: MaintenanceWindow, now: dt.datetime | None = None) -> int:
    """After ``window`` was edited: the announced occurrences that no longer happen at their
    announced time are withdrawn (a "cancelled" notice, once); the new times are announced by
    :func:`announce_due` when due. Returns the number of notices queued."""
    now = now or timezone.now()
    moved = [
        s
        for s in announced_starts(window)
        if s > now and not any(b == s for b, _ in occurrences(window, s, s + dt.timedelta(1)))
    ]
    return _withdraw(window, moved)


# --- people's writes (pages, API, import) ---------------------------------------------------------
#
# One function per write: each asks ``may_change`` (a window's rule is ``STAFF``), validates
# with the model's rules (``ValidationError`` by field) and writes the window and its audit
# record in one transaction. ``actor`` None is Mamori itself.


def _snapshot(window: MaintenanceWindow) -> dict:
    return {
        "title": window.title,
        "client": window.client.code,
        "site": window.site_id,
        "server": window.server_id,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "recurrence": window.recurrence,
        "repeat_until": window.repeat_until,
        "notify_hours_before": window.notify_hours_before,
    }


def add_window(window: MaintenanceWindow, *, actor, request=None) -> MaintenanceWindow:
    """Plan the (unsaved) ``window``; its occurrences are announced by :func:`announce_due`."""
    if actor is not None:
        require_change(actor, window)
        window.created_by = window.created_by or actor
    if window.site_id is not None and window.server_id is not None:
        raise ValidationError({"server": gettext_lazy("Choose a site or a server, not both.")})
    window.full_clean()
    with transaction.atomic():
        window.save()
        audit.record(
            "maintenance.add", window, actor=actor, request=request, changes=_snapshot(window)
        )
    return window


def edit_window(window: MaintenanceWindow, *, actor, request=None) -> MaintenanceWindow:
    """Save the changes made to ``window``; announced occurrences that moved are withdrawn."""
    before = MaintenanceWindow.objects.select_related("client").get(pk=window.pk)
    if actor is not None:
        require_change(actor, before)
        require_change(actor, window)
    if before.cancelled_at is not None:
        raise ValidationError(
            gettext_lazy("This window is cancelled and can no longer be changed.")
        )
    if window.site_id is not None and window.server_id is not None:
        raise ValidationError({"server": gettext_lazy("Choose a site or a server, not both.")})
    window.full_clean()
    with transaction.atomic():
        window.save()
        old, new = _snapshot(before), _snapshot(window)
        changes = {k: [old[k], new[k]] for k in new if old[k] != new[k]}
        withdrawn = withdraw_moved(window)
        if withdrawn:
            changes["withdrawn_notices"] = withdrawn
        audit.record("maintenance.edit", window, actor=actor, request=request, changes=changes)
    return window


def cancel_window(window: MaintenanceWindow, *, actor, request=None) -> int | None:
    """Cancel ``window`` (see :func:`cancel`): the number of notices queued, or ``None`` when it
    was cancelled already (nothing changes, nothing is recorded)."""
    if actor is not None:
        require_change(actor, window)
    with transaction.atomic():
        if MaintenanceWindow.objects.filter(pk=window.pk, cancelled_at__isnull=False).exists():
            return None
        queued = cancel(window)
        audit.record(
            "maintenance.cancel", window, actor=actor, request=request, changes={"notices": queued}
        )
    return queued


def upcoming(
    windows: Iterable[MaintenanceWindow], start: dt.datetime, end: dt.datetime, limit: int = 100
) -> list[tuple[MaintenanceWindow, dt.datetime, dt.datetime]]:
    """The occurrences of ``windows`` overlapping [start, end), soonest first."""
    found = [(s, e, w) for w in windows for s, e in occurrences(w, start, end)]
    found.sort(key=lambda item: (item[0], item[2].pk))
    return [(w, s, e) for s, e, w in found[:limit]]
