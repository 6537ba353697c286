"""``mamori reports SUBCOMMAND``: the monthly report (RPT-01).

- ``build CLIENT YYYY-MM [--user NAME]``: build the month's report (refreshes the draft, or
  starts the next version after a released one);
- ``release CLIENT YYYY-MM [--version N] [--user NAME]``: release the latest version (or N)
  and queue it to the client's report contacts, once;
- ``show CLIENT YYYY-MM [--version N] [--json]``: the versions, or one version's figures;
- ``run``: what the periodic job does today (build on each client's business day).

Bad input is one line and exit status 2.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.clients.models import Client
from mamori.core.management import EXIT_USAGE, find_user
from mamori.reports import services
from mamori.reports.models import Report


def usage(message: str) -> CommandError:
    return CommandError(" ".join(str(message).split()), returncode=EXIT_USAGE)


class Command(BaseCommand):
    help = _("Monthly reports: build, release, show.")

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        for name, text in (
            ("build", _("Build a month's report.")),
            ("release", _("Release a report and send it to the client's report contacts.")),
            ("show", _("Show a month's report versions or figures.")),
        ):
            p = sub.add_parser(name, help=text)
            p.add_argument("client", help=_("the client's code"))
            p.add_argument("month", help=_("YYYY-MM"))
            if name != "build":
                p.add_argument("--version", type=int, default=None, dest="report_version")
            if name == "show":
                p.add_argument("--json", action="store_true", help=_("the figures as JSON"))
            else:
                p.add_argument("--user", default=None, help=_("who does it (a Mamori user)"))
        sub.add_parser("run", help=_("Build the reports due today."))

    def _target(self, options) -> tuple[Client, object]:
        client = Client.objects.filter(code=options["client"]).first()
        if client is None:
            raise usage(_("No such client: %(code)s") % {"code": options["client"]})
        try:
            month = services.parse_month(options["month"])
        except services.ReportError as exc:
            raise usage(str(exc)) from None
        return client, month

    def _report(self, client: Client, month, version: int | None) -> Report:
        found = Report.objects.filter(client=client, month=month)
        report = (found.filter(version=version) if version else found.order_by("-version")).first()
        if report is None:
            raise usage(
                _("No report of %(client)s for %(month)s.")
                % {"client": client.code, "month": f"{month:%Y-%m}"}
            )
        return report

    def handle(self, *args, **options):
        command = options.get("subcommand")
        if command is None:
            raise usage(_("Give a subcommand: build, release, show or run."))
        if command == "run":
            result = services.scheduled_run()
            self.stdout.write(_("%(built)d built, %(released)d released.") % result.as_dict())
            return
        client, month = self._target(options)
        if command == "show":
            return self._show(client, month, options)
        user = find_user(options.get("user"))
        if command == "build":
            try:
                report = services.build_report(client, month, actor=user)
            except services.ReportError as exc:
                raise usage(str(exc)) from None
            self.stdout.write(
                _("Built %(report)s (%(state)s): %(sections)s")
                % {
                    "report": report,
                    "state": report.get_state_display(),
                    "sections": ", ".join(sorted(report.figures["sections"])) or "—",
                }
            )
            return
        report = self._report(client, month, options.get("report_version"))
        was_sent = report.state == "sent"
        try:
            report = services.release(report, actor=user)
        except services.ReportError as exc:
            raise usage(str(exc)) from None
        if was_sent:
            self.stdout.write(_("Sent already: nothing more was sent."))
        else:
            self.stdout.write(
                _("Released %(report)s: %(n)d notices queued.")
                % {"report": report, "n": report.notices}
            )

    def _show(self, client: Client, month, options) -> None:
        if options["json"]:
            report = self._report(client, month, options.get("report_version"))
            self.stdout.write(json.dumps(report.figures, ensure_ascii=False, indent=2))
            return
        reports = Report.objects.filter(client=client, month=month).order_by("version")
        if not reports:
            raise usage(
                _("No report of %(client)s for %(month)s.")
                % {"client": client.code, "month": f"{month:%Y-%m}"}
            )
        for r in reports:
            sections = ", ".join(sorted(r.figures.get("sections", {}))) or "—"
            self.stdout.write(f"v{r.version}\t{r.state}\t{r.notices}\t{sections}")
