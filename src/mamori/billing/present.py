"""Issued invoices as data: the JSON of ``mamori invoices show --json`` and the API, and the CSV
for accounting software (columns in docs/billing.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from mamori.billing.models import Invoice
from mamori.billing.text import line_text
from mamori.inventory.transfer.schema import FORMULA_STARTS

CSV_COLUMNS = (
    "number",
    "kind",
    "corrects",
    "client",
    "client_name",
    "month",
    "issue_date",
    "due_date",
    "registration_number",
    "line",
    "description",
    "period_start",
    "period_end",
    "quantity",
    "unit_price",
    "amount",
    "tax_rate",
    "reduced",
    "tax_included",
    "rate_net",
    "rate_tax",
    "net_total",
    "tax_total",
    "total",
)


def invoice_data(invoice: Invoice, language: str | None = None) -> dict:
    """The invoice with its lines in ``language`` (default: the invoice's own)."""
    language = language or invoice.language
    return {
        "number": invoice.number,
        "kind": invoice.kind,
        "corrects": invoice.corrects.number if invoice.corrects_id else None,
        "client": invoice.recipient.get("code") or invoice.client.code,
        "month": f"{invoice.month:%Y-%m}",
        "language": invoice.language,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "currency": invoice.currency,
        "issuer": invoice.issuer,
        "registration_number": invoice.issuer.get("registration_number", ""),
        "recipient": invoice.recipient,
        "lines": [
            {
                "position": line.position,
                "kind": line.kind,
                "description": line_text(line, language),
                "period_start": line.period_start.isoformat() if line.period_start else None,
                "period_end": line.period_end.isoformat() if line.period_end else None,
                "quantity": str(line.quantity.normalize()),
                "unit_price": str(line.unit_price),
                "amount": str(line.amount),
                "tax_rate": line.tax_rate,
                "reduced": line.reduced,
                "tax_included": line.tax_included,
            }
            for line in invoice.lines.all()
        ],
        "totals": invoice.totals,
        "net_total": str(invoice.net_total),
        "tax_total": str(invoice.tax_total),
        "total": str(invoice.total),
        "note": invoice.note,
        # 001 §11.3, 002 §8, 004 §30.6: bank-transfer fees are the client's (the document
        # says so under the bank account).
        "transfer_fees_borne_by": "client",
    }


def _text(value: str) -> str:
    """A text cell Excel will not run as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def export_csv(invoices: Iterable[Invoice], language: str = "ja") -> str:
    """One row per line of each invoice, with the invoice's particulars and its totals of the
    line's rate; UTF-8 with a byte-order mark, so that Excel reads the Japanese right."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for invoice in invoices:
        rates = {int(r["rate"]): r for r in invoice.totals}
        for line in invoice.lines.all():
            rate = rates.get(line.tax_rate, {})
            writer.writerow(
                [
                    invoice.number,
                    invoice.kind,
                    invoice.corrects.number if invoice.corrects_id else "",
                    _text(invoice.recipient.get("code", "")),
                    _text(invoice.recipient.get("name", "")),
                    f"{invoice.month:%Y-%m}",
                    invoice.issue_date.isoformat(),
                    invoice.due_date.isoformat(),
                    invoice.issuer.get("registration_number", ""),
                    line.position,
                    _text(line_text(line, language)),
                    line.period_start.isoformat() if line.period_start else "",
                    line.period_end.isoformat() if line.period_end else "",
                    line.quantity.normalize(),
                    line.unit_price,
                    line.amount,
                    line.tax_rate,
                    "true" if line.reduced else "false",
                    "true" if line.tax_included else "false",
                    rate.get("net", ""),
                    rate.get("tax", ""),
                    invoice.net_total,
                    invoice.tax_total,
                    invoice.total,
                ]
            )
    return out.getvalue()


def for_listing(queryset):
    """The related rows the data above reads, in a constant number of queries."""
    return queryset.select_related("client", "corrects").prefetch_related("lines")
