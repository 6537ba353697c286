"""``mamori updates SUBCOMMAND``: the record of updates and repairs (MNT-02, 004 §8.3).

- ``record CLIENT PACKAGE --server NAME | --site NAME [--from V] [--to V] [--urgent]
  [--when ISO] [--advisory ID …] [--reason TEXT] [--no-notice] --user NAME``: done by hand;
- ``run CLIENT PACKAGE --server NAME --method apt|dnf|wp_plugin|wp_core [--wp-path DIR]
  --user NAME``: run it now over SSH and record it with its output;
- ``list [--client C]``.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.advisories import updates
from mamori.advisories.models import UpdateRecord, UpdateState
from mamori.clients.models import Client
from mamori.core.management import EXIT_PROBLEMS, EXIT_USAGE, find_user


def usage(message: str) -> CommandError:
    return CommandError(" ".join(str(message).split()), returncode=EXIT_USAGE)


class Command(BaseCommand):
    help = _("Updates and repairs of managed servers and sites: record, run, list.")

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        for name, text in (
            ("record", _("Record an update or repair done by hand.")),
            ("run", _("Run an update on a server over SSH and record it.")),
        ):
            p = sub.add_parser(name, help=text)
            p.add_argument("client", help=_("client code"))
            p.add_argument("package", help=_("what is updated"))
            p.add_argument("--server", help=_("server name"))
            p.add_argument("--site", help=_("site name"))
            p.add_argument("--from", dest="from_version", default="")
            p.add_argument("--to", dest="to_version", default="")
            p.add_argument(
                "--urgent", action="store_true", help=_("without prior notice (004 §8.3)")
            )
            p.add_argument("--advisory", action="append", default=[], dest="advisories")
            p.add_argument("--reason", default="")
            p.add_argument("--no-notice", action="store_true", help=_("do not tell the client"))
            p.add_argument("--user", required=True, help=_("who does it (a Mamori user)"))
            if name == "record":
                p.add_argument("--when", help=_("when it was done, ISO 8601 (default: now)"))
            else:
                p.add_argument(
                    "--method", required=True, choices=["apt", "dnf", "wp_plugin", "wp_core"]
                )
                p.add_argument("--wp-path", default="")
        p = sub.add_parser("list", help=_("List the updates and repairs."))
        p.add_argument("--client", help=_("client code"))

    def handle(self, *args, **options):
        name = options.get("subcommand")
        if name is None:
            raise usage(_("Name a subcommand: mamori updates --help"))
        if name == "list":
            return self.do_list(options)
        user = find_user(options["user"])
        client = Client.objects.filter(code=options["client"]).first()
        if client is None:
            raise usage(_("No such client: %(code)s") % {"code": options["client"]})
        try:
            server, site = updates.resolve_target(client, options["server"], options["site"])
            values = {
                "server": server,
                "site": site,
                "package": options["package"],
                "from_version": options["from_version"],
                "to_version": options["to_version"],
                "kind": "urgent" if options["urgent"] else "planned",
                "advisories": options["advisories"],
                "reason": options["reason"],
                "notify_client": not options["no_notice"],
            }
            if name == "record":
                if options["when"]:
                    try:
                        values["performed_at"] = dt.datetime.fromisoformat(options["when"])
                    except ValueError:
                        raise usage(
                            _("--when is not a date and time: %(v)s") % {"v": options["when"]}
                        ) from None
                record = updates.record_update(user, client, values)
            else:
                values["method"] = options["method"]
                values["wp_path"] = options["wp_path"]
                record = updates.start_update(user, client, values)
                record = updates.run_update(record)
        except updates.UpdateError as exc:
            raise usage(str(exc)) from None
        except PermissionDenied:
            raise usage(_("This user may not record updates for this client.")) from None
        self._show(record)
        if record.state == UpdateState.FAILED:
            if record.output:
                self.stdout.write(record.output[-4000:])
            raise CommandError(_("The update failed (recorded)."), returncode=EXIT_PROBLEMS)

    def _show(self, record: UpdateRecord) -> None:
        told = record.notified_at.isoformat(timespec="minutes") if record.notified_at else "-"
        self.stdout.write(
            f"#{record.pk}\t{record.performed_at.isoformat(timespec='minutes')}\t"
            f"{record.client.code}\t{record.target_name}\t{record.package}\t"
            f"{record.from_version or '-'} -> {record.to_version or '-'}\t{record.kind}\t"
            f"{record.state}\t{record.performed_by_label}\t"
            + _("client told: %(at)s")
            % {"at": told}
        )

    def do_list(self, options) -> None:
        qs = UpdateRecord.objects.select_related("client", "server", "site")
        if options["client"]:
            qs = qs.filter(client__code=options["client"])
        for record in qs[:1000]:
            self._show(record)
