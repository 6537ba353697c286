"""``mamori sla compute [--month YYYY-MM] [--client CODE] [--finalize]`` and
``mamori sla show [--month YYYY-MM] [--client CODE]`` (MON-07)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, no_translations

from mamori.clients.models import Client
from mamori.core.management import EXIT_USAGE
from mamori.core.money import format_money
from mamori.monitoring import sla
from mamori.monitoring.models import SlaCredit


class Command(BaseCommand):
    help = "The monthly SLA: compute (and finalize) each policy's month, or show it."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        compute = sub.add_parser("compute", help="compute the month of every policy valid in it")
        show = sub.add_parser("show", help="show the computed month")
        for each in (compute, show):
            each.add_argument("--month", help="YYYY-MM (default: last month)")
            each.add_argument("--client", help="only this client's policies (its code)")
        compute.add_argument(
            "--finalize",
            action="store_true",
            help="freeze each month for billing (refused while provisional or not over)",
        )

    @no_translations  # the command's own output is English: keep its errors English too
    def handle(self, *args, action: str, **options):
        try:
            month = sla.parse_month(options["month"]) if options["month"] else sla.previous_month()
        except sla.SlaError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        client = options.get("client")
        if client and not Client.objects.filter(code=client).exists():
            raise CommandError(f"no client with code {client!r}", returncode=EXIT_USAGE)
        if action == "compute":
            self._compute(month, client, options["finalize"])
        else:
            self._show(month, client)

    def _compute(self, month, client: str | None, finalize: bool) -> None:
        try:
            credits = sla.compute_all(month, client_code=client)
        except sla.SlaError as exc:
            raise CommandError(str(exc)) from None
        if not credits:
            self.stdout.write(f"No SLA policy is valid in {month:%Y-%m}.")
            return
        refused = 0
        for credit in credits:
            if finalize and credit.finalized_at is None:
                try:
                    credit = sla.finalize(credit)
                except sla.SlaError as exc:
                    refused += 1
                    self.stderr.write(f"{_name(credit)}: not finalized: {exc}")
            self.stdout.write(_line(credit))
        if refused:
            raise CommandError(f"{refused} month(s) could not be finalized")

    def _show(self, month, client: str | None) -> None:
        credits = SlaCredit.objects.filter(month=month).select_related("policy__client")
        if client:
            credits = credits.filter(policy__client__code=client)
        credits = credits.order_by("policy__client__code", "policy__name")
        if not credits:
            self.stdout.write(f"Nothing computed for {month:%Y-%m}: run `mamori sla compute`.")
            return
        for credit in credits:
            self.stdout.write(_line(credit))


def _name(credit: SlaCredit) -> str:
    return f"{credit.policy.client.code} / {credit.policy.name}"


def _line(credit: SlaCredit) -> str:
    state = (
        "finalized"
        if credit.finalized_at
        else "provisional"
        if credit.provisional
        else "not finalized"
    )
    return (
        f"{credit.month:%Y-%m}  {_name(credit)}: availability {credit.availability_percent} % "
        f"(down {credit.downtime_minutes} min, not counted {credit.excluded_minutes} min, "
        f"client's delay {credit.client_delay_minutes} min, "
        f"maintenance {credit.maintenance_minutes} min, longest outage "
        f"{credit.longest_outage_minutes} min); credit {credit.credit_percent} % = "
        f"{format_money(credit.credit_amount, credit.policy.currency, 'en')} [{state}]"
    )
