"""``mamori invoices run|list|show|pdf|export|credit`` (BIL-01 to BIL-03, docs/billing.md)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, no_translations

from mamori.billing import present
from mamori.billing.models import Invoice
from mamori.billing.run import BillingError, issue_credit_note, parse_month, run_month
from mamori.clients.models import Client
from mamori.core.management import EXIT_USAGE, find_user
from mamori.core.money import format_money


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


class Command(BaseCommand):
    help = "Invoices: run a month, list, show, export for accounting, issue a credit note."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="issue one invoice per client for a month")
        run.add_argument("--month", required=True, help="YYYY-MM")
        run.add_argument("--dry-run", action="store_true", help="show what would be issued")
        run.add_argument("--json", action="store_true", help="print the result as JSON")
        run.add_argument("--user", help="the operator issuing (for the audit trail)")
        listing = sub.add_parser("list", help="list issued invoices and credit notes")
        listing.add_argument("--client", help="only this client's (its code)")
        listing.add_argument("--month", help="only this billing month (YYYY-MM)")
        listing.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="one invoice with its lines and totals")
        show.add_argument("number")
        show.add_argument("--json", action="store_true")
        show.add_argument("--language", choices=["ja", "en"], help="default: the invoice's")
        document = sub.add_parser("pdf", help="write an invoice's PDF")
        document.add_argument("number")
        document.add_argument("--language", choices=["ja", "en"], help="default: the invoice's")
        document.add_argument(
            "--output", help="the file to write (default: its usual name, here; '-': stdout)"
        )
        export = sub.add_parser("export", help="a month's invoices as CSV for accounting")
        export.add_argument("--month", required=True, help="YYYY-MM")
        export.add_argument("--format", choices=["csv"], default="csv")
        export.add_argument("--language", choices=["ja", "en"], default="ja")
        export.add_argument("--output", help="write to this file (default: standard output)")
        credit = sub.add_parser("credit", help="issue a credit note correcting an invoice")
        credit.add_argument("number")
        credit.add_argument(
            "--line",
            action="append",
            default=[],
            metavar="POSITION[=AMOUNT]",
            help="a line to correct, with the amount to give back (default: all of it); "
            "repeatable; none: every line in full",
        )
        credit.add_argument("--reason", required=True)
        credit.add_argument("--user", help="the operator issuing (for the audit trail)")
        credit.add_argument("--json", action="store_true")

    @no_translations  # the command's own output is English: keep its errors English too
    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except BillingError as exc:
            raise _usage(str(exc)) from None

    def _print_json(self, data) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))

    def _run(self, *, month, dry_run, json: bool, user, **_):
        actor = find_user(user)
        report = run_month(parse_month(month), dry_run=dry_run, actor=actor)
        if json:
            self._print_json(report.as_json())
            return
        verb = "would issue" if dry_run else "issued"
        if not report.results:
            self.stdout.write(f"Nothing is due for {report.month:%Y-%m}.")
        for result in report.results:
            code = result.client.code
            if result.status == "already_issued":
                self.stdout.write(f"{code}: already invoiced for {month} ({result.number})")
            elif result.status == "refused":
                self.stdout.write(f"{code}: not invoiced: {result.message}")
            else:
                total = format_money(result.totals.total, "JPY", "en")
                number = f" {result.number}" if result.number else ""
                self.stdout.write(
                    f"{code}: {verb}{number}: {len(result.lines)} line(s), total {total}"
                )
        for skipped in report.skipped_sources:
            self.stdout.write(
                f"not charged: {skipped['source']} {skipped['key']} ({skipped['code']})"
            )
        if report.by_status("refused"):
            raise CommandError(f"{len(report.by_status('refused'))} client(s) not invoiced")

    def _list(self, *, client, month, json: bool, **_):
        invoices = Invoice.objects.all()
        if client:
            if not Client.objects.filter(code=client).exists():
                raise _usage(f"no client with code {client!r}")
            invoices = invoices.filter(client__code=client)
        if month:
            invoices = invoices.filter(month=parse_month(month))
        invoices = invoices.select_related("client", "corrects").order_by("number")
        if json:
            self._print_json(
                [
                    {
                        "number": i.number,
                        "kind": i.kind,
                        "corrects": i.corrects.number if i.corrects_id else None,
                        "client": i.client.code,
                        "month": f"{i.month:%Y-%m}",
                        "issue_date": i.issue_date.isoformat(),
                        "due_date": i.due_date.isoformat(),
                        "total": str(i.total),
                    }
                    for i in invoices
                ]
            )
            return
        for i in invoices:
            self.stdout.write(
                f"{i.number}  {i.client.code}  {i.month:%Y-%m}  issued {i.issue_date}  "
                f"due {i.due_date}  {format_money(i.total, i.currency, 'en')}"
                + (f"  (corrects {i.corrects.number})" if i.corrects_id else "")
            )

    def _invoice(self, number: str) -> Invoice:
        invoice = present.for_listing(Invoice.objects.filter(number=number)).first()
        if invoice is None:
            raise _usage(f"no invoice numbered {number!r}")
        return invoice

    def _pdf(self, *, number, language, output, **_):
        from mamori.billing import pdf

        invoice = self._invoice(number)
        language = language or invoice.language
        data = pdf.render(invoice, language)
        if output == "-":
            sys.stdout.buffer.write(data)
            return
        path = output or pdf.filename(invoice, language)
        try:
            with open(path, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise _usage(f"cannot write {path}: {exc.strerror}") from None
        self.stdout.write(f"{invoice.number}: {path} ({len(data):,} bytes, {language})")

    def _show(self, *, number, json: bool, language, **_):
        invoice = self._invoice(number)
        data = present.invoice_data(invoice, language)
        if json:
            self._print_json(data)
            return
        self.stdout.write(
            f"{data['number']} ({data['kind']}) to {invoice.recipient.get('name', '')}, "
            f"{data['month']}; issued {data['issue_date']}, due {data['due_date']}; "
            f"issuer {data['registration_number']}"
        )
        for line in data["lines"]:
            mark = " *" if line["reduced"] else ""
            self.stdout.write(
                f"  {line['position']}. {line['description']}  {line['quantity']} × "
                f"{line['unit_price']} = {line['amount']}  ({line['tax_rate']}%{mark})"
            )
        for rate in data["totals"]:
            self.stdout.write(f"  {rate['rate']}%: net {rate['net']}, tax {rate['tax']}")
        self.stdout.write(f"  total {format_money(data['total'], 'JPY', 'en')}")

    def _export(self, *, month, language, output, **_):
        invoices = present.for_listing(
            Invoice.objects.filter(month=parse_month(month)).order_by("number")
        )
        text = present.export_csv(invoices, language)
        if output:
            try:
                with open(output, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
            except OSError as exc:
                raise _usage(f"cannot write {output}: {exc.strerror}") from None
        else:
            sys.stdout.write(text)

    def _credit(self, *, number, line, reason, user, json: bool, **_):
        actor = find_user(user)
        invoice = self._invoice(number)
        wanted: dict[int, Decimal] | None = None
        if line:
            wanted = {}
            for item in line:
                position, _sep, amount = item.partition("=")
                try:
                    pos = int(position)
                    original = next(x for x in invoice.lines.all() if x.position == pos)
                    wanted[pos] = Decimal(amount) if amount else original.amount
                except (ValueError, ArithmeticError, StopIteration):
                    raise _usage(f"bad --line {item!r}: POSITION or POSITION=AMOUNT") from None
        note = issue_credit_note(invoice, wanted, reason, actor)
        if json:
            self._print_json(
                present.invoice_data(present.for_listing(Invoice.objects.filter(pk=note.pk)).get())
            )
            return
        self.stdout.write(
            f"{note.number}: corrects {invoice.number}, total "
            f"{format_money(note.total, 'JPY', 'en')}"
        )
