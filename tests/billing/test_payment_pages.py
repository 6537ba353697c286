"""The billing pages of this part at work: the issuer for provider administrators, fees from the
contract's page, payments and the overpayment message, changes accepted from their page, the
liability cap block, overdue invoices on the dashboard; in both languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from mamori.billing.models import ChangeState, ContractChange, Fee, IssuerProfile, Payment
from mamori.core.models import AuditEvent
from tests.billing.payments_support import contract_of, invoice, monthly_fee, pay

D = dt.date


@pytest.mark.req("BIL-01")
def test_issuer_page_for_provider_admins_only(client, provider_admin, operator):
    client.force_login(operator)
    assert client.get(reverse("issuer_settings")).status_code == 403
    client.force_login(provider_admin)
    page = client.get(reverse("issuer_settings"))
    assert page.status_code == 200
    response = client.post(
        reverse("issuer_settings"),
        {
            "name": "株式会社まもり",
            "registration_number": "T1234567890123",
            "tax_rounding": "floor",
            "work_rate_per_hour": "8000",
        },
    )
    assert response.status_code == 200
    assert (
        "チェックデジット" in response.content.decode()
        or "check digit" in response.content.decode()
    )
    response = client.post(
        reverse("issuer_settings"),
        {
            "name": "株式会社まもり",
            "registration_number": "T7000012050002",
            "tax_rounding": "floor",
            "work_rate_per_hour": "8000",
            "bank_account": "みずほ銀行 本店 普通 1234567",
        },
    )
    assert response.status_code == 302
    profile = IssuerProfile.objects.get(pk=1)
    assert profile.work_rate_per_hour == Decimal(8000)
    assert AuditEvent.objects.filter(action="issuer.update").exists()


@pytest.mark.req("BIL-01")
def test_fees_from_the_contract_page(client, acme, operator, member):
    contract = acme.contracts.first()
    client.force_login(operator)
    detail = client.get(acme.get_absolute_url()).content.decode()
    assert reverse("contract_billing", args=[contract.pk]) in detail
    response = client.post(
        reverse("fee_add", args=[contract.pk]),
        {
            "kind": "monthly",
            "amount": "33000",
            "tax_rate": "10",
            "tax_included": "on",
            "starts_on": "2026-03-01",
        },
    )
    assert response.status_code == 200  # before the contract's start: said at the field
    assert "field-starts_on" in response.content.decode()
    response = client.post(
        reverse("fee_add", args=[contract.pk]),
        {"kind": "monthly", "amount": "33000", "tax_rate": "8"},
    )
    assert response.status_code == 302
    fee = Fee.objects.get()
    assert (fee.amount, fee.tax_rate, fee.tax_included) == (Decimal(33000), 8, False)
    page = client.get(reverse("contract_billing", args=[contract.pk])).content.decode()
    assert "33,000円" in page and 'id="liability-cap"' in page
    client.force_login(member)
    page = client.get(reverse("contract_billing", args=[contract.pk])).content.decode()
    assert reverse("fee_add", args=[contract.pk]) not in page
    assert client.get(reverse("fee_edit", args=[fee.pk])).status_code == 403


@pytest.mark.req("BIL-04")
def test_payment_form_refuses_an_overpayment_with_the_reason(client, acme, operator):
    inv = invoice(acme, total=110000, due=D(2027, 1, 31))
    client.force_login(operator)
    url = reverse("payment_add", args=[inv.number])
    response = client.post(url, {"amount": "60000", "received_on": "2027-01-20"})
    assert response.status_code == 302
    response = client.post(url, {"amount": "60000", "received_on": "2027-01-25"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "過入金" in body and "50,000円" in body
    assert Payment.objects.count() == 1
    page = client.get(reverse("invoice_payments", args=[inv.number]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200


@pytest.mark.req("BIL-04")
def test_overdue_invoice_on_the_dashboard(client, acme, operator, owner, member):
    inv = invoice(acme, total=110000, due=D(2026, 1, 31))
    pay(inv, 10000, D(2026, 1, 20))
    for user in (operator, owner):
        client.force_login(user)
        body = client.get(reverse("dashboard")).content.decode()
        assert 'data-kind="invoice_overdue"' in body
        assert inv.number in body and "100,000円" in body
    client.force_login(member)
    assert 'data-kind="invoice_overdue"' not in client.get(reverse("dashboard")).content.decode()


@pytest.mark.req("CT-06")
def test_change_accepted_from_its_page(client, acme, operator):
    contract = contract_of(acme)
    fee = monthly_fee(contract, 33000)
    client.force_login(operator)
    response = client.post(
        reverse("change_add", args=[contract.pk]),
        {
            "kind": "change",
            "received_on": "2026-06-10",
            "summary": "2台追加",
            "fee_1": str(fee.pk),
            "amount_1": "44000",
        },
    )
    assert response.status_code == 302
    change = ContractChange.objects.get()
    page = client.get(reverse("change_detail", args=[change.pk])).content.decode()
    assert "44,000円" in page and "33,000円" in page
    client.post(
        reverse("change_decide", args=[change.pk]),
        {"decision": "accept", "decided_on": "2026-07-01"},
    )
    change.refresh_from_db()
    assert change.state == ChangeState.ACCEPTED
    fee.refresh_from_db()
    assert fee.ends_on == D(2026, 6, 30)
    assert Fee.objects.get(change=change).amount == Decimal(44000)
