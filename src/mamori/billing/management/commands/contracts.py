"""``mamori contracts status [CLIENT] [--json]``, ``mamori contracts cancel CLIENT CONTRACT
--received DATE --by letter|email --sender NAME [--end-month YYYY-MM] [--withdraw]``
(CT-02..CT-05) and ``mamori contracts liability-cap CLIENT CONTRACT [--on DATE] [--json]``
(BIL-06: the cap on a day, with its arithmetic).

A contract is named by its id, or as the import names it: its type (``site_maintenance``), with
``/START`` (``site_maintenance/2026-04-01``) when the client has several of that type. Errors are
one line, exit 2.
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.billing import liability
from mamori.clients import services, terms
from mamori.clients.cli import find_client, find_contract
from mamori.clients.models import Contract, NoticeKind, NoticeMedium
from mamori.core.management import find_user, parse_day, usage
from mamori.core.money import format_money
from mamori.inventory.services import Refused
from mamori.monitoring.sla import SlaError, parse_month


def _iso(value):
    return value.isoformat() if isinstance(value, dt.date) else value


class Command(BaseCommand):
    help = "Contract terms: the dates of each contract, and recording a cancellation notice."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="each contract's term, deadline and state")
        status.add_argument("client", nargs="?", help="only this client's contracts (its code)")
        status.add_argument("--json", action="store_true", help="print JSON")
        status.add_argument("--on", help="as on this day (YYYY-MM-DD; default: today)")
        cancel = sub.add_parser("cancel", help="record a cancellation (or withdrawal) notice")
        cancel.add_argument("client", help="client code")
        cancel.add_argument("contract", help="contract id, TYPE or TYPE/START")
        cancel.add_argument("--received", required=True, help="the day it arrived (YYYY-MM-DD)")
        cancel.add_argument("--by", required=True, choices=NoticeMedium.values)
        cancel.add_argument("--sender", required=True, help="who sent it")
        cancel.add_argument("--end-month", help="the month the client asks to end (YYYY-MM)")
        cancel.add_argument(
            "--withdraw", action="store_true", help="a cooling-off withdrawal, not a cancellation"
        )
        cancel.add_argument("--json", action="store_true", help="print JSON")
        cancel.add_argument("--user", help="act as this user (audited as them)")
        cap = sub.add_parser("liability-cap", help="the liability cap on a day, with its sums")
        cap.add_argument("client", help="client code")
        cap.add_argument("contract", help="contract id, TYPE or TYPE/START")
        cap.add_argument("--on", help="as on this day (YYYY-MM-DD; default: today)")
        cap.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, action: str, **options):
        if action == "status":
            self.status(options)
        elif action == "liability-cap":
            self.liability_cap(options)
        else:
            self.cancel(options)

    def liability_cap(self, o) -> None:
        client = find_client(o["client"])
        contract = find_contract(client, o["contract"])
        on = parse_day(o["on"]) if o.get("on") else timezone.localdate()
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

    def status(self, o) -> None:
        on = parse_day(o["on"]) if o.get("on") else timezone.localdate()
        contracts = Contract.objects.select_related("client", "terms_profile").prefetch_related(
            "notices"
        )
        if o.get("client"):
            contracts = contracts.filter(client=find_client(o["client"]))
        rows = []
        for contract in contracts.order_by("client__code", "start", "type", "pk"):
            found = terms.status(contract, on)
            rows.append((contract, found))
        if o["json"]:
            data = [
                {
                    "id": c.pk,
                    "client": c.client.code,
                    "type": c.type,
                    "start": c.start.isoformat(),
                    "terms_profile": c.terms_profile.code if c.terms_profile else None,
                    **{k: _iso(v) for k, v in s.as_dict().items()},
                }
                for c, s in rows
            ]
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        if not rows:
            self.stdout.write(_("No contracts."))
            return
        for contract, found in rows:
            parts = [f"{contract.client.code}  #{contract.pk} {contract.type}/{contract.start}"]
            parts.append(found.state_label)
            if found.term:
                parts.append(_("term %(start)s – %(end)s") % {
                    "start": found.term.start, "end": found.term.end
                })  # fmt: skip
            if found.end:
                parts.append(_("ends %(date)s") % {"date": found.end})
            if found.notice_deadline:
                parts.append(
                    _("notice by %(date)s (ends %(end)s)")
                    % {"date": found.notice_deadline, "end": found.ends_if_notice_by_deadline}
                )
            if found.next_term:
                parts.append(_("next term from %(date)s") % {"date": found.next_term.start})
            if found.minimum_term_end:
                parts.append(_("minimum term to %(date)s") % {"date": found.minimum_term_end})
            self.stdout.write("  ".join(str(p) for p in parts))

    def cancel(self, o) -> None:
        client = find_client(o["client"])
        contract = find_contract(client, o["contract"])
        received = parse_day(o["received"])
        month = None
        if o.get("end_month"):
            try:
                month = parse_month(o["end_month"])
            except SlaError as e:
                raise usage(str(e)) from None
        actor = find_user(o.get("user"))
        try:
            notice = services.record_contract_notice(
                actor,
                contract,
                kind=NoticeKind.WITHDRAWAL if o["withdraw"] else NoticeKind.CANCELLATION,
                received_on=received,
                medium=o["by"],
                sender=o["sender"],
                requested_end_month=month,
            )
        except terms.TermsError as e:
            raise usage(e.message) from None
        except Refused as e:
            raise usage(e.message) from None
        reason = services.notice_reason(notice)
        if o["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "notice": notice.pk,
                        "contract": contract.pk,
                        "kind": notice.kind,
                        "received_on": received.isoformat(),
                        "effective_on": notice.effective_on.isoformat(),
                        "reason": notice.reason,
                        "reason_text": reason,
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return
        self.stdout.write(
            _("%(kind)s recorded: the contract ends on %(date)s.")
            % {"kind": notice.get_kind_display(), "date": f"{notice.effective_on:%Y-%m-%d}"}
        )
        if reason:
            self.stdout.write(reason)
