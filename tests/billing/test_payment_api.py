"""The API of fees, payments, interest, the liability cap and contract changes: the services'
validation as 422 with the field, the staff rule as 403."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from mamori.billing.models import ChangeState, ContractChange, Fee, Payment
from mamori.core.tokens import create_token
from tests.billing.payments_support import contract_of, invoice, monthly_fee

D = dt.date


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {create_token(user, 'test')[1]}"}


@pytest.mark.req("BIL-01")
def test_fees_api(client, acme, operator, owner):
    contract = acme.contracts.first()
    url = f"/api/v1/contracts/{contract.pk}/fees"
    bad = client.post(
        url,
        {"kind": "monthly", "amount": "1", "starts_on": "2020-01-01"},
        content_type="application/json",
        headers=bearer(operator),
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "payload", "starts_on"]
    made = client.post(
        url,
        {"kind": "monthly", "amount": "33000", "tax_rate": 8},
        content_type="application/json",
        headers=bearer(operator),
    )
    assert made.status_code == 201, made.content
    fee_id = made.json()["id"]
    assert made.json()["amount"] == "33000" and made.json()["tax_rate"] == 8
    assert (
        client.post(
            url,
            {"kind": "monthly", "amount": "1"},
            content_type="application/json",
            headers=bearer(owner),
        ).status_code
        == 403
    )
    changed = client.patch(
        f"{url}/{fee_id}",
        {"ends_on": "2027-03-31"},
        content_type="application/json",
        headers=bearer(operator),
    )
    assert changed.json()["ends_on"] == "2027-03-31"
    assert client.get(url, headers=bearer(owner)).json()[0]["id"] == fee_id
    assert client.delete(f"{url}/{fee_id}", headers=bearer(operator)).status_code == 204
    assert not Fee.objects.exists()


@pytest.mark.req("BIL-04")
def test_payments_api(client, acme, operator):
    inv = invoice(acme, total=110000, due=D(2027, 1, 31))
    url = f"/api/v1/invoices/{inv.number}/payments"
    ok = client.post(
        url,
        {"amount": "100000", "received_on": "2027-01-30"},
        content_type="application/json",
        headers=bearer(operator),
    )
    assert ok.status_code == 201
    over = client.post(
        url,
        {"amount": "10001", "received_on": "2027-02-01"},
        content_type="application/json",
        headers=bearer(operator),
    )
    assert over.status_code == 422
    assert over.json()["detail"][0]["loc"][-1] == "amount"
    assert Payment.objects.count() == 1
    # 10,000 × 0.145 × 31 / 365 = 123.15 → ¥123.
    interest = client.get(
        f"/api/v1/invoices/{inv.number}/interest?on=2027-03-03", headers=bearer(operator)
    ).json()
    assert interest["interest"] == "123" and interest["overdue"] is True
    billed = client.post(
        f"/api/v1/invoices/{inv.number}/interest",
        {"on": "2027-03-03"},
        content_type="application/json",
        headers=bearer(operator),
    ).json()
    assert billed["billed"] == "123"


@pytest.mark.req("BIL-06")
def test_liability_cap_api(client, acme, owner):
    contract = contract_of(acme, "operations_support")
    monthly_fee(contract, 50000)
    data = client.get(
        f"/api/v1/contracts/{contract.pk}/liability-cap?on=2026-06-01", headers=bearer(owner)
    ).json()
    assert data["amount"] == "55000" and data["rule"] == "one_month_fee"
    assert data["clause"] == "004 §39"


@pytest.mark.req("CT-06")
@pytest.mark.django_db(databases=["default", "keystore"])
def test_changes_api(client, acme, operator):
    contract = contract_of(acme)
    fee = monthly_fee(contract, 33000)
    made = client.post(
        f"/api/v1/contracts/{contract.pk}/changes",
        {
            "kind": "change",
            "received_on": "2026-06-10",
            "summary": "2台追加",
            "fee_changes": [{"fee": fee.pk, "amount": "44000"}],
            "documents": [
                {
                    "name": "申込書.pdf",
                    "personal": True,
                    "content_base64": base64.b64encode(b"%PDF").decode(),
                }
            ],
        },
        content_type="application/json",
        headers=bearer(operator),
    )
    assert made.status_code == 201, made.content
    change_id = made.json()["id"]
    assert len(made.json()["documents"]) == 1
    accepted = client.post(
        f"/api/v1/contract-changes/{change_id}/accept",
        {"on": "2026-07-01"},
        content_type="application/json",
        headers=bearer(operator),
    )
    assert accepted.json()["state"] == ChangeState.ACCEPTED
    again = client.post(
        f"/api/v1/contract-changes/{change_id}/decline",
        {},
        content_type="application/json",
        headers=bearer(operator),
    )
    assert again.status_code == 422
    assert ContractChange.objects.get().state == ChangeState.ACCEPTED


@pytest.mark.req("BIL-04")
def test_surcharge_api(client, acme, globex, operator):
    url = "/api/v1/clients/acme/surcharges"
    made = client.post(
        url,
        {
            "evaded": "33000",
            "reason": "未申告のサーバー",
            "occurred_on": "2027-02-01",
            "contract": acme.contracts.first().pk,
        },
        content_type="application/json",
        headers=bearer(operator),
    )
    assert made.status_code == 201, made.content
    assert made.json()["amount"] == "66000" and made.json()["source"] == "surcharge"
    foreign = globex.contracts.create(type="ssl_management", start=D(2026, 4, 1))
    wrong = client.post(
        url,
        {"evaded": "1", "reason": "x", "occurred_on": "2027-02-01", "contract": foreign.pk},
        content_type="application/json",
        headers=bearer(operator),
    )
    assert wrong.status_code == 422
