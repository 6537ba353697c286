"""``mamori inventory collect|show``: the software on managed servers (MNT-01, MNT-07)."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.core.management import EXIT_USAGE
from mamori.inventory.models import Server
from mamori.software import eol, services
from mamori.software.models import (
    Account,
    AuthorizedKey,
    Collection,
    Component,
    OperatingSystem,
    Package,
)


def _refuse(message: str) -> CommandError:
    return CommandError(str(message).replace("\n", " "), returncode=EXIT_USAGE)


def find_server(spec: str) -> Server:
    """A server by ``CLIENT/NAME`` (the client's code and the server's name) or by its id."""
    client, sep, name = spec.partition("/")
    if sep:
        server = Server.objects.filter(client__code=client, name=name).first()
    elif spec.isdigit():
        server = Server.objects.filter(pk=int(spec)).first()
    else:
        server = None
    if server is None:
        raise _refuse(_("No server %(spec)s (give CLIENT/NAME or its id).") % {"spec": spec})
    return server


class Command(BaseCommand):
    help = _("The software on managed servers: collect it over SSH now, or show it.")

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        sub.required = True
        collect = sub.add_parser("collect", help=_("Collect a server's software now."))
        collect.add_argument("server", nargs="*", metavar="CLIENT/NAME")
        collect.add_argument(
            "--due", action="store_true", help=_("Every server whose collection is due.")
        )
        show = sub.add_parser("show", help=_("Show a server's software, accounts and events."))
        show.add_argument("server", metavar="CLIENT/NAME")
        show.add_argument("--packages", action="store_true", help=_("List every package too."))
        show.add_argument("--json", action="store_true", help=_("As JSON."))

    def handle(self, *args, **options):
        if options["subcommand"] == "collect":
            return self.collect(options)
        return self.show(options)

    def collect(self, options) -> None:
        if options["due"]:
            done = services.collect_due()
            self.stdout.write(_("%(n)d servers collected.") % {"n": done})
            return
        if not options["server"]:
            raise _refuse(_("Name a server (CLIENT/NAME) or give --due."))
        failed = False
        for spec in options["server"]:
            server = find_server(spec)
            try:
                c = services.collect_server(server)
            except ValidationError:
                raise _refuse(
                    _("%(server)s has no software collection set up.") % {"server": spec}
                ) from None
            except services.CollectionBusy:
                raise _refuse(
                    _("A collection of %(server)s is already running.") % {"server": spec}
                ) from None
            self.stdout.write(
                f"{spec}: {c.state} — {c.packages} packages, {c.components} components, "
                f"{c.accounts} accounts, {c.events.count()} software changes, "
                f"{c.account_events.count()} account changes"
            )
            for p in c.problems:
                self.stdout.write(f"  ! {p['item']}: {p['message']}")
            if c.error:
                self.stdout.write(f"  ! {c.error}")
            failed |= c.state == "failed"
        if failed:
            raise CommandError(_("A collection failed."), returncode=1)

    def show(self, options) -> None:
        server = find_server(options["server"])
        system = OperatingSystem.objects.filter(server=server).first()
        last = Collection.objects.filter(server=server).first()
        data = {
            "server": f"{server.client.code}/{server.name}",
            "last_collection": (
                {
                    "started_at": last.started_at.isoformat(),
                    "state": last.state,
                    "error": last.error,
                    "problems": last.problems,
                }
                if last
                else None
            ),
            "os": (
                {"id": system.os_id, "version": system.version_id, "name": system.pretty_name}
                if system
                else None
            ),
            "components": [
                {"kind": c.kind, "name": c.name, "version": c.version, "path": c.path}
                for c in Component.objects.filter(server=server)
            ],
            "end_of_life": [
                {
                    "product": s.product,
                    "version": s.version,
                    "cycle": s.cycle,
                    "eol": s.eol.isoformat() if s.eol else None,
                    "ended": s.ended,
                    "data_as_of": s.fetched_at.isoformat() if s.fetched_at else None,
                }
                for s in eol.status_of(server)
            ],
            "packages": Package.objects.filter(server=server).count(),
            "accounts": [
                {"user": a.username, "uid": a.uid, "shell": a.shell, "sudo": a.sudo}
                for a in Account.objects.filter(server=server)
            ],
            "keys": [
                {
                    "user": k.username,
                    "type": k.key_type,
                    "fingerprint": k.fingerprint,
                    "comment": k.comment,
                }
                for k in AuthorizedKey.objects.filter(server=server)
            ],
        }
        if options["packages"]:
            data["packages"] = [
                {"ecosystem": e, "name": n, "architecture": a, "version": v}
                for e, n, a, v in Package.objects.filter(server=server).values_list(
                    "ecosystem", "name", "architecture", "version"
                )
            ]
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        w = self.stdout.write
        w(data["server"])
        if last:
            w(f"  {_('last collection')}: {last.started_at:%Y-%m-%d %H:%M} {last.state}")
        if system:
            w(f"  OS: {system.pretty_name or system.os_id} ({system.os_id} {system.version_id})")
        for c in data["components"]:
            w(f"  {c['kind']}: {c['name']} {c['version']} {c['path']}")
        for s in data["end_of_life"]:
            w(
                f"  EOL {s['product']} {s['cycle'] or '?'}: {s['eol'] or '?'}"
                f"{' (ended)' if s['ended'] else ''} [data {(s['data_as_of'] or '?')[:10]}]"
            )
        if isinstance(data["packages"], int):
            w(f"  {_('packages')}: {data['packages']}")
        else:
            for p in data["packages"]:
                w(f"  pkg {p['name']} {p['version']} {p['architecture']}")
        for a in data["accounts"]:
            w(f"  {_('account')} {a['user']} uid={a['uid']} {a['shell']} sudo={a['sudo'] or '-'}")
        for k in data["keys"]:
            w(f"  {_('key')} {k['user']} {k['type']} {k['fingerprint']} {k['comment']}")
