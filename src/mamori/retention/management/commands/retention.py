"""``mamori retention plan|purge``: records kept after the contract ends, and their purge (END-02).

``plan`` lists per client the contract end, the last day records are kept and what is purged
on which day; ``purge`` removes what is due today (``--dry-run``: only says what it would
remove). See docs/retention.md.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _

from mamori.clients.models import Client
from mamori.core.management import parse_day, usage
from mamori.retention import services


class Command(BaseCommand):
    help = "Records kept after the contract ends: the plan, and the purge when due (END-02)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        plan = actions.add_parser("plan", help="Per client: contract end, kept until, purges.")
        plan.add_argument("--client", help="only this client (code)")
        plan.add_argument("--on", help="the plan as of this day (YYYY-MM-DD); default today")
        plan.add_argument("--all", action="store_true", help="also clients with nothing planned")
        plan.add_argument("--json", action="store_true", help="print JSON")
        purge = actions.add_parser("purge", help="Purge the records whose period is over.")
        purge.add_argument("--dry-run", action="store_true", help="say what would be purged")
        purge.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "plan":
            self.plan(options)
        else:
            self.purge(options)

    def plan(self, options: dict[str, Any]) -> None:
        today = parse_day(options["on"]) if options["on"] else None
        clients = None
        if options["client"]:
            found = Client.objects.filter(code=options["client"]).first()
            if found is None:
                raise usage(_("No such client: %(code)s") % {"code": options["client"]})
            clients = [found]
        plans = services.plan(today, clients)
        if not options["all"] and clients is None:
            plans = [p for p in plans if p.keep_until is not None]
        if options["json"]:
            data = [p.as_dict() for p in plans]
            self.stdout.write(json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
            return
        if not plans:
            self.stdout.write(_("No client has ended all its contracts: nothing is planned."))
            return
        for p in plans:
            line = f"{p.client.code}: {p.state_label}"
            if p.keep_until is not None:
                line += " — " + _("contract ended %(end)s, kept until %(until)s") % {
                    "end": p.contract_end,
                    "until": p.keep_until,
                }
            self.stdout.write(line)
            for batch in p.batches:
                self.stdout.write(
                    "  "
                    + _("%(kind)s: %(count)d, purged from %(day)s")
                    % {"kind": batch.label, "count": batch.count, "day": batch.purge_on}
                )

    def purge(self, options: dict[str, Any]) -> None:
        results = services.purge(dry_run=options["dry_run"])
        if options["json"]:
            data = {"dry_run": options["dry_run"], "purged": [r.as_dict() for r in results]}
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        if not results:
            self.stdout.write(_("Nothing is due for purging."))
            return
        for r in results:
            counts = ", ".join(
                f"{services.kind_label(kind)} {count}" for kind, count in r.counts.items()
            )
            if options["dry_run"]:
                text = _("%(client)s: would purge %(counts)s")
            else:
                text = _("%(client)s: purged %(counts)s")
            self.stdout.write(text % {"client": r.client, "counts": counts})
