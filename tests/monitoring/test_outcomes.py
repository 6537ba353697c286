"""A check's result is stored as a code and parameters and read in the reader's language
(issue 15): the check page, the incident timeline and the API."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.monitoring.models import Check, IncidentEventKind
from mamori.monitoring.services import record_result
from mamori.probe.checks_result import CheckError, CheckResult, connection_failure
from tests.monitoring.test_incident_pages import api

pytestmark = pytest.mark.req("MON-01")


def refused() -> CheckResult:
    """A real refused connection (a port nothing listens on), as the probe reports it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        code, detail = connection_failure(f"127.0.0.1:{port}", exc)
    assert code == CheckError.CONNECTION_REFUSED
    return CheckResult.down(3.0, code, detail)


@pytest.fixture
def down_check(acme):
    check = Check.objects.create(
        client=acme,
        name="API",
        kind="tcp",
        settings={"host": "api.acme.example", "port": 8443},
        failures_to_confirm=1,
    )
    record_result(check, refused(), timezone.now() - dt.timedelta(minutes=1))
    check.refresh_from_db()
    return check


def test_the_code_and_its_parameters_are_stored(down_check):
    sample = down_check.samples.get()
    assert sample.error_code == "connection_refused"
    assert sample.params["target"] == "api.acme.example"
    assert "refused" in sample.detail  # the probe's technical line stays for the operators
    assert down_check.last_result["params"]["target"] == "api.acme.example"


@pytest.mark.parametrize(
    ("language", "said", "not_said"),
    [
        ("ja", "api.acme.example が接続を拒否しました", "refused the"),
        ("en", "api.acme.example refused the connection", "接続を拒否"),
    ],
)
def test_the_check_page_says_it_in_the_readers_language(
    down_check, operator, client, language, said, not_said
):
    operator.language = language
    operator.save()
    client.force_login(operator)
    html = client.get(reverse("check_detail", args=[down_check.pk])).content.decode()
    assert said in html
    assert not_said not in html
    incident = down_check.incidents.get()
    assert incident.events.filter(kind=IncidentEventKind.CONFIRMED).exists()
    html = client.get(reverse("incident_detail", args=[incident.pk])).content.decode()
    assert said in html


@pytest.mark.req("MON-03")
def test_the_api_keeps_the_code_and_says_it_in_the_users_language(down_check, operator, client):
    operator.language = "en"
    operator.save()
    body = api(client, operator, "GET", f"/checks/{down_check.pk}").json()
    assert body["last_result"]["error_code"] == "connection_refused"
    assert body["last_message"].startswith("api.acme.example refused the connection")
    incident = down_check.incidents.get()
    events = api(client, operator, "GET", f"/incidents/{incident.pk}").json()["events"]
    confirmed = next(e for e in events if e["kind"] == "confirmed")
    assert confirmed["code"] == "connection_refused"
    assert confirmed["message"].startswith("api.acme.example refused the connection")
    operator.language = "ja"
    operator.save()
    body = api(client, operator, "GET", f"/checks/{down_check.pk}").json()
    assert body["last_message"].startswith("api.acme.example が接続を拒否しました")


def test_an_event_stored_as_a_sentence_still_reads(down_check):
    """Events written before codes were stored keep their text."""
    incident = down_check.incidents.get()
    old = incident.events.create(kind=IncidentEventKind.DETECTED, text="connection refused")
    assert old.shown_text == "connection refused"
