"""Issued invoices for the document tests (BIL-02, BIL-03), built row by row as the invoice run
would leave them: a provider with its particulars, ``acme``'s May 2026 invoice with fees, a CA
fee, emergency work, a reduced-rate line and an SLA credit, a credit note correcting it, and
``globex``'s invoice (for the portal's "only your own" tests).

The numbers are a Japanese accountant's, per tax rate, tax computed once per rate and floored:
10 %: 50,000 + 12,000 + 16,000 − 5,000 = 73,000, tax 7,300; 8 %: 3,600, tax 288;
total 76,600 + 7,588 = 84,188.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from mamori.billing.models import Invoice, InvoiceKind, InvoiceLine, IssuerProfile, LineKind
from mamori.clients.models import Client

ISSUER = {
    "name": "株式会社マモリテック",
    "postal_code": "100-0005",
    "address": "東京都千代田区丸の内1-2-3 丸の内ビル8階",
    "phone": "03-1234-5678",
    "email": "billing@mamori-tech.example",
    "registration_number": "T1234567890123",
    "bank_account": "みずほ銀行 丸の内支店\n普通預金 1234567\n口座名義 カ）マモリテック",
}


@dataclass
class Invoices:
    acme: Invoice
    credit_note: Invoice
    globex: Invoice


def _line(invoice, position, kind, quantity, unit_price, rate, **extra) -> InvoiceLine:
    quantity, unit_price = Decimal(quantity), Decimal(unit_price)
    # Written as the invoice run writes lines: once, in bulk (an issued line never changes).
    (line,) = InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                position=position,
                kind=kind,
                quantity=quantity,
                unit_price=unit_price,
                amount=(quantity * unit_price).quantize(Decimal(1)),
                tax_rate=rate,
                **extra,
            )
        ]
    )
    return line


def make_invoices(acme: Client, globex: Client) -> Invoices:
    IssuerProfile.objects.update_or_create(pk=1, defaults={**ISSUER})
    may = dt.date(2026, 5, 1)
    invoice = Invoice.objects.create(
        client=acme,
        number="INV-2026-0005",
        month=may,
        issue_date=dt.date(2026, 6, 1),
        due_date=dt.date(2026, 6, 30),
        issuer=ISSUER,
        recipient={"name": acme.name, "postal_code": "100-0001", "address": acme.address},
        totals=[
            {"rate": 10, "reduced": False, "net": "73000", "tax": "7300"},
            {"rate": 8, "reduced": True, "net": "3600", "tax": "288"},
        ],
        net_total=Decimal(76600),
        tax_total=Decimal(7588),
        total=Decimal(84188),
    )
    _line(
        invoice, 1, LineKind.FEE, 1, 50000, 10,
        params={"fee_kind": "monthly", "contract_type": "site_maintenance"},
        period_start=may, period_end=dt.date(2026, 5, 31),
    )  # fmt: skip
    _line(invoice, 2, LineKind.CHARGE, 1, 12000, 10, description="SSL証明書 CA費用（acme.example）")
    _line(invoice, 3, LineKind.CHARGE, 2, 8000, 10, description="緊急対応（5月12日 夜間）")
    _line(invoice, 4, LineKind.CHARGE, 3, 1200, 8, description="作業時の飲料（軽減税率）")
    _line(
        invoice, 5, LineKind.SLA_CREDIT, 1, -5000, 10,
        params={"month": "2026-04"}, period_start=dt.date(2026, 4, 1),
        period_end=dt.date(2026, 4, 30),
    )  # fmt: skip
    credit = Invoice.objects.create(
        client=acme,
        kind=InvoiceKind.CREDIT_NOTE,
        number="CN-2026-0001",
        month=may,
        corrects=invoice,
        issue_date=dt.date(2026, 6, 10),
        due_date=dt.date(2026, 6, 10),
        issuer=ISSUER,
        recipient=invoice.recipient,
        totals=[{"rate": 10, "reduced": False, "net": "-16000", "tax": "-1600"}],
        net_total=Decimal(-16000),
        tax_total=Decimal(-1600),
        total=Decimal(-17600),
    )
    _line(credit, 1, LineKind.CORRECTION, 2, -8000, 10, description="緊急対応（5月12日）の取消")
    other = Invoice.objects.create(
        client=globex,
        number="INV-2026-0006",
        month=may,
        issue_date=dt.date(2026, 6, 1),
        due_date=dt.date(2026, 6, 30),
        issuer=ISSUER,
        recipient={"name": globex.name},
        totals=[{"rate": 10, "reduced": False, "net": "30000", "tax": "3000"}],
        net_total=Decimal(30000),
        tax_total=Decimal(3000),
        total=Decimal(33000),
    )
    _line(other, 1, LineKind.FEE, 1, 30000, 10, params={"fee_kind": "monthly"})
    return Invoices(invoice, credit, other)


@pytest.fixture
def invoices(acme, globex) -> Invoices:
    return make_invoices(acme, globex)
