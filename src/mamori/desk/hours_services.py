"""Writing support hours and the provider's closed days (MNT-05): one function per write, with
its audit record, in one transaction. Pages, the API, the CLI and the import call these.

Refusals are :class:`~mamori.desk.services.DeskError` (a message in the reader's language and
the field it is about); ``PermissionDenied`` when the actor may not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from mamori.clients.models import Contract
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, changes_every_client, may_change
from mamori.desk.models import ClosedDay, SupportHours
from mamori.desk.services import DeskError

#: The longest closed range (days): a typo in a year should not close the desk for years.
MAX_CLOSED_DAYS = 62
#: The largest targets the model allows (business minutes).
MAX_FIRST_RESPONSE = 60 * 24 * 60
MAX_RESOLUTION = 60 * 24 * 365


def may_manage_closed_days(user: User | None) -> bool:
    """The provider's administrators and operators keep the closed days."""
    return changes_every_client(user, Rule.STAFF)


def add_closed_day(
    first: dt.date, last: dt.date, name: str, *, actor: User | None = None, http_request=None
) -> ClosedDay:
    """Close the desk from ``first`` to ``last`` (inclusive) for ``name`` (年末年始, 夏季休業)."""
    if actor is not None and not may_manage_closed_days(actor):
        raise PermissionDenied
    name = " ".join((name or "").split())
    if not name:
        raise DeskError(_("Give the closed days a name."), "name")
    if len(name) > 100:
        raise DeskError(_("The name is longer than 100 characters."), "name")
    if first is None or last is None:
        raise DeskError(_("Give the first and the last day."), "first")
    if last < first:
        raise DeskError(_("The last day comes before the first."), "last")
    if (last - first).days + 1 > MAX_CLOSED_DAYS:
        raise DeskError(
            _("Closed days span at most %(days)d days.") % {"days": MAX_CLOSED_DAYS}, "last"
        )
    with transaction.atomic():
        closed = ClosedDay.objects.create(first=first, last=last, name=name)
        audit.record(
            "closed_day.add",
            closed,
            actor=actor,
            request=http_request,
            changes={"first": first.isoformat(), "last": last.isoformat(), "name": name},
        )
    return closed


def remove_closed_day(closed: ClosedDay, *, actor: User | None = None, http_request=None) -> None:
    if actor is not None and not may_manage_closed_days(actor):
        raise PermissionDenied
    with transaction.atomic():
        audit.record(
            "closed_day.remove",
            closed,
            actor=actor,
            request=http_request,
            changes={
                "first": closed.first.isoformat(),
                "last": closed.last.isoformat(),
                "name": closed.name,
            },
        )
        closed.delete()


def check_support_hours(
    *,
    weekdays: Iterable[int],
    opens: dt.time | None,
    closes: dt.time | None,
    first_response_minutes: int | None = None,
    resolution_minutes: int | None = None,
) -> list[int]:
    """The rules of support hours, for :func:`set_support_hours` and for an import that checks
    a contract it cannot write: the weekdays, sorted; raises :class:`DeskError`."""
    try:
        days = sorted({int(d) for d in weekdays})
    except (TypeError, ValueError):
        raise DeskError(_("Days of the week are 0 (Monday) to 6 (Sunday)."), "weekdays") from None
    if not days or not set(days) <= set(range(7)):
        raise DeskError(_("Choose at least one day of the week."), "weekdays")
    if opens is None or closes is None:
        raise DeskError(_("Give the opening and the closing time."), "opens")
    if closes <= opens:
        raise DeskError(_("Support must close after it opens, on the same day."), "closes")
    for field, value, largest in (
        ("first_response_minutes", first_response_minutes, MAX_FIRST_RESPONSE),
        ("resolution_minutes", resolution_minutes, MAX_RESOLUTION),
    ):
        if value is not None and not 1 <= value <= largest:
            raise DeskError(
                _("A target is between 1 and %(max)d business minutes.") % {"max": largest},
                field,
            )
    return days


def set_support_hours(
    contract: Contract,
    *,
    weekdays: Iterable[int],
    opens: dt.time,
    closes: dt.time,
    first_response_minutes: int | None = None,
    resolution_minutes: int | None = None,
    actor: User | None = None,
    http_request=None,
    audit_action: str = "support_hours.set",
) -> SupportHours:
    """Set ``contract``'s support hours and targets (None: the settings' default)."""
    if actor is not None and not may_change(actor, contract, Rule.STAFF):
        raise PermissionDenied
    days = check_support_hours(
        weekdays=weekdays,
        opens=opens,
        closes=closes,
        first_response_minutes=first_response_minutes,
        resolution_minutes=resolution_minutes,
    )
    with transaction.atomic():
        row, _created = SupportHours.objects.select_for_update().get_or_create(contract=contract)
        row.weekdays = days
        row.opens, row.closes = opens, closes
        row.first_response_minutes = first_response_minutes
        row.resolution_minutes = resolution_minutes
        row.save()
        audit.record(
            audit_action,
            contract,
            actor=actor,
            request=http_request,
            changes={
                "weekdays": days,
                "opens": opens.strftime("%H:%M"),
                "closes": closes.strftime("%H:%M"),
                "first_response_minutes": first_response_minutes,
                "resolution_minutes": resolution_minutes,
            },
        )
    return row
