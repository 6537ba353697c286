"""Incident pages, the incident report and the incidents API (MON-03, MON-05, MON-08, MON-09,
RPT-02): who sees what, the operators' forms, their errors and their audit events."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from mamori.core.models import AuditEvent, Role
from mamori.core.tokens import create_token
from mamori.inventory.models import Server
from mamori.monitoring import incidents
from mamori.monitoring.models import Cause, Incident, IncidentEventKind, IncidentState
from mamori.notices.models import Notice
from mamori.notices.templatetags.notice_text import duration_text

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)


def speaking(user, language: str):
    user.language = language
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def ops(settings):
    settings.MAMORI_OPERATOR_EMAILS = ["ops@provider.example"]
    settings.MAMORI_PROVIDER_NAME = "Example Hosting KK"


@pytest.fixture
def incident(acme, operator, ops) -> Incident:
    """acme's shop is down since T0 (recorded by hand and notified)."""
    return incidents.open_manual(acme, operator, "shop.acme.example down", started_at=T0)


@pytest.fixture
def globex_incident(globex, operator) -> Incident:
    return incidents.open_manual(
        globex, operator, "globex.example down", started_at=T0, notify=False
    )


@pytest.fixture
def written(incident, operator) -> Incident:
    """The incident with its whole story: acknowledged, measures, a stop, cause, recovered."""
    incidents.acknowledge(incident, operator)
    incidents.record_emergency_measure(
        incident, operator, "Blocked 203.0.113.9 at the firewall", minutes=45
    )
    incidents.record_emergency_stop(
        incident, operator, "Load average 80: web server stopped", at=T0 + dt.timedelta(minutes=20)
    )
    incidents.set_cause(incident, operator, Cause.ATTACK, "A DDoS from a botnet")
    Incident.objects.filter(pk=incident.pk).update(
        impact="The shop could not take orders.",
        actions="Filtered the traffic and restarted the web server.",
        prevention="A CDN in front of the shop.",
        recovered_at=T0 + dt.timedelta(hours=2, minutes=5),
        state=IncidentState.RECOVERED,
    )
    incident.refresh_from_db()
    return incident


def page(client, user, name, *args, query=None):
    client.force_login(user)
    return client.get(reverse(name, args=args), query or {})


# --- the list ------------------------------------------------------------------------------------


@pytest.mark.req("MON-03")
def test_it_lists_each_users_incidents(client, incident, globex_incident, operator, owner, member):
    body = page(client, operator, "incident_list").content.decode()
    assert "shop.acme.example down" in body and "globex.example down" in body
    for user in (owner, member):
        body = page(client, user, "incident_list").content.decode()
        assert "shop.acme.example down" in body and "globex.example down" not in body


def test_it_lists_an_assigned_subcontractors_clients(
    client, incident, globex_incident, subcontractor
):
    body = page(client, subcontractor, "incident_list").content.decode()
    assert "shop.acme.example down" in body and "globex.example down" not in body


def test_it_filters_the_list(client, incident, globex_incident, operator):
    incidents.set_cause(globex_incident, operator, Cause.CARRIER)

    def titles(**query) -> set[str]:
        body = page(client, operator, "incident_list", query=query).content.decode()
        return {t for t in ("shop.acme.example", "globex.example") if t + " down" in body}

    assert titles(client="acme") == {"shop.acme.example"}
    assert titles(cause="carrier") == {"globex.example"}
    assert titles(state="closed") == set()
    assert titles(state="open") == {"shop.acme.example", "globex.example"}
    assert titles(month="2026-11") == {"shop.acme.example", "globex.example"}
    assert titles(month="2026-10") == set()
    assert titles(month="nonsense", state="nonsense") == {"shop.acme.example", "globex.example"}


# --- an incident's page --------------------------------------------------------------------------


@pytest.mark.req("MON-03")
def test_it_shows_the_timeline_and_notices_to_operators(client, written, operator):
    speaking(operator, "en")
    body = page(client, operator, "incident_detail", written.pk).content.decode()
    with translation.override("en"):
        for kind in (
            IncidentEventKind.CONFIRMED,
            IncidentEventKind.NOTIFIED,
            IncidentEventKind.ACKNOWLEDGED,
            IncidentEventKind.EMERGENCY_MEASURE,
            IncidentEventKind.EMERGENCY_STOP,
            IncidentEventKind.CAUSE_SET,
        ):
            assert str(kind.label) in body
        assert gettext("billable as extra work") in body
    assert "Blocked 203.0.113.9" in body and "45 minutes" in body
    # Times in the operators' zone (Asia/Tokyo): the stop at 01:20 UTC is 10:20.
    assert "2026-11-20 10:20" in body
    assert "yamada@acme.example" in body and "ops@provider.example" in body
    assert f'action="/monitoring/incidents/{written.pk}/cause/"' in body


def test_it_shows_client_users_only_the_notices_sent_to_their_side(client, written, member):
    body = page(client, member, "incident_detail", written.pk).content.decode()
    assert "yamada@acme.example" in body
    assert "ops@provider.example" not in body
    assert "/cause/" not in body and "/note/" not in body  # a viewer only reads


def test_it_offers_client_admins_a_note_but_no_operators_forms(client, incident, owner):
    body = page(client, owner, "incident_detail", incident.pk).content.decode()
    assert "/note/" in body
    for action in ("cause", "emergency", "stop", "close", "acknowledge"):
        assert f"/{action}/" not in body


@pytest.mark.req("MON-05")
def test_it_says_whether_the_incident_counts_against_the_sla(client, incident, operator):
    speaking(operator, "en")
    with translation.override("en"):
        counts, does_not = (
            gettext("counts against the SLA"),
            gettext("does not count against the SLA"),
        )
    assert counts in page(client, operator, "incident_detail", incident.pk).content.decode()
    incidents.set_cause(incident, operator, Cause.HOSTING)
    assert does_not in page(client, operator, "incident_detail", incident.pk).content.decode()


# --- the operators' forms ------------------------------------------------------------------------


def post(client, user, name, pk, data=None):
    client.force_login(user)
    return client.post(reverse(name, args=[pk]), data or {})


def last_audit(action: str) -> AuditEvent | None:
    return AuditEvent.objects.filter(action=action).order_by("-sequence").first()


@pytest.mark.req("MON-03")
def test_it_acknowledges_once(client, incident, operator):
    speaking(operator, "en")
    assert post(client, operator, "incident_acknowledge", incident.pk).status_code == 302
    incident.refresh_from_db()
    assert incident.acknowledged_by == operator
    assert last_audit("incident.acknowledge").actor == operator
    response = post(client, operator, "incident_acknowledge", incident.pk)
    with translation.override("en"):
        message = gettext("The incident is already acknowledged.")
    assert message in client.get(response["Location"]).content.decode()


@pytest.mark.req("MON-05")
def test_it_sets_the_cause_and_the_report(client, incident, operator):
    response = post(
        client,
        operator,
        "incident_cause",
        incident.pk,
        {
            "cause": "carrier",
            "cause_detail": "Fibre cut",
            "impact": "No orders",
            "actions": "Rerouted",
            "prevention": "Second carrier",
        },
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.cause, incident.cause_detail, incident.prevention) == (
        Cause.CARRIER,
        "Fibre cut",
        "Second carrier",
    )
    assert not incident.counts_against_sla
    assert incident.events.filter(kind=IncidentEventKind.CAUSE_SET).exists()
    assert last_audit("incident.cause").changes["cause"] == ["unattributed", "carrier"]


def test_it_refuses_an_unknown_cause(client, incident, operator):
    response = post(client, operator, "incident_cause", incident.pk, {"cause": "gremlins"})
    assert response.status_code == 400
    assert "gremlins" in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).cause == Cause.UNATTRIBUTED


@pytest.mark.req("MON-08")
def test_it_records_a_billable_emergency_measure(client, incident, operator):
    response = post(
        client,
        operator,
        "incident_emergency",
        incident.pk,
        {"text": "Rotated the DB password", "minutes": "30"},
    )
    assert response.status_code == 302
    event = incident.events.get(kind=IncidentEventKind.EMERGENCY_MEASURE)
    assert (event.user, event.minutes, event.billable) == (operator, 30, True)
    assert last_audit("incident.emergency_measure").changes == {"minutes": 30, "billable": True}


def test_it_asks_for_the_measure_and_its_minutes(client, incident, operator):
    speaking(operator, "en")
    response = post(
        client, operator, "incident_emergency", incident.pk, {"text": " ", "minutes": "0"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    with translation.override("en"):
        assert gettext("This field is required.") in body
    assert "has-error" in body and 'id="field-minutes"' in body
    assert not incident.events.filter(kind=IncidentEventKind.EMERGENCY_MEASURE).exists()


@pytest.mark.req("MON-09")
def test_it_records_an_emergency_stop_with_reason_and_time(client, incident, operator):
    response = post(
        client,
        operator,
        "incident_stop",
        incident.pk,
        {"reason": "CPU at 100% for 10 min", "at": "2026-11-20T10:30"},
    )
    assert response.status_code == 302
    event = incident.events.get(kind=IncidentEventKind.EMERGENCY_STOP)
    assert event.text == "CPU at 100% for 10 min"
    assert event.at == dt.datetime(2026, 11, 20, 1, 30, tzinfo=dt.UTC)  # 10:30 in Tokyo
    assert last_audit("incident.emergency_stop").actor == operator


def test_it_dates_a_stop_now_by_default_and_refuses_the_future(client, incident, operator):
    speaking(operator, "en")
    before = timezone.now()
    post(client, operator, "incident_stop", incident.pk, {"reason": "Overload"})
    assert incident.events.get(kind=IncidentEventKind.EMERGENCY_STOP).at >= before
    response = post(
        client, operator, "incident_stop", incident.pk, {"reason": "x", "at": "2099-01-01T00:00"}
    )
    assert response.status_code == 400
    with translation.override("en"):
        assert gettext("The time is in the future.") in response.content.decode()


def test_it_closes_only_an_attributed_incident(client, incident, operator):
    speaking(operator, "en")
    response = post(client, operator, "incident_close", incident.pk)
    with translation.override("en"):
        message = gettext("Set the cause before closing the incident.")
    assert message in client.get(response["Location"]).content.decode()
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.OPEN
    incidents.set_cause(incident, operator, Cause.CLIENT)
    post(client, operator, "incident_close", incident.pk)
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.CLOSED
    assert last_audit("incident.close").actor == operator


@pytest.mark.req("MON-03")
def test_it_lets_client_admins_add_notes_and_not_viewers(client, incident, owner, member):
    assert (
        post(client, owner, "incident_note", incident.pk, {"text": "Still down here"}).status_code
        == 302
    )
    note = incident.events.get(kind=IncidentEventKind.NOTE)
    assert (note.user, note.text) == (owner, "Still down here")
    assert last_audit("incident.note").actor == owner
    assert post(client, member, "incident_note", incident.pk, {"text": "x"}).status_code == 403
    assert incident.events.filter(kind=IncidentEventKind.NOTE).count() == 1


def test_it_refuses_an_empty_note(client, incident, operator):
    response = post(client, operator, "incident_note", incident.pk, {"text": ""})
    assert response.status_code == 400
    assert not incident.events.filter(kind=IncidentEventKind.NOTE).exists()


@pytest.mark.parametrize(
    "name",
    [
        "incident_acknowledge",
        "incident_cause",
        "incident_emergency",
        "incident_stop",
        "incident_close",
    ],
)
def test_it_refuses_operators_actions_to_client_users(client, incident, owner, name):
    before = list(incident.events.values())
    assert (
        post(
            client,
            owner,
            name,
            incident.pk,
            {"cause": "client", "text": "x", "minutes": 1, "reason": "x"},
        ).status_code
        == 403
    )
    assert list(incident.events.values()) == before


# --- opening an incident by hand -----------------------------------------------------------------


@pytest.mark.req("MON-03")
def test_it_opens_an_incident_by_hand(client, acme, operator, ops):
    server = Server.objects.create(client=acme, name="web1", kind="vps")
    client.force_login(operator)
    response = client.post(
        reverse("incident_add"),
        {
            "client": acme.pk,
            "server": server.pk,
            "title": "Mail relay down",
            "started_at": "2026-11-20T09:00",
            "notify": "on",
        },
    )
    incident = Incident.objects.get(title="Mail relay down")
    assert response["Location"] == incident.get_absolute_url()
    assert incident.server == server and not incident.total_outage
    assert incident.started_at == dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)
    assert Notice.objects.filter(incident=incident).exists()
    assert last_audit("incident.open").actor == operator


def test_it_opens_one_without_notices_when_asked(client, acme, operator, ops):
    client.force_login(operator)
    client.post(
        reverse("incident_add"), {"client": acme.pk, "title": "Quiet", "total_outage": "on"}
    )
    incident = Incident.objects.get(title="Quiet")
    assert incident.total_outage and not Notice.objects.filter(incident=incident).exists()


def test_it_refuses_another_clients_server(client, acme, globex, operator):
    speaking(operator, "en")
    server = Server.objects.create(client=globex, name="gx1", kind="vps")
    client.force_login(operator)
    response = client.post(
        reverse("incident_add"), {"client": acme.pk, "server": server.pk, "title": "Mixed"}
    )
    assert response.status_code == 200
    with translation.override("en"):
        assert gettext("It belongs to another client.") in response.content.decode()
    assert not Incident.objects.filter(title="Mixed").exists()


def test_it_lets_no_client_user_open_an_incident(client, acme, owner, outsider):
    for user in (owner, outsider):
        client.force_login(user)
        assert client.get(reverse("incident_add")).status_code == 403
        response = client.post(reverse("incident_add"), {"client": acme.pk, "title": "x"})
        assert response.status_code == 403
    assert not Incident.objects.exists()


def test_it_offers_a_subcontractor_only_assigned_clients(client, acme, globex, make_user):
    sub = make_user("sub2", Role.SUBCONTRACTOR, assigned=[acme])
    client.force_login(sub)
    body = client.get(reverse("incident_add")).content.decode()
    assert acme.name in body and globex.name not in body
    client.post(reverse("incident_add"), {"client": globex.pk, "title": "Elsewhere"})
    assert not Incident.objects.filter(title="Elsewhere").exists()


# --- the incident report -------------------------------------------------------------------------


@pytest.mark.req("RPT-02")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_it_writes_the_incident_report_in_the_readers_language(client, written, owner, language):
    body = page(client, speaking(owner, language), "incident_report", written.pk).content.decode()
    assert f'<html lang="{language}">' in body
    assert "Example Hosting KK" in body and "株式会社アクメ" in body
    assert "shop.acme.example down" in body
    assert "2026-11-20 10:00 – 2026-11-20 12:05" in body  # the period in Tokyo time
    with translation.override(language):
        for text in (
            "Incident report",
            "Impact",
            "Timeline",
            "Cause",
            "Actions taken",
            "Prevention",
            "Does not count against the SLA",
            "billable as extra work",
        ):
            assert gettext(text) in body, text
        assert duration_text(dt.timedelta(hours=2, minutes=5)) in body  # "2 h 05 min", "2時間05分"
        assert str(Cause.ATTACK.label) in body
        assert str(IncidentEventKind.EMERGENCY_STOP.label) in body
    for text in (
        "The shop could not take orders.",
        "A DDoS from a botnet",
        "Filtered the traffic",
        "Blocked 203.0.113.9",
        "Load average 80",
        "A CDN in front of the shop.",
    ):
        assert text in body
    # Laid out for print by a stylesheet of its own (no inline style: the CSP refuses it).
    assert "mamori/report.css" in body
    assert "@media print" in Path(finders.find("mamori/report.css")).read_text()
    assert 'class="mainnav"' not in body


@pytest.mark.req("RPT-02")
def test_it_says_an_unattributed_incident_counts_against_the_sla(client, incident, owner):
    body = page(client, speaking(owner, "en"), "incident_report", incident.pk).content.decode()
    with translation.override("en"):
        assert gettext("Counts against the SLA") in body
        assert gettext("ongoing") in body


def test_it_hides_the_report_from_outsiders(client, incident, outsider):
    assert page(client, outsider, "incident_report", incident.pk).status_code == 404


# --- the API -------------------------------------------------------------------------------------


def api(client, user, method, path, body=None):
    token = create_token(user, "test")[1]
    return client.generic(
        method,
        f"/api/v1{path}",
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.req("MON-03")
def test_the_api_lists_and_reads_incidents(client, written, globex_incident, owner, operator):
    items = api(client, operator, "GET", "/incidents?client=acme").json()["items"]
    assert [i["title"] for i in items] == ["shop.acme.example down"]
    assert api(client, owner, "GET", "/incidents?state=open").json()["items"] == []
    detail = api(client, owner, "GET", f"/incidents/{written.pk}").json()
    assert detail["cause"] == "attack" and detail["counts_against_sla"] is False
    assert detail["downtime_minutes"] == 125
    kinds = [e["kind"] for e in detail["events"]]
    assert "emergency_measure" in kinds and "emergency_stop" in kinds
    measure = next(e for e in detail["events"] if e["kind"] == "emergency_measure")
    assert (measure["minutes"], measure["billable"], measure["by"]) == (45, True, "operator")
    assert api(client, owner, "GET", f"/incidents/{globex_incident.pk}").status_code == 404


@pytest.mark.req("MON-05")
def test_the_api_sets_the_cause_for_staff_only(client, incident, owner, operator):
    response = api(client, owner, "POST", f"/incidents/{incident.pk}/cause", {"cause": "client"})
    assert response.status_code == 403
    response = api(
        client,
        operator,
        "POST",
        f"/incidents/{incident.pk}/cause",
        {"cause": "client", "cause_detail": "DNS changed by the client", "prevention": "Ask us"},
    )
    assert response.status_code == 200
    assert response.json()["cause"] == "client" and response.json()["prevention"] == "Ask us"
    assert last_audit("incident.cause").actor == operator
    bad = api(client, operator, "POST", f"/incidents/{incident.pk}/cause", {"cause": "gremlins"})
    assert bad.status_code == 422


def test_the_api_takes_notes_from_admins_not_viewers(client, incident, owner, member):
    response = api(client, owner, "POST", f"/incidents/{incident.pk}/notes", {"text": "Seen"})
    assert response.status_code == 201 and response.json()["by"] == "owner"
    assert (
        api(client, member, "POST", f"/incidents/{incident.pk}/notes", {"text": "x"}).status_code
        == 403
    )
    assert (
        api(client, owner, "POST", f"/incidents/{incident.pk}/notes", {"text": ""}).status_code
        == 422
    )
    assert incident.events.filter(kind=IncidentEventKind.NOTE).count() == 1
