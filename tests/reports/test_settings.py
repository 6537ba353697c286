"""A client's report settings (RPT-01): reachable from the client's page, set on the settings
page and through the API by the one service function, audited, refused precisely."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.reports import services
from mamori.reports.models import ReportSettings

pytestmark = pytest.mark.req("RPT-01")

URL = "/api/v1/clients/acme/report-settings"


def auth(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {create_token(user, 'test')[1]}"}


def test_the_client_page_links_to_the_settings(acme, operator, client):
    client.force_login(operator)
    page = client.get(reverse("client_detail", args=[acme.code])).content.decode()
    assert reverse("report_settings", args=[acme.code]) in page


def test_the_client_user_sees_no_settings_link(acme, owner, client):
    client.force_login(owner)
    page = client.get(reverse("client_detail", args=[acme.code])).content.decode()
    assert reverse("report_settings", args=[acme.code]) not in page
    assert client.get(reverse("report_settings", args=[acme.code])).status_code == 403


def test_api_reads_the_defaults_and_sets_them_with_an_audit_event(acme, operator, client):
    assert client.get(URL, **auth(operator)).json() == {
        "client": "acme",
        "business_day": 5,
        "auto_release": False,
    }
    changed = client.put(
        URL,
        {"business_day": 3, "auto_release": True},
        content_type="application/json",
        **auth(operator),
    )
    assert changed.status_code == 200
    assert changed.json() == {"client": "acme", "business_day": 3, "auto_release": True}
    row = ReportSettings.objects.get(client=acme)
    assert (row.business_day, row.auto_release) == (3, True)
    event = AuditEvent.objects.filter(action="report.settings").get()
    assert event.actor == operator and event.client == acme
    assert event.changes == {"business_day": [5, 3], "auto_release": [False, True]}
    # The third Japanese business day of December 2026: Tue 1, Wed 2, Thu 3.
    assert services.build_day(acme, dt.date(2026, 11, 1)) == dt.date(2026, 12, 3)


def test_the_page_sets_them_through_the_same_function(acme, operator, client):
    client.force_login(operator)
    response = client.post(
        reverse("report_settings", args=[acme.code]), {"business_day": "7", "auto_release": ""}
    )
    assert response.status_code == 302
    row = ReportSettings.objects.get(client=acme)
    assert (row.business_day, row.auto_release) == (7, False)
    assert AuditEvent.objects.filter(action="report.settings", actor=operator).count() == 1


@pytest.mark.parametrize("day", [0, 16, -1, 10**12])
def test_api_refuses_a_bad_business_day_precisely(acme, operator, client, day):
    response = client.put(
        URL,
        {"business_day": day, "auto_release": False},
        content_type="application/json",
        **auth(operator),
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "business_day" in body and "Traceback" not in body
    assert not ReportSettings.objects.filter(client=acme).exists()
    assert not AuditEvent.objects.filter(action="report.settings").exists()


def test_client_users_and_other_clients_cannot_set_them(acme, owner, outsider, client):
    body = {"business_day": 1, "auto_release": True}
    assert client.put(URL, body, content_type="application/json", **auth(owner)).status_code == 403
    assert client.get(URL, **auth(owner)).json()["business_day"] == 5  # read, not set
    assert client.get(URL, **auth(outsider)).status_code == 404
    assert not ReportSettings.objects.filter(client=acme).exists()
    with pytest.raises(PermissionDenied):
        services.change_settings(acme, business_day=1, auto_release=True, actor=owner)
