"""The liability cap of each seed's contract (BIL-06), from recorded payments, by hand:
000 §12.3 (12 months paid), 001 §16.2 / 002 §18.2 (6 months paid), 003 §25 (fee received for the
whole months left), 004 §39 (one month's ordinary monthly fee)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from mamori.billing import liability
from mamori.billing.models import FeeKind
from mamori.clients.models import ContractType
from tests.billing.payments_support import contract_of, invoice, monthly_fee, pay

pytestmark = pytest.mark.req("BIL-06")

D = dt.date


@pytest.fixture(autouse=True)
def english():
    """These tests read the services' messages in English."""
    with translation.override("en"):
        yield


def test_rules_by_contract_type():
    assert liability.DEFAULT_RULES[ContractType.SSL_MANAGEMENT] == liability.PAID_12
    assert liability.DEFAULT_RULES[ContractType.SITE_MAINTENANCE] == liability.PAID_6
    assert liability.DEFAULT_RULES[ContractType.SERVER_MANAGEMENT] == liability.PAID_6
    assert liability.DEFAULT_RULES[ContractType.CA_SERVICE] == liability.RECEIVED_REMAINING
    assert liability.DEFAULT_RULES[ContractType.OPERATIONS_SUPPORT] == liability.ONE_MONTH


def _monthly_payments(client, contract, fee, amount, months, paid_day=20):
    """An invoice of ``amount`` a month for ``months`` (first days), each paid on the 20th."""
    for month in months:
        inv = invoice(
            client, total=amount, due=month.replace(day=28), lines=[(fee, amount)], month=month
        )
        pay(inv, amount, month.replace(day=paid_day))


def test_site_maintenance_counts_six_months_paid(acme):
    contract = contract_of(acme, ContractType.SITE_MAINTENANCE)
    fee = monthly_fee(contract, 33000)
    months = [D(2026, m, 1) for m in range(4, 13)]  # April to December, paid on the 20th
    _monthly_payments(acme, contract, fee, 33000, months)
    cap = liability.liability_cap(contract, D(2026, 12, 31))
    # Payments after 2026-06-30 up to 2026-12-31: July to December, 6 × 33,000.
    assert cap.rule == liability.PAID_6
    assert cap.amount == Decimal(198000)
    assert [s.day for s in cap.steps] == [D(2026, m, 20) for m in range(7, 13)]
    assert cap.formula == " + ".join(["¥33,000"] * 6) + " = ¥198,000"
    assert cap.period_start == D(2026, 7, 1)


def test_ssl_management_counts_twelve_months_and_shares_of_mixed_invoices(acme):
    contract = acme.contracts.get(type=ContractType.SSL_MANAGEMENT)
    other = contract_of(acme, ContractType.SERVER_MANAGEMENT)
    mine = monthly_fee(contract, 11000, kind=FeeKind.ANNUAL)
    theirs = monthly_fee(other, 44000)
    # One invoice with both contracts' fees: ¥55,000, paid in two parts.
    inv = invoice(acme, total=55000, due=D(2026, 5, 31), lines=[(mine, 11000), (theirs, 44000)])
    pay(inv, 30000, D(2026, 5, 10))
    pay(inv, 25000, D(2026, 5, 30))
    old = invoice(acme, total=11000, due=D(2025, 5, 31), lines=[(mine, 11000)])
    pay(old, 11000, D(2025, 5, 30))  # more than 12 months before the day
    cap = liability.liability_cap(contract, D(2026, 6, 30))
    # 11,000 / 55,000 = 1/5 of each payment: 6,000 and 5,000.
    assert [s.amount for s in cap.steps] == [Decimal(6000), Decimal(5000)]
    assert cap.amount == Decimal(11000)
    assert liability.liability_cap(other, D(2026, 6, 30)).amount == Decimal(44000)


def test_ca_service_fee_received_for_whole_months_left(acme):
    contract = contract_of(acme, ContractType.CA_SERVICE, start=D(2026, 4, 1), term_months=12)
    fee = monthly_fee(contract, 66000, kind=FeeKind.ANNUAL)
    inv = invoice(acme, total=66000, due=D(2026, 4, 30), lines=[(fee, 66000)])
    pay(inv, 66000, D(2026, 4, 15))
    # On 2026-09-15 the term ends 2027-03-31: 6 whole months and a part month left → 6.
    # 66,000 × 6 / 12 = 33,000.
    cap = liability.liability_cap(contract, D(2026, 9, 15))
    assert cap.amount == Decimal(33000)
    assert "× 6" in cap.formula and "÷ 12" in cap.formula
    # In the second term nothing has been received for it yet.
    assert liability.liability_cap(contract, D(2027, 4, 10)).amount == 0


def test_operations_support_one_month_of_the_monthly_fee(acme):
    contract = contract_of(acme, ContractType.OPERATIONS_SUPPORT, start=D(2026, 4, 1))
    monthly_fee(contract, 50000, tax_included=False, ends_on=D(2026, 9, 30))
    monthly_fee(contract, 60000, tax_included=False, starts_on=D(2026, 10, 1))
    monthly_fee(contract, 100000, kind=FeeKind.INITIAL)
    # 50,000 plus 10 % tax = 55,000 (the fee in force on the day).
    assert liability.liability_cap(contract, D(2026, 6, 1)).amount == Decimal(55000)
    assert liability.liability_cap(contract, D(2026, 10, 1)).amount == Decimal(66000)
