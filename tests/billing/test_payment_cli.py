"""``mamori billing issuer``, ``mamori payments record|list|interest`` and
``mamori contracts liability-cap``."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from mamori.billing.models import Charge, IssuerProfile, Payment
from mamori.clients.models import ContractType
from tests.billing.payments_support import contract_of, invoice, monthly_fee, pay

D = dt.date


def run(*args: str, language: str = "en") -> str:
    out = StringIO()
    with translation.override(language):
        call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.req("BIL-01")
def test_issuer_shows_and_changes(db):
    out = run("billing", "issuer")
    assert "consumption tax rounding: Round down" in out
    run(
        "billing",
        "issuer",
        "--name",
        "株式会社まもり",
        "--registration-number",
        "T7000012050002",
        "--rounding",
        "half_up",
    )
    profile = IssuerProfile.objects.get(pk=1)
    assert (profile.name, profile.tax_rounding) == ("株式会社まもり", "half_up")
    with pytest.raises(CommandError, match="check digit"):
        run("billing", "issuer", "--registration-number", "T1234567890123")
    data = json.loads(run("billing", "issuer", "--json"))
    assert data["registration_number"] == "T7000012050002"


@pytest.mark.req("BIL-04")
def test_payments_record_list_and_interest(acme):
    inv = invoice(acme, total=110000, due=D(2027, 1, 31))
    out = run("payments", "record", inv.number, "--amount", "60,000", "--date", "2027-01-20")
    assert "still owed: ¥50,000" in out
    out = run(
        "payments",
        "record",
        inv.number,
        "--amount",
        "10000",
        "--date",
        "2027-01-20",
        language="ja",
    )
    assert "未入金残高: 40,000円" in out
    with pytest.raises(CommandError, match="overpayments"):
        run("payments", "record", inv.number, "--amount", "40001", "--date", "2027-01-21")
    with pytest.raises(CommandError, match="No such invoice"):
        run("payments", "record", "NOPE", "--amount", "1", "--date", "2027-01-21")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("payments", "record", inv.number, "--amount", "1", "--date", "21.1.2027")
    assert Payment.objects.count() == 2
    assert "still owed ¥40,000" in run("payments", "list", inv.number)
    # 40,000 × 0.145 × 31 / 365 = 492.60 → ¥492.
    out = run("payments", "interest", inv.number, "--on", "2027-03-03", "--bill")
    assert "¥492" in out
    assert Charge.objects.get().unit_price == Decimal(492)


@pytest.mark.req("BIL-06")
def test_liability_cap_command(acme):
    contract = contract_of(acme, ContractType.SERVER_MANAGEMENT)
    fee = monthly_fee(contract, 44000)
    for month in (5, 6):
        inv = invoice(acme, total=44000, due=D(2026, month, 28), lines=[(fee, 44000)])
        pay(inv, 44000, D(2026, month, 25))
    out = run("contracts", "liability-cap", "acme", "server_management", "--on", "2026-07-01")
    assert "Fees paid in the last 6 months" in out
    assert "¥44,000 + ¥44,000 = ¥88,000" in out
    data = json.loads(
        run("contracts", "liability-cap", "acme", str(contract.pk), "--on", "2026-07-01", "--json")
    )
    assert data["amount"] == "88000" and data["rule"] == "paid_6_months"
    assert [s["date"] for s in data["steps"]] == ["2026-05-25", "2026-06-25"]
    with pytest.raises(CommandError, match="No contract"):
        run("contracts", "liability-cap", "acme", "ca_service", "--on", "2026-07-01")
