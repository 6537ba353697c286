"""Fees per contract (BIL-01) and the issuer's particulars: the services' rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from mamori.billing import fees, issuer
from mamori.billing.models import Fee, IssuerProfile
from mamori.core.models import AuditEvent
from mamori.inventory.services import Refused
from tests.billing.payments_support import contract_of, invoice

pytestmark = pytest.mark.req("BIL-01")

D = dt.date


@pytest.fixture(autouse=True)
def english():
    """These tests read the services' messages in English."""
    with translation.override("en"):
        yield


def test_fee_create_change_delete_with_audit(acme, operator):
    contract = contract_of(acme)
    fee = fees.create_fee(
        operator,
        contract,
        {"kind": "monthly", "amount": Decimal(33000), "tax_rate": 10, "tax_included": True},
    )
    assert fees.change_fee(operator, fee, {"amount": Decimal(35000)}) == {
        "amount": [Decimal(33000), Decimal(35000)]
    }
    fees.delete_fee(operator, fee)
    assert not Fee.objects.exists()
    actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("sequence"))
    assert actions[-3:] == ["fee.create", "fee.update", "fee.delete"]


def test_fee_validation(acme, operator, owner):
    contract = contract_of(acme)
    with pytest.raises(ValidationError) as e:
        fees.create_fee(
            operator,
            contract,
            {
                "kind": "monthly",
                "amount": Decimal(-1),
                "tax_rate": 5,
                "starts_on": D(2026, 5, 1),
                "ends_on": D(2026, 4, 30),
            },
        )
    assert {"amount", "tax_rate", "ends_on"} <= set(e.value.message_dict)
    with pytest.raises(ValidationError, match="before its contract"):
        fees.create_fee(
            operator,
            contract,
            {"kind": "monthly", "amount": Decimal(1), "starts_on": D(2026, 3, 1)},
        )
    with pytest.raises(Refused):
        fees.create_fee(owner, contract, {"kind": "monthly", "amount": Decimal(1)})


def test_an_invoiced_fee_is_ended_not_changed_or_deleted(acme, operator):
    contract = contract_of(acme)
    fee = fees.create_fee(operator, contract, {"kind": "monthly", "amount": Decimal(1000)})
    invoice(acme, total=1000, due=D(2026, 5, 31), lines=[(fee, 1000)])
    with pytest.raises(ValidationError, match="invoiced"):
        fees.change_fee(operator, fee, {"amount": Decimal(2000)})
    with pytest.raises(Refused, match="invoiced"):
        fees.delete_fee(operator, fee)
    assert fees.change_fee(operator, fee, {"ends_on": D(2026, 12, 31)})


@pytest.mark.parametrize(
    "number, ok",
    [
        ("T7000012050002", True),  # the National Tax Agency's own corporate number
        ("T9234567890123", True),
        ("T1234567890123", False),  # check digit wrong
        ("T0000000000000", False),
        ("T700001205000", False),
        ("7000012050002", False),
    ],
)
def test_registration_number(number, ok):
    assert (issuer.registration_number_problem(number) is None) is ok


def test_issuer_change_by_provider_admin_only(db, provider_admin, operator):
    with pytest.raises(Refused):
        issuer.change_issuer(operator, {"name": "x"})
    changed = issuer.change_issuer(
        provider_admin,
        {
            "name": "株式会社まもり",
            "registration_number": "t7000012050002",
            "tax_rounding": "floor",
        },
    )
    assert set(changed) == {"name", "registration_number"}
    assert IssuerProfile.objects.get(pk=1).registration_number == "T7000012050002"
    assert issuer.issuer().tax_rounding == "floor"  # the default
    with pytest.raises(ValidationError, match="check digit"):
        issuer.change_issuer(provider_admin, {"registration_number": "T1234567890123"})
