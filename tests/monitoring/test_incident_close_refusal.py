"""Closing an incident while its check is down is refused, and the page says so before anyone
clicks (issue 15, "smaller things found"); the timeline's heading sits inside its card."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from mamori.monitoring import incidents
from mamori.monitoring.incidents import IncidentError
from mamori.monitoring.models import Cause, CheckState, Incident, IncidentState
from mamori.monitoring.services import record_result
from mamori.probe.checks_result import CheckError, CheckResult

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
UP = CheckResult.up(1.0, "connected")
DOWN = CheckResult.down(1.0, CheckError.CONNECTION_REFUSED, "connection refused")
STILL_DOWN = "The check is still down: the incident can be closed once it has recovered."


@pytest.fixture
def check(acme, make_check):
    return make_check(acme, "tcp", {"host": "127.0.0.1", "port": 9}, failures_to_confirm=1)


@pytest.fixture
def incident(check, operator) -> Incident:
    """The open incident of a check that is down since T0 + 1 min, its cause already set."""
    record_result(check, UP, T0)
    record_result(check, DOWN, T0 + MINUTE)
    incident = Incident.objects.get()
    incidents.set_cause(incident, operator, Cause.PROVIDER)
    return incident


def close_section(client, user, incident) -> str:
    user.language = "en"
    user.save(update_fields=["language"])
    client.force_login(user)
    body = client.get(reverse("incident_detail", args=[incident.pk])).content.decode()
    match = re.search(r'<section class="card" id="close">(.*?)</section>', body, re.S)
    assert match, "the close card is shown to staff"
    return match.group(1)


@pytest.mark.req("MON-03")
def test_the_close_button_is_disabled_and_explained_while_the_check_is_down(
    client, incident, operator
):
    section = close_section(client, operator, incident)
    with translation.override("en"):
        assert gettext(STILL_DOWN) in section
    button = re.search(r"<button[^>]*>", section).group(0)
    assert "disabled" in button and 'aria-describedby="close-refusal"' in button
    # Posting anyway is refused, with the same words, and nothing changes.
    client.post(reverse("incident_close", args=[incident.pk]))
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.OPEN


@pytest.mark.req("MON-03")
def test_once_recovered_the_button_is_enabled(client, check, incident, operator):
    record_result(check, UP, T0 + 5 * MINUTE)
    record_result(check, UP, T0 + 6 * MINUTE)  # the recovery is confirmed
    incident.refresh_from_db()
    assert incident.state == IncidentState.RECOVERED
    section = close_section(client, operator, incident)
    assert "disabled" not in re.search(r"<button[^>]*>", section).group(0)
    assert 'id="close-refusal"' not in section
    client.post(reverse("incident_close", args=[incident.pk]))
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.CLOSED


@pytest.mark.req("MON-03")
def test_a_recovered_incident_is_not_closed_while_its_check_is_down_again(
    check, incident, operator
):
    # Recovered, then down again inside a maintenance window (which reopens nothing): the
    # check is down, so the incident is not closed either.
    record_result(check, UP, T0 + 5 * MINUTE)
    record_result(check, UP, T0 + 6 * MINUTE)
    incident.refresh_from_db()
    assert incident.state == IncidentState.RECOVERED
    type(check).objects.filter(pk=check.pk).update(state=CheckState.DOWN)
    with pytest.raises(IncidentError) as excinfo:
        incidents.close(incident, operator)
    with translation.override("en"):
        assert str(excinfo.value) == gettext(STILL_DOWN)


@pytest.mark.req("MON-03")
def test_a_paused_checks_incident_can_be_closed(check, incident, operator):
    # Nobody watches a paused check: its incident would otherwise stay open for ever.
    type(check).objects.filter(pk=check.pk).update(enabled=False)
    incidents.close(incident, operator)
    incident.refresh_from_db()
    assert incident.state == IncidentState.CLOSED
    # Changed with issue 16: closing is not recovering. Nobody saw it recover, so an operator
    # records when the service came back (the SLA measures up to that time).
    assert incident.recovered_at is None
    back = incident.started_at + dt.timedelta(minutes=30)
    incidents.record_recovery(incident, operator, back)
    incident.refresh_from_db()
    assert (incident.recovered_at, incident.state) == (back, IncidentState.CLOSED)


def test_the_timeline_and_notices_headings_are_inside_their_cards(client, incident, operator):
    client.force_login(operator)
    body = client.get(reverse("incident_detail", args=[incident.pk])).content.decode()
    for card in ("timeline", "notices"):
        opening = re.search(rf'<section class="card flush" id="{card}">\s*(<[^>]+>)', body)
        # A flush card has no padding: its heading goes in the padded header.
        assert opening and opening.group(1) == "<header>", card
