"""The scope of work through the API (MNT-03, MNT-04): catalogue, proposal and classification,
allowance, work log; refusals in the API's one error shape."""

from __future__ import annotations

import json

import pytest
from django.test import Client as HttpClient

from mamori.core.tokens import create_token
from tests.desk.scope_support import maintenance_contract, request_of, tokyo

pytestmark = [pytest.mark.django_db]


def api(user):
    http = HttpClient(headers={"Authorization": f"Bearer {create_token(user, 'test')[1]}"})

    def call(method: str, path: str, body=None):
        return http.generic(
            method, f"/api/v1{path}", json.dumps(body) if body is not None else "",
            content_type="application/json",
        )  # fmt: skip

    return call


@pytest.mark.req("MNT-03")
@pytest.mark.req("MNT-04")
def test_catalogue_classification_allowance_and_work(acme, operator, owner):
    contract = maintenance_contract(acme, catalogue=False)
    call = api(operator)
    applied = call("POST", f"/contracts/{contract.pk}/catalogue/apply-shipped")
    assert applied.status_code == 200 and len(applied.json()) == 16
    assert call("POST", f"/contracts/{contract.pk}/catalogue/apply-shipped").json() == []
    items = {i["code"]: i for i in call("GET", f"/contracts/{contract.pk}/catalogue").json()}
    text_fix = items["text-fix"]
    assert (text_fix["clause"], text_fix["monthly_limit"]) == ("001 §3(3)", None)
    changed = call(
        "PATCH", f"/contracts/{contract.pk}/catalogue/{text_fix['id']}", {"monthly_limit": 1}
    )
    assert changed.status_code == 200 and changed.json()["monthly_limit"] == 1
    bad = call(
        "PATCH", f"/contracts/{contract.pk}/catalogue/{items['new-page']['id']}",
        {"monthly_limit": 2},
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "monthly_limit"

    first = request_of(contract, "誤字の修正", "会社概要に誤字", tokyo(2026, 5, 7, 10))
    second = request_of(contract, "Typo", "A typo on the top page", tokyo(2026, 5, 8, 10))
    scope = call("GET", f"/requests/{first.pk}/scope").json()
    assert scope["proposal"]["item"] == "text-fix" and "誤字" in scope["proposal"]["words"]
    assert scope["scope"] == "unclassified"
    done = call("POST", f"/requests/{first.pk}/scope", {"item": "text-fix"})
    assert done.status_code == 200 and done.json()["allowance_month"] == "2026-05"
    full = call("POST", f"/requests/{second.pk}/scope", {"item": "text-fix"})
    assert full.status_code == 422 and full.json()["detail"][0]["loc"][-1] == "over_limit"
    over = call("POST", f"/requests/{second.pk}/scope", {"item": "text-fix", "over_limit": True})
    assert over.json()["over_limit"] is True
    allowance = call("GET", f"/contracts/{contract.pk}/allowance?month=2026-05").json()
    used = {i["item"]: (i["used"], i["limit"]) for i in allowance["items"]}
    assert used["text-fix"] == (2, 1)
    assert call("GET", f"/contracts/{contract.pk}/allowance?month=May").status_code == 422

    logged = call("POST", f"/requests/{first.pk}/work", {"minutes": 30, "text": "修正"})
    assert logged.status_code == 201 and logged.json()["by"] == "operator"
    entry = logged.json()["id"]
    assert call("PATCH", f"/requests/{first.pk}/work/{entry}", {"minutes": 0}).status_code == 422
    assert (
        call("PATCH", f"/requests/{first.pk}/work/{entry}", {"minutes": 40}).json()["minutes"] == 40
    )
    # The client reads the work log and the scope but changes neither.
    client_call = api(owner)
    assert client_call("GET", f"/requests/{first.pk}/work").json()[0]["minutes"] == 40
    assert client_call("DELETE", f"/requests/{first.pk}/work/{entry}").status_code == 403
    refused = client_call("POST", f"/requests/{first.pk}/scope", {"scope": "out_of_scope"})
    assert refused.status_code == 403
    assert call("DELETE", f"/requests/{first.pk}/work/{entry}").status_code == 204
