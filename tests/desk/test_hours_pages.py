"""The support-hours pages and API (MNT-05): closed days for the provider's staff, a contract's
support hours with the check of its next business days."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.desk.models import ClosedDay, SupportHours
from mamori.desk.services import create_request


def closed_new_year() -> ClosedDay:
    return ClosedDay.objects.create(
        first=dt.date(2026, 12, 29), last=dt.date(2027, 1, 4), name="年末年始"
    )


@pytest.mark.req("MNT-05")
def test_operators_keep_the_closed_days(client, operator):
    client.force_login(operator)
    page = client.get("/desk/closed-days/")
    assert page.status_code == 200
    response = client.post(
        "/desk/closed-days/", {"first": "2026-12-29", "last": "2027-01-04", "name": "年末年始"}
    )
    assert response.status_code == 302
    closed = ClosedDay.objects.get()
    page = client.get("/desk/closed-days/").content.decode()
    assert "年末年始" in page
    assert "2027-01-05" in page  # reopens on Tuesday 1/5 (1/4 is closed too)
    # Refused input: a message on the form, nothing stored.
    bad = client.post(
        "/desk/closed-days/", {"first": "2026-08-16", "last": "2026-08-13", "name": "夏季休業"}
    )
    assert bad.status_code == 400
    assert "最終日が初日より前" in bad.content.decode()
    assert ClosedDay.objects.count() == 1
    assert client.post(f"/desk/closed-days/{closed.pk}/delete/").status_code == 302
    assert not ClosedDay.objects.exists()
    actions = AuditEvent.objects.filter(actor=operator).values_list("action", flat=True)
    assert {"closed_day.add", "closed_day.remove"} <= set(actions)


@pytest.mark.parametrize("role", ["owner", "member", "subcontractor", "outsider"])
def test_closed_days_are_not_for_clients_or_subcontractors(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get("/desk/closed-days/").status_code == 403
    response = client.post(
        "/desk/closed-days/", {"first": "2026-12-29", "last": "2027-01-04", "name": "x"}
    )
    assert response.status_code == 403
    closed = closed_new_year()
    assert client.post(f"/desk/closed-days/{closed.pk}/delete/").status_code == 403
    assert ClosedDay.objects.count() == 1


@pytest.mark.req("MNT-05")
def test_the_contract_page_sets_support_hours_and_shows_the_next_business_day(
    client, acme, operator, owner
):
    closed_new_year()
    contract = acme.contracts.get()
    client.force_login(operator)
    assert (
        f"/desk/contracts/{contract.pk}/hours/"
        in client.get(contract.get_absolute_url()).content.decode()
    )
    url = f"/desk/contracts/{contract.pk}/hours/"
    page = client.get(url + "?after=2026-12-28").content.decode()
    assert "2026-12-28 の次の営業日は <strong>2027-01-05</strong>" in page
    response = client.post(
        url,
        {
            "weekdays": ["0", "1", "2", "3", "4", "5"],
            "opens": "09:00",
            "closes": "17:30",
            "first_response": "4h",
            "resolution": "3d",
        },
    )
    assert response.status_code == 302
    row = SupportHours.objects.get(contract=contract)
    assert (row.weekdays, row.opens, row.closes) == (
        [0, 1, 2, 3, 4, 5],
        dt.time(9),
        dt.time(17, 30),
    )
    assert (row.first_response_minutes, row.resolution_minutes) == (240, 3 * 510)
    # Saturday now counts: the next business day after Friday 2027-01-08 is Saturday 1/9.
    page = client.get(url + "?after=2027-01-08").content.decode()
    assert "<strong>2027-01-09</strong>" in page
    bad = client.post(url, {"weekdays": ["0"], "opens": "18:00", "closes": "10:00"})
    assert bad.status_code == 400
    assert "終了時刻は同じ日の開始時刻より後" in bad.content.decode()
    # The client's administrator reads them and may not change them.
    client.force_login(owner)
    assert client.get(url).status_code == 200
    assert (
        client.post(url, {"weekdays": ["0"], "opens": "10:00", "closes": "11:00"}).status_code
        == 403
    )


def api(client, user, method, path, body=None):
    token = create_token(user, "test")[1]
    return client.generic(
        method,
        f"/api/v1{path}",
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.req("MNT-05")
def test_the_api(client, acme, operator, owner):
    created = api(
        client,
        operator,
        "POST",
        "/desk/closed-days",
        {"first": "2026-12-29", "last": "2027-01-03", "name": "年末年始"},
    )
    assert created.status_code == 201, created.content
    refused = api(
        client,
        operator,
        "POST",
        "/desk/closed-days",
        {"first": "2026-12-29", "last": "2026-12-01", "name": "x"},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "payload", "last"]
    assert api(client, owner, "POST", "/desk/closed-days", created.json()).status_code == 403
    assert [d["name"] for d in api(client, owner, "GET", "/desk/closed-days").json()] == [
        "年末年始"
    ]

    contract = acme.contracts.get()
    path = f"/contracts/{contract.pk}/support-hours"
    got = api(client, owner, "GET", path).json()
    assert (got["own"], got["weekdays"], got["opens"]) == (
        False,
        ["mon", "tue", "wed", "thu", "fri"],
        "10:00",
    )
    body = {"weekdays": ["mon", "wed"], "opens": "09:00", "closes": "12:00"}
    assert api(client, owner, "PUT", path, body).status_code == 403
    put = api(client, operator, "PUT", path, {**body, "first_response_minutes": 90})
    assert put.status_code == 200, put.content
    assert put.json()["effective_first_response_minutes"] == 90
    bad = api(client, operator, "PUT", path, {**body, "closes": "08:00"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "payload", "closes"]

    req = create_request(
        acme,
        channel="api",
        subject="フォームの不具合",
        contract=contract,
        received_at=dt.datetime(2026, 6, 10, 11, 0, tzinfo=dt.UTC),  # Wed 20:00 in Tokyo
    )
    targets = api(client, owner, "GET", f"/requests/{req.pk}/targets").json()
    first = targets["targets"][0]
    # Monday and Wednesday 9:00-12:00: Wednesday 20:00 + 90 min → Monday 6/15 10:30.
    assert first["target"] == "first_response"
    assert first["due"].startswith("2026-06-15T01:30:00")
