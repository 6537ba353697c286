"""Subcommands of ``mamori desk`` (see mamori.desk.cli): support hours and closed days.

- ``mamori desk hours CLIENT CONTRACT [--set "mon-fri 10:00-18:00"] [--first-response 4h]
  [--resolution 3d] [--default-targets]``: show or set a contract's support hours;
- ``mamori desk closed-days [list | add FIRST LAST NAME | remove ID]``;
- ``mamori desk business-time --from 2026-06-05T17:30 --minutes 60 [--client C --contract K]``:
  the due time, for checking.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from mamori.clients.cli import find_client, find_contract
from mamori.core.management import parse_day, usage
from mamori.desk import hours
from mamori.desk import hours_services as services
from mamori.desk.models import ClosedDay, SupportHours
from mamori.desk.services import DeskError


def register(subparsers) -> None:
    p = subparsers.add_parser("hours", help=_("Show or set a contract's support hours."))
    p.add_argument("client", help=_("client code"))
    p.add_argument("contract", help=_("contract: its id, TYPE or TYPE/YYYY-MM-DD"))
    p.add_argument("--set", dest="schedule", help=_('days and hours, e.g. "mon-fri 10:00-18:00"'))
    p.add_argument("--first-response", help=_("first-response target: 240, 90m, 4h or 1d"))
    p.add_argument("--resolution", help=_("resolution target: 1440, 24h or 3d"))
    p.add_argument(
        "--default-targets",
        action="store_true",
        help=_("use the settings' targets (MAMORI_DESK_*_MINUTES)"),
    )
    p.set_defaults(handler=show_or_set_hours)

    p = subparsers.add_parser("closed-days", help=_("The provider's closed days (年末年始 …)."))
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(handler=list_closed_days)
    a = actions.add_parser("list", help=_("List the closed days."))
    a.set_defaults(handler=list_closed_days)
    a = actions.add_parser("add", help=_("Add closed days: FIRST LAST NAME."))
    a.add_argument("first", help="YYYY-MM-DD")
    a.add_argument("last", help="YYYY-MM-DD")
    a.add_argument("name")
    a.set_defaults(handler=add_closed_days)
    a = actions.add_parser("remove", help=_("Remove closed days by their id."))
    a.add_argument("id")
    a.set_defaults(handler=remove_closed_days)

    p = subparsers.add_parser(
        "business-time", help=_("When a number of business minutes from a time runs out.")
    )
    p.add_argument("--from", dest="start", required=True, help="YYYY-MM-DDTHH:MM (Asia/Tokyo)")
    p.add_argument("--minutes", required=True, help=_("240, 90m, 4h or 3d"))
    p.add_argument("--client", help=_("client code (with --contract: its support hours)"))
    p.add_argument("--contract")
    p.set_defaults(handler=business_time)


# --- finding things ----------------------------------------------------------------------------


def parse_moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise usage(
            _("%(value)s is not a time; write it as YYYY-MM-DDTHH:MM, e.g. 2026-06-05T17:30.")
            % {"value": text}
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=hours.TOKYO)


def _duration(text: str, calendar: hours.Hours) -> int:
    try:
        return hours.parse_duration(text, calendar.day_minutes)
    except hours.HoursError:
        raise usage(
            _("%(value)s is not a duration; write e.g. 90m, 4h or 3d (support days).")
            % {"value": text}
        ) from None


# --- the handlers ------------------------------------------------------------------------------


def describe(calendar: hours.Hours, row: SupportHours | None) -> list[str]:
    source = _("this contract's") if row is not None else _("the defaults (settings)")
    lines = [
        _("Support hours (%(source)s): %(days)s %(opens)s-%(closes)s, Asia/Tokyo")
        % {
            "source": source,
            "days": hours.format_weekdays(calendar.weekdays),
            "opens": f"{calendar.opens:%H:%M}",
            "closes": f"{calendar.closes:%H:%M}",
        },
        _("First response within: %(target)s (%(minutes)d business minutes)")
        % {
            "target": hours.format_minutes(calendar.first_response_minutes, calendar.day_minutes),
            "minutes": calendar.first_response_minutes,
        },
        _("Resolution within: %(target)s (%(minutes)d business minutes)")
        % {
            "target": hours.format_minutes(calendar.resolution_minutes, calendar.day_minutes),
            "minutes": calendar.resolution_minutes,
        },
    ]
    today = dt.datetime.now(hours.TOKYO).date()
    days = ", ".join(d.isoformat() for d in calendar.business_days(today, 5))
    lines.append(_("Next business days: %(days)s") % {"days": days})
    return lines


def show_or_set_hours(options, out) -> None:
    client = find_client(options["client"])
    contract = find_contract(client, options["contract"])
    row = SupportHours.objects.filter(contract=contract).first()
    changing = any(
        options.get(k) for k in ("schedule", "first_response", "resolution", "default_targets")
    )
    if changing:
        current = hours.for_contract(contract, ())
        weekdays, opens, closes = sorted(current.weekdays), current.opens, current.closes
        if options.get("schedule"):
            try:
                weekdays, opens, closes = hours.parse_schedule(options["schedule"])
            except hours.HoursError as exc:
                raise usage(
                    _('%(value)s: write the days and hours as "mon-fri 10:00-18:00" (%(why)s).')
                    % {"value": options["schedule"], "why": exc}
                ) from None
        day_calendar = hours.Hours(weekdays=frozenset(weekdays), opens=opens, closes=closes)
        first = row.first_response_minutes if row else None
        resolution = row.resolution_minutes if row else None
        if options.get("default_targets"):
            first = resolution = None
        if options.get("first_response"):
            first = _duration(options["first_response"], day_calendar)
        if options.get("resolution"):
            resolution = _duration(options["resolution"], day_calendar)
        try:
            row = services.set_support_hours(
                contract,
                weekdays=weekdays,
                opens=opens,
                closes=closes,
                first_response_minutes=first,
                resolution_minutes=resolution,
                actor=None,
            )
        except DeskError as exc:
            raise usage(str(exc)) from None
    calendar = hours.for_contract(contract)
    for line in describe(calendar, row):
        out.write(line)


def list_closed_days(options, out) -> None:
    closed = list(ClosedDay.objects.order_by("first"))
    if not closed:
        out.write(_("No closed days."))
    for day in closed:
        out.write(f"{day.pk}\t{day.first:%Y-%m-%d}\t{day.last:%Y-%m-%d}\t{day.name}")


def add_closed_days(options, out) -> None:
    first, last = parse_day(options["first"]), parse_day(options["last"])
    try:
        closed = services.add_closed_day(first, last, options["name"], actor=None)
    except DeskError as exc:
        raise usage(str(exc)) from None
    out.write(
        _("Closed days %(id)d added: %(first)s to %(last)s, %(name)s.")
        % {"id": closed.pk, "first": first, "last": last, "name": closed.name}
    )


def remove_closed_days(options, out) -> None:
    ref = options["id"].strip()
    closed = ClosedDay.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    if closed is None:
        raise usage(_("No closed days with id %(id)s.") % {"id": ref})
    try:
        services.remove_closed_day(closed, actor=None)
    except PermissionDenied:  # pragma: no cover - the command runs as the system
        raise usage(_("Not allowed.")) from None
    out.write(_("Closed days %(id)s removed.") % {"id": ref})


def business_time(options, out) -> None:
    start = parse_moment(options["start"])
    contract = None
    if options.get("client") or options.get("contract"):
        if not (options.get("client") and options.get("contract")):
            raise usage(_("Give both --client and --contract, or neither."))
        contract = find_contract(find_client(options["client"]), options["contract"])
    calendar = hours.for_contract(contract)
    minutes = _duration(options["minutes"], calendar)
    due = calendar.add_business_minutes(start, minutes)
    out.write(due.astimezone(hours.TOKYO).isoformat(timespec="minutes"))
