"""Subcommands of ``mamori desk`` (see mamori.desk.cli): waiting on the client (CT-09), what is
unanswered for a month and the suspension of a request's work (NOT-05), personal-data incidents
(ACC-04). Every write goes through :mod:`mamori.desk.waits`; refusals are one line, exit 2."""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.cli import find_client
from mamori.clients.models import Contact
from mamori.core.management import usage
from mamori.desk import waits
from mamori.desk.cli.common import find_request
from mamori.desk.models import DataIncidentKind
from mamori.desk.services import DeskError


def register(subparsers) -> None:
    wait = subparsers.add_parser(
        "wait", help=_("Put a request in waiting for the client, or end it.")
    )
    wait.add_argument("request", metavar="R-NUMBER")
    group = wait.add_mutually_exclusive_group(required=True)
    group.add_argument("--awaited", help=_("What is awaited from the client."))
    group.add_argument("--stop", action="store_true", help=_("The client answered."))
    wait.add_argument("--at", help=_("When it began or ended (ISO 8601; default now)."))
    wait.set_defaults(handler=handle_wait)

    unanswered = subparsers.add_parser(
        "unanswered", help=_("List what the client has left unanswered for a month.")
    )
    unanswered.add_argument("--json", action="store_true", help=_("As JSON."))
    unanswered.set_defaults(handler=handle_unanswered)

    suspend = subparsers.add_parser(
        "suspend", help=_("Suspend a request's work (unanswered for a month); the client is told.")
    )
    suspend.add_argument("request", metavar="R-NUMBER")
    suspend.add_argument("--reason", required=True)
    suspend.set_defaults(handler=handle_suspend)

    resume = subparsers.add_parser("resume", help=_("Resume a suspended request's work."))
    resume.add_argument("request", metavar="R-NUMBER")
    resume.set_defaults(handler=handle_resume)

    incident = subparsers.add_parser(
        "data-incident",
        help=_("Record a personal-data incident and report it to the client at once."),
    )
    incident.add_argument("client", metavar="CLIENT")
    incident.add_argument("--kind", required=True, choices=DataIncidentKind.values)
    incident.add_argument("--what", required=True, help=_("What data."))
    incident.add_argument("--whose", required=True, help=_("Whose data."))
    incident.add_argument("--discovered", required=True, help=_("When (ISO 8601)."))
    incident.add_argument("--occurred", help=_("When it occurred (ISO 8601), if known."))
    incident.add_argument("--measures", default="", help=_("Measures taken."))
    incident.add_argument(
        "--contact", action="append", default=[], help=_("A contact concerned (e-mail address).")
    )
    incident.set_defaults(handler=handle_data_incident)


def _moment(value: str | None, option: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise usage(
            _("%(option)s: not a time (use 2026-03-01T10:00): %(value)s")
            % {"option": option, "value": value}
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def handle_wait(options, out) -> None:
    req = find_request(options["request"])
    at = _moment(options.get("at"), "--at")
    try:
        if options["stop"]:
            wait = waits.end_wait(req, None, until=at)
            since, until = timezone.localtime(wait.since), timezone.localtime(wait.until)
            out.write(f"{req.number}: no longer waiting ({since:%Y-%m-%d %H:%M} – {until:%H:%M})\n")
        else:
            wait = waits.wait_on_client(req, None, options["awaited"] or "", since=at)
            out.write(f"{req.number}: waiting for the client since {wait.since:%Y-%m-%d %H:%M}\n")
    except DeskError as exc:
        raise usage(exc) from None


def handle_unanswered(options, out) -> None:
    items = waits.unanswered(None)
    if options["json"]:
        rows = [u.as_row() for u in items]
        out.write(json.dumps(rows, ensure_ascii=False, indent=2, default=dt.datetime.isoformat))
        out.write("\n")
        return
    for u in items:
        asked = timezone.localtime(u.asked_at)
        out.write(f"{asked:%Y-%m-%d}  {u.client.code}  {u.kind}  {u.task_label}  {u.what}\n")


def handle_suspend(options, out) -> None:
    req = find_request(options["request"])
    try:
        req = waits.suspend(req, None, options["reason"])
    except DeskError as exc:
        raise usage(exc) from None
    at = timezone.localtime(req.suspended_at)
    out.write(f"{req.number}: suspended at {at:%Y-%m-%d %H:%M}; the client is told.\n")


def handle_resume(options, out) -> None:
    req = find_request(options["request"])
    try:
        req = waits.resume(req, None)
    except DeskError as exc:
        raise usage(exc) from None
    out.write(f"{req.number}: resumed ({req.state}).\n")


def handle_data_incident(options, out) -> None:
    client = find_client(options["client"])
    contacts = []
    for address in options["contact"]:
        contact = Contact.objects.filter(client=client, email__iexact=address).first()
        if contact is None:
            raise usage(_("No contact %(email)s of this client.") % {"email": address})
        contacts.append(contact)
    try:
        incident = waits.record_data_incident(
            client,
            kind=options["kind"],
            what=options["what"],
            whose=options["whose"],
            contacts=contacts,
            occurred_at=_moment(options.get("occurred"), "--occurred"),
            discovered_at=_moment(options["discovered"], "--discovered"),
            measures=options["measures"],
            actor=None,
        )
    except DeskError as exc:
        raise usage(exc) from None
    at = timezone.localtime(incident.reported_at)
    out.write(f"Recorded personal-data incident {incident.pk}; reported at {at:%Y-%m-%d %H:%M}.\n")
