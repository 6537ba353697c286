"""Payments, overdue invoices, late-payment interest and the fee-evasion surcharge (BIL-04),
with figures computed by hand from 004 §32 and §33."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from mamori.billing import payments
from mamori.billing.models import Charge, ChargeSource, InvoiceKind, Payment, TaxRate
from mamori.core.models import AuditEvent
from mamori.inventory.services import Refused
from tests.billing.payments_support import invoice, pay

pytestmark = pytest.mark.req("BIL-04")

D = dt.date


@pytest.fixture(autouse=True)
def english():
    """These tests read the services' messages in English."""
    with translation.override("en"):
        yield


def test_partial_payments_add_up_and_overpayment_is_refused(acme, operator):
    inv = invoice(acme, total=110000, due=D(2027, 1, 31))
    payments.record_payment(operator, inv, amount=60000, received_on=D(2027, 1, 20))
    assert payments.balance(inv) == Decimal(50000)
    with pytest.raises(ValidationError) as e:
        payments.record_payment(operator, inv, amount=50001, received_on=D(2027, 1, 25))
    assert "50,000" in " ".join(e.value.messages)  # says what is still owed
    payments.record_payment(operator, inv, amount="50000", received_on=D(2027, 1, 25))
    assert payments.balance(inv) == 0
    assert not payments.is_overdue(inv, D(2027, 3, 1))
    assert AuditEvent.objects.filter(action="payment.create").count() == 2


def test_a_payment_on_a_credit_note_is_refused(acme, operator):
    inv = invoice(acme, total=110000, due=D(2027, 1, 31))
    note = invoice(
        acme, total=-11000, due=D(2027, 1, 31), kind=InvoiceKind.CREDIT_NOTE, corrects=inv
    )
    with pytest.raises(ValidationError, match="credit note"):
        payments.record_payment(operator, note, amount=1000, received_on=D(2027, 1, 20))
    # The credit note takes its amount off what the corrected invoice still owes.
    assert payments.balance(inv) == Decimal(99000)
    assert not Payment.objects.exists()


def test_client_users_may_not_record_payments(acme, owner):
    inv = invoice(acme, total=1000, due=D(2027, 1, 31))
    with pytest.raises(Refused):
        payments.record_payment(owner, inv, amount=1000, received_on=D(2027, 1, 20))


def test_overdue_after_the_due_date_only_while_something_is_owed(acme, globex):
    late = invoice(acme, total=110000, due=D(2027, 1, 31))
    paid = invoice(acme, total=5000, due=D(2027, 1, 31))
    pay(paid, 5000, D(2027, 1, 30))
    partly = invoice(globex, total=9000, due=D(2027, 1, 15))
    pay(partly, 4000, D(2027, 1, 30))
    assert not payments.is_overdue(late, D(2027, 1, 31))  # the due day itself is in time
    assert payments.is_overdue(late, D(2027, 2, 1))
    from mamori.billing.models import Invoice

    found = payments.overdue_invoices(Invoice.objects.all(), D(2027, 2, 1))
    assert [i.number for i in found] == [partly.number, late.number]
    assert found[0].balance == Decimal(5000)


def test_interest_110000_yen_31_days(acme):
    # 110,000 × 0.145 × 31 / 365 = 1,354.66 → ¥1,354 (rounded down).
    inv = invoice(acme, total=110000, due=D(2027, 1, 31))
    assert payments.interest_due(inv, D(2027, 3, 3)) == Decimal(1354)
    assert payments.interest_due(inv, D(2027, 1, 31)) == 0


def test_interest_uses_365_days_in_a_leap_year(acme):
    # 2028 is a leap year: 366 days overdue, still divided by 365.
    # 100,000 × 0.145 × 366 / 365 = 14,539.72 → ¥14,539.
    inv = invoice(acme, total=100000, due=D(2027, 12, 31))
    assert payments.interest_due(inv, D(2028, 12, 31)) == Decimal(14539)


def test_partial_payment_reduces_the_base_after_its_day(acme):
    # ¥200,000 due 2027-01-31; ¥150,000 paid 2027-02-10, the rest 2027-03-02.
    # 200,000 × 0.145 × 10 / 365 (2/1–2/10) = 794.52
    #  50,000 × 0.145 × 20 / 365 (2/11–3/2) = 397.26; total 1,191.78 → ¥1,191.
    inv = invoice(acme, total=200000, due=D(2027, 1, 31))
    pay(inv, 150000, D(2027, 2, 10))
    pay(inv, 50000, D(2027, 3, 2))
    periods = payments.interest_periods(inv, D(2027, 4, 30))
    assert [(p.base, p.days) for p in periods] == [(200000, 10), (50000, 20)]
    assert payments.interest_due(inv, D(2027, 4, 30)) == Decimal(1191)


def test_interest_is_billed_once_per_day_and_never_twice(acme, operator):
    inv = invoice(acme, total=110000, due=D(2027, 1, 31))
    first = payments.bill_interest(operator, inv, D(2027, 3, 3))
    assert first.source == ChargeSource.INTEREST
    assert first.source_key == f"{inv.number}:2027-03-03"
    assert first.unit_price == Decimal(1354)
    assert first.tax_rate == TaxRate.EXEMPT
    from mamori.billing.text import describe

    words = describe("charge", {"source": first.source, **first.params}, "ja")
    assert words == f"遅延損害金（{inv.number}、2027年3月3日まで）"
    again = payments.bill_interest(operator, inv, D(2027, 3, 3))
    assert again.pk == first.pk
    # Up to 3/31 (59 days): 110,000 × 0.145 × 59 / 365 = 2,578.21 → ¥2,578; ¥1,354 billed.
    second = payments.bill_interest(operator, inv, D(2027, 3, 31))
    assert second.unit_price == Decimal(2578 - 1354)
    with pytest.raises(ValidationError, match="later day"):
        payments.bill_interest(operator, inv, D(2027, 3, 15))
    assert Charge.objects.filter(source=ChargeSource.INTEREST).count() == 2
    pay(inv, 110000, D(2027, 3, 31))
    assert payments.bill_interest(operator, inv, D(2027, 4, 30)) is None


def test_surcharge_is_twice_the_evaded_amount(acme, operator):
    contract = acme.contracts.first()
    charge = payments.add_surcharge(
        operator,
        acme,
        evaded=33000,
        reason="未申告のサーバー2台分",
        occurred_on=D(2027, 2, 1),
        contract=contract,
    )
    assert charge.source == ChargeSource.SURCHARGE
    assert charge.unit_price == Decimal(66000)
    # Stored as a code and parameters, worded in the reader's language on the invoice.
    from mamori.billing.text import describe

    line = {"source": charge.source, **charge.params}
    assert describe("charge", line, "ja") == "特別利用料金（33,000円の2倍：未申告のサーバー2台分）"
    assert describe("charge", line, "en") == (
        "Fee-evasion surcharge (twice ¥33,000: 未申告のサーバー2台分)"
    )
    event = AuditEvent.objects.get(action="charge.surcharge")
    assert event.changes["evaded"] == "33000"
    with pytest.raises(ValidationError) as e:
        payments.add_surcharge(operator, acme, evaded=0, reason=" ", occurred_on=D(2027, 2, 1))
    assert set(e.value.message_dict) == {"evaded", "reason"}
