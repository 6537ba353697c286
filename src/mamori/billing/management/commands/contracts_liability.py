"""``mamori contracts_liability CLIENT CONTRACT --on YYYY-MM-DD [--json]``: the liability cap of
a contract on a day, with the arithmetic (BIL-06). To be wired as ``mamori contracts
liability-cap``. CONTRACT is the contract's id, its type (when the client has one of that type),
or type/start (``site_maintenance/2026-04-01``)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.billing import liability
from mamori.billing.management.commands.payments import day
from mamori.clients.models import Client, Contract
from mamori.core.management import EXIT_USAGE
from mamori.core.money import format_money


def find_contract(client: Client, ref: str) -> Contract:
    contracts = client.contracts.all()
    if ref.isdigit():
        found = list(contracts.filter(pk=int(ref)))
    elif "/" in ref:
        kind, _sep, start = ref.partition("/")
        found = list(contracts.filter(type=kind, start=day(start)))
    else:
        found = list(contracts.filter(type=ref))
    if len(found) != 1:
        problem = (
            _("%(client)s has several contracts of type %(ref)s: name one as type/YYYY-MM-DD.")
            if found
            else _("%(client)s has no contract %(ref)s.")
        )
        raise CommandError(problem % {"client": client.code, "ref": ref}, returncode=EXIT_USAGE)
    return found[0]


class Command(BaseCommand):
    help = "The liability cap of a contract on a day, with the arithmetic."

    def add_arguments(self, parser):
        parser.add_argument("client", help="client code")
        parser.add_argument("contract", help="contract id, type, or type/YYYY-MM-DD")
        parser.add_argument("--on", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--json", action="store_true", help="as JSON")

    def handle(self, *args, **o):
        client = Client.objects.filter(code=o["client"]).first()
        if client is None:
            raise CommandError(
                _("No such client: %(code)s") % {"code": o["client"]}, returncode=EXIT_USAGE
            )
        contract = find_contract(client, o["contract"])
        on = day(o["on"]) if o["on"] else timezone.localdate()
        cap = liability.liability_cap(contract, on)
        if o["json"]:
            self.stdout.write(json.dumps(cap.as_dict(), ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{client.name}: {contract}")
        self.stdout.write(f"{cap.rule_label} ({cap.clause})")
        for step in cap.steps:
            when = step.day.isoformat() if step.day else "—"
            self.stdout.write(f"  {when}  {step.what}  {format_money(step.amount)}")
        self.stdout.write(cap.formula)
        self.stdout.write(
            _("Liability cap on %(day)s: %(amount)s")
            % {"day": on.isoformat(), "amount": format_money(cap.amount)}
        )
