"""The checks API (MON-01) and the roll-ups API (MON-10): CRUD, precise errors, audit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.monitoring.models import Check, Rollup

pytestmark = pytest.mark.req("MON-01")


def api(client, user, method, path, body=None):
    token = create_token(user, "test")[1]
    return client.generic(
        method,
        f"/api/v1{path}",
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def new_check(**extra) -> dict:
    body = {
        "client": "acme",
        "name": "shop",
        "kind": "http",
        "settings": {"url": "https://shop.acme.example/", "expect_status": [200]},
    }
    body.update(extra)
    return body


def test_it_creates_reads_changes_and_deletes_a_check(client, acme, operator):
    created = api(client, operator, "POST", "/checks", new_check())
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["client"] == "acme"
    assert data["state"] == "unknown"
    assert data["settings"] == {"url": "https://shop.acme.example/", "expect_status": [200]}
    pk = data["id"]
    assert api(client, operator, "GET", f"/checks/{pk}").json()["name"] == "shop"
    assert [c["id"] for c in api(client, operator, "GET", "/checks?kind=http").json()["items"]] == [
        pk
    ]
    assert api(client, operator, "GET", "/checks?kind=tcp").json()["items"] == []
    changed = api(client, operator, "PATCH", f"/checks/{pk}", {"interval_seconds": 300})
    assert changed.status_code == 200
    assert changed.json()["interval_seconds"] == 300
    assert changed.json()["name"] == "shop"
    assert api(client, operator, "DELETE", f"/checks/{pk}").status_code == 204
    assert not Check.objects.filter(pk=pk).exists()
    actions = sorted(
        AuditEvent.objects.filter(action__startswith="check.").values_list("action", flat=True)
    )
    assert actions == ["check.create", "check.delete", "check.update"]


def test_it_names_the_setting_at_fault(client, acme, operator):
    body = new_check(kind="tcp", settings={"host": "db.acme.example", "port": 70000})
    response = api(client, operator, "POST", "/checks", body)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert {
        "loc": ["body", "payload", "settings", "port"],
        "msg": "1 から 65535 までの整数で指定してください",  # the default language, Japanese
        "type": "value_error",
    } in problems
    response = api(client, operator, "POST", "/checks", new_check(timeout_seconds=60))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "timeout_seconds"]
    response = api(client, operator, "POST", "/checks", new_check(client="nobody"))
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "client"]
    assert not Check.objects.exists()


def test_it_refuses_a_change_that_breaks_the_settings(client, acme, operator):
    check = Check.objects.create(
        client=acme, name="db", kind="tcp", settings={"host": "db.acme.example", "port": 5432}
    )
    response = api(client, operator, "PATCH", f"/checks/{check.pk}", {"kind": "dns"})
    assert response.status_code == 422
    locs = [p["loc"] for p in response.json()["detail"]]
    assert ["body", "payload", "settings", "name"] in locs
    check.refresh_from_db()
    assert check.kind == "tcp"


def test_client_users_read_checks_but_do_not_change_them(client, acme, globex, owner, outsider):
    check = Check.objects.create(
        client=acme, name="db", kind="tcp", settings={"host": "db.acme.example", "port": 5432}
    )
    assert api(client, owner, "GET", f"/checks/{check.pk}").status_code == 200
    assert api(client, owner, "PATCH", f"/checks/{check.pk}", {"enabled": False}).status_code == 403
    assert api(client, owner, "POST", "/checks", new_check()).status_code == 403
    assert api(client, outsider, "GET", f"/checks/{check.pk}").status_code == 404
    assert api(client, outsider, "GET", "/checks").json()["items"] == []


@pytest.mark.req("MON-10")
def test_it_serves_rollups(client, acme, owner):
    check = Check.objects.create(
        client=acme, name="db", kind="tcp", settings={"host": "db.acme.example", "port": 5432}
    )
    now = timezone.now()
    for hours in (50, 3, 2):
        Rollup.objects.create(
            uptime_check=check,
            resolution="1h",
            start=now - dt.timedelta(hours=hours),
            count=60,
            up_count=59,
            sum_ms=6000,
            min_ms=20,
            max_ms=400,
        )
    since = (now - dt.timedelta(hours=10)).isoformat()
    response = api(
        client,
        owner,
        "GET",
        f"/checks/{check.pk}/rollups?resolution=1h&since={since.replace('+', '%2B')}",
    )
    data = response.json()
    assert data["resolution"] == "1h"
    assert [r["mean_ms"] for r in data["rollups"]] == [100.0, 100.0]
    assert data["rollups"][0]["availability"] == pytest.approx(59 / 60)
    everything = api(client, owner, "GET", f"/checks/{check.pk}/rollups").json()
    assert len(everything["rollups"]) == 3
    bad = api(client, owner, "GET", f"/checks/{check.pk}/rollups?resolution=2h")
    assert bad.status_code == 422
