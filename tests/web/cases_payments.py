"""Tenancy cases of the billing pages of payments, fees, contract changes, the liability cap and
the invoice issuer (see tests/web/tenancy.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mamori.billing.models import (
    ContractChange,
    Fee,
    Invoice,
    IssuerProfile,
    Payment,
)
from mamori.clients.models import Client
from tests.web.cases_billing import INVOICE_READERS
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, PAGE, Case

EXEMPT: dict[str, str] = {
    "issuer_settings": "the provider's own particulars: provider administrators only, 403 for "
    "everyone else (tests/billing/test_payment_pages.py)",
}

# The provider's staff who see acme keep its fees, changes and payments.
STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_contract():
    return Client.objects.get(code="acme").contracts.order_by("pk").first()


def acme_fee() -> Fee:
    contract = acme_contract()
    return Fee.objects.get_or_create(
        contract=contract, kind="monthly", defaults={"amount": Decimal(33000)}
    )[0]


def acme_invoice() -> Invoice:
    acme = Client.objects.get(code="acme")
    return Invoice.objects.get_or_create(
        number="ACME-0001",
        defaults={
            "client": acme,
            # April: the invoice pages' cases (cases_billing) have acme's May invoice.
            "month": dt.date(2026, 4, 1),
            "issue_date": dt.date(2026, 5, 31),
            "due_date": dt.date(2026, 6, 30),
            "net_total": Decimal(30000),
            "tax_total": Decimal(3000),
            "total": Decimal(33000),
        },
    )[0]


def acme_change() -> ContractChange:
    return ContractChange.objects.get_or_create(
        contract=acme_contract(),
        kind="change",
        received_on=dt.date(2026, 6, 1),
        defaults={
            "summary": "監視対象の追加",
            "fee_changes": [
                {
                    "fee": acme_fee().pk,
                    "kind": "monthly",
                    "description": "",
                    "amount": "44000",
                    "tax_rate": 10,
                    "tax_included": False,
                }
            ],
        },
    )[0]


def rows(model):
    return lambda: list(model.objects.values().order_by("pk"))


def billing_rows():
    acme_fee()
    acme_change()
    return [
        rows(Fee)(),
        rows(ContractChange)(),
        rows(Payment)(),
        rows(IssuerProfile)(),
        list(Client.objects.get(code="acme").charges.values().order_by("pk")),
    ]


CASES: dict[str, Case] = {
    "contract_billing": Case(PAGE, lambda s: {"pk": acme_contract().pk}, readers=ACME_PEOPLE),
    "fee_add": Case(
        FORM,
        lambda s: {"pk": acme_contract().pk},
        post=lambda s: {"kind": "annual", "amount": "12000", "tax_rate": "10"},
        writers=STAFF,
        snapshot=billing_rows,
    ),
    "fee_edit": Case(
        FORM,
        lambda s: {"pk": acme_fee().pk},
        post=lambda s: {"kind": "monthly", "amount": "35000", "tax_rate": "10"},
        writers=STAFF,
        snapshot=billing_rows,
    ),
    "fee_delete": Case(
        FORM,
        lambda s: {"pk": acme_fee().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=billing_rows,
    ),
    "change_add": Case(
        FORM,
        lambda s: {"pk": acme_contract().pk},
        post=lambda s: {
            "kind": "order",
            "received_on": "2026-06-05",
            "summary": "追加作業の個別注文",
            "fee_1": "",
            "fee_kind_1": "other",
            "amount_1": "20000",
        },
        writers=STAFF,
        snapshot=billing_rows,
    ),
    "change_detail": Case(PAGE, lambda s: {"pk": acme_change().pk}, readers=ACME_PEOPLE),
    "change_decide": Case(
        ACTION,
        lambda s: {"pk": acme_change().pk},
        post=lambda s: {"decision": "accept", "decided_on": "2026-07-01"},
        writers=STAFF,
        snapshot=billing_rows,
    ),
    "invoice_payments": Case(
        PAGE, lambda s: {"number": acme_invoice().number}, readers=INVOICE_READERS
    ),
    "payment_add": Case(
        ACTION,
        lambda s: {"number": acme_invoice().number},
        post=lambda s: {"amount": "10000", "received_on": "2026-06-20", "note": ""},
        writers=STAFF,
        snapshot=billing_rows,
    ),
    "interest_bill": Case(
        ACTION,
        lambda s: {"number": acme_invoice().number},
        post=lambda s: {"on": "2026-07-31"},
        writers=STAFF,
        snapshot=billing_rows,
    ),
    "surcharge_add": Case(
        FORM,
        lambda s: {"code": s.acme.code},
        post=lambda s: {"evaded": "5000", "reason": "未申告の利用", "occurred_on": "2026-07-01"},
        writers=STAFF,
        snapshot=billing_rows,
    ),
}
