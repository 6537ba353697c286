"""The maintenance windows API (MON-06): lists with the next occurrence, reading, planning with
precise errors, cancelling with its notice, client users read only, audit."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
from django.utils import timezone

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.inventory.models import Site
from mamori.monitoring import maintenance
from mamori.monitoring.models import MaintenanceWindow
from mamori.notices.models import Notice

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.req("MON-06")]

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def api(client, user, method, path, body=None):
    token = create_token(user, "test")[1]
    return client.generic(
        method,
        f"/api/v1{path}",
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def window(client_, title: str, starts: dt.datetime, hours: int = 2, **extra):
    return MaintenanceWindow.objects.create(
        client=client_,
        title=title,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=hours),
        **extra,
    )


def new_window(**extra) -> dict:
    body = {
        "client": "acme",
        "title": "PHP 8.4 upgrade",
        "starts_at": "2027-01-10T01:00:00+09:00",
        "ends_at": "2027-01-10T03:00:00+09:00",
    }
    body.update(extra)
    return body


@pytest.fixture
def windows(acme, globex):
    now = timezone.now().replace(microsecond=0)
    past = window(acme, "Old disk swap", now - dt.timedelta(days=10))
    # Weekly from three weeks ago: its next occurrence is within the coming week.
    weekly = window(acme, "Weekly patching", now - dt.timedelta(days=20), recurrence="weekly")
    secret = window(globex, "Globex secret work", now + dt.timedelta(days=1))
    return {"past": past, "weekly": weekly, "secret": secret, "now": now}


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [w["title"] for w in response.json()["items"]]


def test_provider_staff_list_every_window_with_its_next_occurrence(client, operator, windows):
    assert sorted(titles(api(client, operator, "GET", "/maintenance-windows"))) == [
        "Globex secret work",
        "Old disk swap",
        "Weekly patching",
    ]
    assert titles(api(client, operator, "GET", "/maintenance-windows?client=acme&upcoming=true"))
    upcoming = api(client, operator, "GET", "/maintenance-windows?client=acme&upcoming=true")
    [weekly] = upcoming.json()["items"]
    assert weekly["title"] == "Weekly patching"
    expected = next(
        maintenance.occurrences(windows["weekly"], windows["now"], windows["now"] + dt.timedelta(8))
    )
    assert dt.datetime.fromisoformat(weekly["next_starts_at"]) == expected[0]
    assert dt.datetime.fromisoformat(weekly["next_ends_at"]) == expected[1]
    assert weekly["recurrence"] == "weekly"
    past = api(client, operator, "GET", f"/maintenance-windows/{windows['past'].pk}").json()
    assert past["client"] == "acme"
    assert past["next_starts_at"] is None


def test_client_users_see_only_their_own_windows(client, owner, windows):
    assert sorted(titles(api(client, owner, "GET", "/maintenance-windows"))) == [
        "Old disk swap",
        "Weekly patching",
    ]
    assert titles(api(client, owner, "GET", "/maintenance-windows?client=globex")) == []
    response = api(client, owner, "GET", f"/maintenance-windows/{windows['secret'].pk}")
    assert response.status_code == 404
    response = api(client, owner, "GET", f"/maintenance-windows/{windows['weekly'].pk}")
    assert response.json()["title"] == "Weekly patching"


def test_provider_staff_plan_a_window(client, operator, acme):
    site = Site.objects.create(client=acme, name="www", url="https://www.acme.example/")
    body = new_window(site=site.pk, recurrence="monthly", notify_hours_before=24)
    response = api(client, operator, "POST", "/maintenance-windows", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["site"] == site.pk
    assert data["recurrence"] == "monthly"
    assert dt.datetime.fromisoformat(data["starts_at"]) == dt.datetime(2027, 1, 10, 1, tzinfo=TOKYO)
    created = MaintenanceWindow.objects.get(pk=data["id"])
    assert created.created_by == operator
    event = AuditEvent.objects.get(action="maintenance.add")
    assert event.actor == operator
    assert event.changes["title"] == "PHP 8.4 upgrade"


def test_planning_names_the_field_at_fault(client, operator, acme, globex):
    response = api(
        client,
        operator,
        "POST",
        "/maintenance-windows",
        new_window(ends_at="2027-01-10T00:30:00+09:00"),
    )
    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["body", "payload", "ends_at"]]
    other = Site.objects.create(client=globex, name="globex", url="https://globex.example/")
    response = api(client, operator, "POST", "/maintenance-windows", new_window(site=other.pk))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "site"]
    response = api(client, operator, "POST", "/maintenance-windows", new_window(client="nobody"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "client"]
    response = api(
        client, operator, "POST", "/maintenance-windows", new_window(notify_hours_before=10**6)
    )
    assert response.status_code == 422
    assert not MaintenanceWindow.objects.exists()
    assert not AuditEvent.objects.filter(action="maintenance.add").exists()


def test_cancelling_tells_the_client_who_was_told_once(client, operator, acme):
    contact = acme.contacts.get(email="jane@acme.example")
    contact.notify = ["maintenance"]
    contact.save()
    starts = (timezone.now() + dt.timedelta(hours=5)).replace(microsecond=0)
    disk = window(acme, "Disk swap", starts, hours=1)
    maintenance.announce_due()
    assert Notice.objects.count() == 1
    response = api(client, operator, "POST", f"/maintenance-windows/{disk.pk}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["cancelled_at"] is not None
    assert response.json()["next_starts_at"] is None
    assert Notice.objects.count() == 2
    event = AuditEvent.objects.get(action="maintenance.cancel")
    assert event.actor == operator
    assert event.changes == {"notices": 1}
    # Again: nothing more is sent or recorded.
    again = api(client, operator, "POST", f"/maintenance-windows/{disk.pk}/cancel")
    assert again.status_code == 200
    assert Notice.objects.count() == 2
    assert AuditEvent.objects.filter(action="maintenance.cancel").count() == 1


def test_client_users_cannot_plan_or_cancel(client, owner, member, windows):
    for user in (owner, member):
        response = api(client, user, "POST", "/maintenance-windows", new_window())
        assert response.status_code == 403
        assert "detail" in response.json()
        path = f"/maintenance-windows/{windows['weekly'].pk}/cancel"
        assert api(client, user, "POST", path).status_code == 403
    assert MaintenanceWindow.objects.count() == 3
    assert not MaintenanceWindow.objects.exclude(cancelled_at=None).exists()
