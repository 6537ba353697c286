"""The pages of fees, changes, the liability cap and payments at 360 px, in Japanese and English:
nothing wider than the screen; screenshots in test-artifacts/ to look at."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from mamori.billing.models import ContractChange
from mamori.clients.models import ContractType
from tests.billing.payments_support import contract_of, invoice, monthly_fee, pay
from tests.browser.phone import overflow, shoot, sign_in_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(databases="__all__", transaction=True),
    pytest.mark.req("BIL-04"),
    pytest.mark.req("BIL-06"),
]

NARROW = {"width": 360, "height": 780}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_billing_pages_fit_a_narrow_phone(language, acme, operator, live_server, page):
    operator.language = language
    operator.save()
    contract = contract_of(acme, ContractType.SERVER_MANAGEMENT)
    fee = monthly_fee(
        contract, 44000, description="サーバー管理費（web01・db01・監視オプション含む）"
    )
    for month in (4, 5, 6):
        inv = invoice(acme, total=48400, due=dt.date(2026, month, 28), lines=[(fee, 48400)])
        pay(inv, 20000 if month == 6 else 48400, dt.date(2026, month, 25))
    change = ContractChange.objects.create(
        contract=contract,
        kind="change",
        received_on=dt.date(2026, 6, 10),
        summary="監視対象サーバーを2台追加し、月額費用を変更する。",
        fee_changes=[
            {
                "fee": fee.pk,
                "kind": "monthly",
                "description": "",
                "amount": "55000",
                "tax_rate": 10,
                "tax_included": False,
            }
        ],
    )
    page.set_viewport_size(NARROW)
    sign_in_as(page.context, live_server, operator)
    pages = {
        "contract": reverse("contract_billing", args=[contract.pk]) + "?on=2026-07-01",
        "fee": reverse("fee_edit", args=[fee.pk]),
        "change-form": reverse("change_add", args=[contract.pk]),
        "change": reverse("change_detail", args=[change.pk]),
        "payments": reverse("invoice_payments", args=[inv.number]),
        "surcharge": reverse("surcharge_add", args=[acme.code]),
    }
    too_wide = {}
    for name, url in pages.items():
        response = page.goto(live_server.url + url)
        assert response.status == 200, url
        problems = overflow(page)
        if problems:
            too_wide[name] = problems
        shoot(page, f"billing-{name}-360-{language}")
    assert not too_wide, too_wide
