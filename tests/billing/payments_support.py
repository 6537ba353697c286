"""Invoices, fees and payments made directly in the database for the tests of payments,
interest, the liability cap and contract changes (the invoice run is another part's)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import count

from dateutil.relativedelta import relativedelta

from mamori.billing.models import (
    Fee,
    FeeKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    LineKind,
    Payment,
)
from mamori.clients.models import Client, Contract, ContractType

_numbers = count(1)


def contract_of(client: Client, type: str = ContractType.SITE_MAINTENANCE, **kw) -> Contract:
    values = {"start": dt.date(2026, 4, 1), "term_months": 12, **kw}
    return Contract.objects.create(client=client, type=type, **values)


def monthly_fee(contract: Contract, amount: int, **kw) -> Fee:
    return Fee.objects.create(
        contract=contract, kind=kw.pop("kind", FeeKind.MONTHLY), amount=Decimal(amount), **kw
    )


def invoice(
    client: Client,
    *,
    total: int,
    due: dt.date,
    lines: list[tuple[Fee | None, int]] = (),
    month: dt.date | None = None,
    kind: str = InvoiceKind.INVOICE,
    corrects: Invoice | None = None,
) -> Invoice:
    """An issued invoice of ``total`` (tax included) with ``lines`` (fee, amount tax included)."""
    n = next(_numbers)
    # Each made-up invoice its own month (one invoice per client and month).
    month = month or dt.date(2000, 1, 1) + relativedelta(months=n)
    inv = Invoice.objects.create(
        client=client,
        kind=kind,
        number=f"T-{n:05d}",
        month=dt.date(month.year, month.month, 1),
        issue_date=due - dt.timedelta(days=30),
        due_date=due,
        net_total=Decimal(total),
        tax_total=Decimal(0),
        total=Decimal(total),
        corrects=corrects,
    )
    # Written once, in bulk, as the invoice run writes lines (an issued line never changes).
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=inv,
            position=position,
            kind=LineKind.FEE,
            quantity=Decimal(1),
            unit_price=Decimal(amount),
            amount=Decimal(amount),
            tax_rate=10,
            tax_included=True,
            fee=fee,
        )
        for position, (fee, amount) in enumerate(lines, start=1)
    )
    return inv


def pay(inv: Invoice, amount: int, on: dt.date) -> Payment:
    return Payment.objects.create(invoice=inv, amount=Decimal(amount), received_on=on)
