"""``mamori payments record INVOICE_NUMBER --amount N --date YYYY-MM-DD [--note …]``,
``mamori payments list INVOICE_NUMBER`` and ``mamori payments interest INVOICE_NUMBER --on
YYYY-MM-DD [--bill]`` (BIL-04)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.billing import payments
from mamori.billing.management.commands.billing import _problems
from mamori.billing.models import Invoice
from mamori.core.management import EXIT_USAGE, find_user
from mamori.core.money import format_money
from mamori.inventory.services import Refused


def day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("Give the day as YYYY-MM-DD: %(value)s") % {"value": value}, returncode=EXIT_USAGE
        ) from None


class Command(BaseCommand):
    help = "Payments received against invoices; late-payment interest."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        record = sub.add_parser("record", help="record a payment received")
        record.add_argument("invoice", help="invoice number")
        record.add_argument("--amount", required=True, help="yen received")
        record.add_argument("--date", required=True, help="YYYY-MM-DD received on")
        record.add_argument("--note", default="")
        record.add_argument("--user", help="act as this user (audited as them)")
        listing = sub.add_parser("list", help="an invoice's payments and what is still owed")
        listing.add_argument("invoice", help="invoice number")
        interest = sub.add_parser("interest", help="late-payment interest up to a day")
        interest.add_argument("invoice", help="invoice number")
        interest.add_argument("--on", help="YYYY-MM-DD (default: today)")
        interest.add_argument("--bill", action="store_true", help="bill it on the next invoice")
        interest.add_argument("--user", help="act as this user (audited as them)")

    def handle(self, *args, action: str, **o):
        invoice = Invoice.objects.filter(number=o["invoice"]).first()
        if invoice is None:
            raise CommandError(
                _("No such invoice: %(number)s") % {"number": o["invoice"]},
                returncode=EXIT_USAGE,
            )
        try:
            getattr(self, action)(invoice, o)
        except Refused as e:
            raise CommandError(e.message, returncode=EXIT_USAGE) from None
        except ValidationError as e:
            raise CommandError(_problems(e), returncode=EXIT_USAGE) from None

    def record(self, invoice: Invoice, o) -> None:
        try:
            amount = Decimal(o["amount"].replace(",", ""))
        except InvalidOperation:
            raise CommandError(
                _("The amount is a whole number of yen: %(value)s") % {"value": o["amount"]},
                returncode=EXIT_USAGE,
            ) from None
        payment = payments.record_payment(
            find_user(o.get("user")),
            invoice,
            amount=amount,
            received_on=day(o["date"]),
            note=o["note"],
        )
        self.stdout.write(
            _("Payment of %(amount)s recorded against %(number)s; still owed: %(owed)s.")
            % {
                "amount": format_money(payment.amount),
                "number": invoice.number,
                "owed": format_money(payments.balance(invoice)),
            }
        )

    def list(self, invoice: Invoice, o) -> None:
        for payment in invoice.payments.all():
            line = f"{payment.received_on:%Y-%m-%d}  {format_money(payment.amount)}"
            self.stdout.write(f"{line}  {payment.note}".rstrip())
        self.stdout.write(
            _("Total %(total)s, still owed %(owed)s.")
            % {
                "total": format_money(invoice.total),
                "owed": format_money(payments.balance(invoice)),
            }
        )

    def interest(self, invoice: Invoice, o) -> None:
        on = day(o["on"]) if o.get("on") else timezone.localdate()
        for p in payments.interest_periods(invoice, on):
            self.stdout.write(
                f"{p.start:%Y-%m-%d}–{p.end:%Y-%m-%d}: {format_money(p.base)} × 14.5% × "
                f"{p.days} / 365 = {p.exact:.2f}"
            )
        self.stdout.write(
            _("Interest up to %(day)s: %(amount)s")
            % {"day": on.isoformat(), "amount": format_money(payments.interest_due(invoice, on))}
        )
        if o["bill"]:
            charge = payments.bill_interest(find_user(o.get("user")), invoice, on)
            if charge is None:
                self.stdout.write(_("No interest is due up to that day."))
            else:
                self.stdout.write(
                    _("Interest of %(amount)s will be billed on the next invoice.")
                    % {"amount": format_money(charge.unit_price)}
                )
