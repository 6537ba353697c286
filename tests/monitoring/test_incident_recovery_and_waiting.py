"""Recording an incident's recovery by hand and its waiting on the client, on the incident's
page and through the API (MON-07, CT-09): who may, what the page shows, errors, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation

from mamori.clients.models import ClientWait
from mamori.core.models import AuditEvent
from mamori.monitoring import incidents
from mamori.monitoring.models import Incident, IncidentState
from tests.monitoring.test_incident_pages import api

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def incident(acme, operator) -> Incident:
    return incidents.open_manual(acme, operator, "shop down", started_at=T0, notify=False)


def text(user, message: str) -> str:
    with translation.override(user.preferred_language()):
        return translation.gettext(message)


@pytest.mark.req("MON-07")
def test_an_operator_records_the_recovery_on_the_incident_page(client, incident, operator):
    client.force_login(operator)
    page = reverse("incident_detail", args=[incident.pk])
    body = client.get(page).content.decode()
    assert text(operator, "not recorded yet") in body
    assert reverse("incident_recovery", args=[incident.pk]) in body
    url = reverse("incident_recovery", args=[incident.pk])
    response = client.post(url, {"recovered_at": "2026-11-20T13:00"})  # Asia/Tokyo
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.recovered_at == T0 + dt.timedelta(hours=3)
    assert incident.state == IncidentState.RECOVERED
    assert AuditEvent.objects.filter(action="incident.recovery", actor=operator).exists()
    # Before the start: said on the form, nothing changes.
    response = client.post(url, {"recovered_at": "2026-11-19T08:00"})
    assert response.status_code == 400
    assert text(operator, "The recovery comes before the start.") in response.content.decode()
    assert client.post(url, {"recovered_at": ""}).status_code == 400


@pytest.mark.req("CT-09")
def test_an_operator_puts_the_incident_in_waiting_and_ends_it_on_the_page(
    client, incident, operator
):
    client.force_login(operator)
    response = client.post(
        reverse("incident_wait", args=[incident.pk]),
        {"awaited": "FTP のパスワード", "since": "2026-11-20T10:30"},
    )
    assert response.status_code == 302
    body = client.get(reverse("incident_detail", args=[incident.pk])).content.decode()
    assert "FTP のパスワード" in body and text(operator, "The client answered") in body
    response = client.post(reverse("incident_wait_end", args=[incident.pk]), {"until": ""})
    assert response.status_code == 302
    [wait] = ClientWait.objects.of(incident)
    assert wait.since == T0 + dt.timedelta(minutes=30) and wait.until is not None
    assert (wait.started_by, wait.ended_by, wait.client_id) == (
        operator,
        operator,
        incident.client_id,
    )
    # Nothing awaited: said on the form.
    response = client.post(reverse("incident_wait", args=[incident.pk]), {"awaited": ""})
    assert response.status_code == 400


@pytest.mark.req("CT-09")
def test_client_users_see_the_waits_but_have_no_buttons_and_may_not_post(
    client, incident, operator, owner
):
    incidents.wait_for_client(incident, operator, "管理画面のアクセス権", since=T0)
    client.force_login(owner)
    body = client.get(reverse("incident_detail", args=[incident.pk])).content.decode()
    assert "管理画面のアクセス権" in body
    assert reverse("incident_wait_end", args=[incident.pk]) not in body
    assert reverse("incident_recovery", args=[incident.pk]) not in body
    assert client.post(reverse("incident_wait_end", args=[incident.pk])).status_code == 403
    assert (
        client.post(
            reverse("incident_recovery", args=[incident.pk]), {"recovered_at": "2026-11-20T12:00"}
        ).status_code
        == 403
    )


@pytest.mark.req("CT-09")
@pytest.mark.req("MON-07")
def test_the_api_records_recovery_and_waiting(client, incident, operator, owner):
    path = f"/incidents/{incident.pk}"
    assert api(client, owner, "POST", f"{path}/waiting", {"awaited": "x"}).status_code == 403
    response = api(
        client,
        operator,
        "POST",
        f"{path}/waiting",
        {"awaited": "ログの提供", "since": T0.isoformat()},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["waiting_for_client"] is True and body["opened_by_hand"] is True
    assert [w["awaited"] for w in body["client_waits"]] == ["ログの提供"]
    again = api(client, operator, "POST", f"{path}/waiting", {"awaited": "y"})
    assert again.status_code == 422
    end = (T0 + dt.timedelta(hours=2)).isoformat()
    response = api(client, operator, "POST", f"{path}/waiting/end", {"until": end})
    assert response.status_code == 200 and response.json()["waiting_for_client"] is False
    assert response.json()["client_waits"][0]["until"] is not None
    back = (T0 + dt.timedelta(hours=3)).isoformat()
    response = api(client, operator, "POST", f"{path}/recovery", {"recovered_at": back})
    assert response.status_code == 200
    assert response.json()["recovered_at"].startswith("2026-11-20T04:00")
    early = (T0 - dt.timedelta(hours=3)).isoformat()
    bad = api(client, operator, "POST", f"{path}/recovery", {"recovered_at": early})
    assert bad.status_code == 422
