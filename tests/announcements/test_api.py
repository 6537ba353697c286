"""The announcement API (NOT-04): draft, dry run, send once; refusals with the earliest date;
clients read what they were told."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from mamori.core.tokens import create_token
from mamori.notices.models import Notice, NoticeKind

pytestmark = pytest.mark.req("NOT-04")


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {create_token(user, 'test')[1]}"}


def body(days_ahead: int, **extra) -> dict:
    return {
        "kind": "terms_change",
        "effective_on": (timezone.localdate() + dt.timedelta(days=days_ahead)).isoformat(),
        "subject_ja": "約款改定のお知らせ",
        "subject_en": "Changes to our terms",
        "body_ja": "第5条を改定します。",
        "body_en": "We are changing article 5.",
        "contract_types": ["operations_support"],
        **extra,
    }


def test_an_operator_drafts_dry_runs_and_sends_once(ops, ca_client, operator, client):
    headers = bearer(operator)
    refused = client.post(
        "/api/v1/announcements", body(13), content_type="application/json", headers=headers
    )
    assert refused.status_code == 422
    earliest = (timezone.localdate() + dt.timedelta(days=14)).isoformat()
    (problem,) = refused.json()["detail"]
    assert problem["loc"][-1] == "effective_on" and earliest in problem["msg"]
    made = client.post(
        "/api/v1/announcements", body(14), content_type="application/json", headers=headers
    )
    assert made.status_code == 201, made.content
    draft = made.json()
    assert [row["client"] for row in draft["preview"]] == ["acme"]
    assert draft["earliest_allowed"] == earliest and draft["problem"] is None
    url = f"/api/v1/announcements/{draft['id']}/send"
    dry = client.post(f"{url}?dry_run=true", headers=headers).json()
    assert (dry["dry_run"], dry["clients"], dry["notices"]) == (True, 1, 1)
    assert dry["recipients"][0]["recipients"] == ["keiri@acme.example"]
    assert not Notice.objects.exists()
    sent = client.post(url, headers=headers).json()
    assert (sent["already_sent"], sent["clients"], sent["notices"]) == (False, 1, 1)
    again = client.post(url, headers=headers).json()
    assert (again["already_sent"], again["notices"]) == (True, 0)
    assert Notice.objects.filter(kind=NoticeKind.ANNOUNCEMENT).count() == 1
    changed = client.put(
        f"/api/v1/announcements/{draft['id']}",
        body(20),
        content_type="application/json",
        headers=headers,
    )
    assert changed.status_code == 409


def test_a_client_reads_only_what_it_was_told(ops, ca_client, operator, owner, client):
    headers = bearer(operator)
    for types in (["operations_support"], ["ca_service"]):
        made = client.post(
            "/api/v1/announcements",
            body(30, contract_types=types, subject_en=f"To {types[0]}"),
            content_type="application/json",
            headers=headers,
        ).json()
        client.post(f"/api/v1/announcements/{made['id']}/send", headers=headers)
    listed = client.get("/api/v1/announcements", headers=bearer(owner)).json()
    assert [a["subject_en"] for a in listed["items"]] == ["To operations_support"]
    assert [r["client"] for r in listed["items"][0]["recipients"]] == ["acme"]


def test_the_periods_are_read_and_set_by_operators_only(ops, operator, owner, client):
    periods = client.get("/api/v1/announcement-periods", headers=bearer(operator)).json()
    assert {
        "terms_profile": "monthly-004",
        "kind": "service_end",
        "days": 0,
        "months": 2,
        "source": "004 §24",
    } in periods
    assert {"terms_profile": "ca-003", "kind": "service_end", "months": 3}.items() <= next(
        p for p in periods if p["terms_profile"] == "ca-003" and p["kind"] == "service_end"
    ).items()
    new = {"kind": "terms_change", "days": 30, "months": 0}
    refused = client.put(
        "/api/v1/announcement-periods/monthly-004",
        new,
        content_type="application/json",
        headers=bearer(owner),
    )
    assert refused.status_code == 403
    done = client.put(
        "/api/v1/announcement-periods/monthly-004",
        new,
        content_type="application/json",
        headers=bearer(operator),
    )
    assert done.status_code == 200 and done.json()["days"] == 30
