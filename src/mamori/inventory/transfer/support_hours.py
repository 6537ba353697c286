"""A contract's support hours (MNT-05, docs/desk-hours.md) in the inventory file: one mapping
inside the contract, written as the settings and ``mamori desk hours`` write them::

    support_hours:
      weekdays: mon-fri        # or mon,wed,fri, or a list [mon, wed, fri]
      hours: 10:00-18:00       # Japan time, the same day
      first_response: 4h       # business time: 240 (minutes), 90m, 4h, 1d (support days)
      resolution: 3d           # empty: the settings' default

A contract has at most one, so it has no key. The values are read with the parsers of
:mod:`mamori.desk.hours` and written by :func:`mamori.desk.hours_services.set_support_hours`,
as on the contract's page, in the API and on the command line (same rules, same audit record
``support_hours.set``). Fields left out keep their value (for a contract without support hours
of its own: the settings'); ``support_hours:`` empty or ``{}`` changes nothing (the page puts a
contract back on the defaults).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from ruamel.yaml.comments import CommentedMap

from mamori.clients.models import Client, Contract
from mamori.core.permissions import Rule
from mamori.desk import hours, hours_services
from mamori.desk.models import SupportHours
from mamori.desk.services import DeskError
from mamori.inventory.services import rule_message
from mamori.inventory.transfer.reading import Node, Report
from mamori.inventory.transfer.report import Change
from mamori.inventory.transfer.schema import show

if TYPE_CHECKING:
    from mamori.inventory.transfer.applying import Importer

NAME = "support_hours"
FIELDS: tuple[str, ...] = ("weekdays", "hours", "first_response", "resolution")
# The service's fields (DeskError.field) as the file calls them.
FILE_FIELD = {
    "weekdays": "weekdays",
    "opens": "hours",
    "closes": "hours",
    "first_response_minutes": "first_response",
    "resolution_minutes": "resolution",
}


@dataclass(eq=False)
class HoursEntry:
    """The ``support_hours`` of one contract in the file: ``weekdays`` (list of ints),
    ``hours`` (opens, closes), ``first_response`` and ``resolution`` (the duration as written,
    or ``None`` for the default: a day is a support day, known only once the hours are)."""

    path: str
    line: int
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    valid: bool = True

    def line_of(self, name: str) -> int:
        return self.lines.get(name, self.line)

    def path_of(self, name: str) -> str:
        return f"{self.path}.{name}"


# --- reading ----------------------------------------------------------------------------------


def read(node: Node, path: str, report: Report) -> HoursEntry | None:
    """The support hours written at ``node``; ``None`` when there are none to set (empty, or a
    value that is not a mapping: reported)."""
    from mamori.inventory.transfer.entries import plain, report_unknown_keys

    if node.value is None:
        return None
    if not node.is_mapping:
        report(node.line, path, _("Expected a mapping of fields (name: value)."))
        return None
    if not node.value:
        return None
    entry = HoursEntry(path=path, line=node.key_line)

    def reported(line: int | None, where: str, message: str) -> None:
        entry.valid = False
        report(line, where, message)

    unknown = [(name, child) for name, child in node.value.items() if name not in FIELDS]
    report_unknown_keys(unknown, FIELDS, entry.path_of, path, reported)
    for name, child in node.value.items():
        if name not in FIELDS:
            continue
        entry.lines[name] = child.line
        try:
            entry.values[name] = PARSERS[name](plain(child.value))
        except ValueError as e:
            reported(child.line, entry.path_of(name), str(e))
    return entry


def _weekdays(raw: Any) -> list[int]:
    if isinstance(raw, list) and all(isinstance(day, str) for day in raw):
        raw = ",".join(raw)
    try:
        if not isinstance(raw, str):
            raise hours.HoursError
        return hours.parse_weekdays(raw)
    except hours.HoursError:
        raise ValueError(
            _(
                "%(value)s: write the days of the week as mon-fri or mon,wed,fri "
                "(mon, tue, wed, thu, fri, sat, sun)."
            )
            % {"value": show(raw)}
        ) from None


def _span(raw: Any) -> tuple[dt.time, dt.time]:
    try:
        if not isinstance(raw, str):
            raise hours.HoursError
        return hours.parse_span(raw)
    except hours.HoursError:
        pass
    try:
        opens, closes = (hours.parse_time(t) for t in raw.replace("–", "-").split("-"))
    except (AttributeError, ValueError):
        raise ValueError(
            _("%(value)s: write the support hours as 10:00-18:00.") % {"value": show(raw)}
        ) from None
    # Both are times: the one rule left is the service's.
    return _checked_span(opens, closes)


def _checked_span(opens: dt.time, closes: dt.time) -> tuple[dt.time, dt.time]:
    try:
        hours_services.check_support_hours(weekdays=[0], opens=opens, closes=closes)
    except DeskError as e:
        raise ValueError(str(e)) from None
    return opens, closes


def _duration(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    text = raw.strip() if isinstance(raw, str) else None
    if text == "":
        return None
    try:
        if text is None:
            raise hours.HoursError
        hours.parse_duration(text, 60)  # the syntax; its minutes depend on the support day
    except hours.HoursError:
        raise ValueError(f"{show(raw)}: " + _("Write a duration such as 90m, 4h or 3d.")) from None
    return text


PARSERS = {
    "weekdays": _weekdays,
    "hours": _span,
    "first_response": _duration,
    "resolution": _duration,
}


# --- applying ---------------------------------------------------------------------------------


def desired(entry: HoursEntry, row: SupportHours | None) -> dict[str, Any]:
    """The support hours the contract gets: the file's values over what it has (or the
    settings'), as :func:`~mamori.desk.hours_services.set_support_hours` takes them."""
    base = hours.from_support_hours(row) if row is not None else hours.defaults()
    weekdays = entry.values.get("weekdays", sorted(base.weekdays))
    opens, closes = entry.values.get("hours", (base.opens, base.closes))
    day_minutes = hours.Hours(opens=opens, closes=closes).day_minutes
    result = {
        "weekdays": sorted(weekdays),
        "opens": opens,
        "closes": closes,
        "first_response_minutes": row.first_response_minutes if row else None,
        "resolution_minutes": row.resolution_minutes if row else None,
    }
    for name, attr in (
        ("first_response", "first_response_minutes"),
        ("resolution", "resolution_minutes"),
    ):
        if name in entry.values:
            text = entry.values[name]
            result[attr] = hours.parse_duration(text, day_minutes) if text else None
    return result


def _current(row: SupportHours) -> dict[str, Any]:
    return {
        "weekdays": sorted(row.weekdays),
        "opens": row.opens,
        "closes": row.closes,
        "first_response_minutes": row.first_response_minutes,
        "resolution_minutes": row.resolution_minutes,
    }


def apply(
    importer: Importer,
    entry: HoursEntry,
    contract: Contract,
    *,
    client: Client,
    writable: bool,
    key: str,
) -> None:
    """Set ``contract``'s support hours from ``entry`` through the one write path; with
    ``writable`` false (the contract had problems) only check them. Problems are reported at
    the field they are about."""
    if not entry.valid:
        return
    row = SupportHours.objects.filter(contract=contract).first() if contract.pk else None
    values = desired(entry, row)
    report = importer.report
    try:
        if not writable:
            hours_services.check_support_hours(**values)
            return
        if row is not None:
            before = _current(row)
            changed = tuple(
                dict.fromkeys(FILE_FIELD[k] for k, v in values.items() if before[k] != v)
            )
            if not changed:
                report.count(NAME, "unchanged")
                return
        hours_services.set_support_hours(
            contract, **values, actor=importer.actor, http_request=importer.request
        )
    except PermissionDenied:
        report.add_error(entry.line, entry.path, rule_message(Rule.STAFF, SupportHours))
        return
    except DeskError as e:
        name = FILE_FIELD.get(e.field or "", "")
        line = entry.line_of(name) if name else entry.line
        report.add_error(line, entry.path_of(name) if name else entry.path, str(e))
        return
    action = "create" if row is None else "update"
    report.count(NAME, "created" if row is None else "updated")
    report.changes.append(Change(action, NAME, client.code, key, () if row is None else changed))


# --- exporting --------------------------------------------------------------------------------


def export(contract: Contract) -> CommentedMap | None:
    """The contract's support hours as the file writes them; ``None`` when it has none."""
    try:
        row = contract.support_hours
    except SupportHours.DoesNotExist:
        return None
    day_minutes = hours.Hours(opens=row.opens, closes=row.closes).day_minutes
    record = CommentedMap()
    record["weekdays"] = hours.format_weekdays(row.weekdays)
    record["hours"] = f"{row.opens:%H:%M}-{row.closes:%H:%M}"
    if row.first_response_minutes:
        record["first_response"] = hours.format_minutes(row.first_response_minutes, day_minutes)
    if row.resolution_minutes:
        record["resolution"] = hours.format_minutes(row.resolution_minutes, day_minutes)
    return record
