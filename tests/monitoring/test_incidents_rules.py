"""The incident engine's rules: a flapping check reopens its incident and sends nothing more; a
maintenance window keeps incidents shut (MON-02, MON-03, MON-04, MON-06)."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from mamori.monitoring import incidents
from mamori.monitoring.models import (
    CheckState,
    Incident,
    IncidentEventKind,
    IncidentState,
    MaintenanceWindow,
)
from mamori.monitoring.services import record_result, run_due
from mamori.notices.models import Notice, NoticeKind
from mamori.probe.checks_result import CheckError, CheckResult
from tests.support.nginx import free_port

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


class Listener:
    """A TCP port on loopback that can be opened and closed: the client's service."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", self.port), backlog=64)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


@pytest.fixture
def service():
    listener = Listener()
    listener.open()
    yield listener
    listener.close()


@pytest.mark.req("MON-02")
@pytest.mark.req("MON-04")
def test_a_flapping_check_reopens_its_incident_and_sends_nothing_more(
    acme, operator, service, make_check
):
    check = make_check(
        acme,
        "tcp",
        {"host": "127.0.0.1", "port": service.port},
        failures_to_confirm=1,
        recoveries_to_confirm=1,
    )
    run_due(T0)
    service.close()
    run_due(T0 + MINUTE)
    incident = Incident.objects.get()
    # yamada (the contact who receives incidents) and the operator.
    assert Notice.objects.filter(kind=NoticeKind.INCIDENT_OPENED).count() == 2

    service.open()
    run_due(T0 + 2 * MINUTE)
    incident.refresh_from_db()
    assert (incident.state, incident.recovered_at) == (IncidentState.RECOVERED, T0 + 2 * MINUTE)
    assert Notice.objects.count() == 4

    # Down again within FLAP_WINDOW of the recovery: the same incident, nothing sent.
    service.close()
    run_due(T0 + 3 * MINUTE)
    service.open()
    run_due(T0 + 4 * MINUTE)
    service.close()
    run_due(T0 + 5 * MINUTE)
    assert list(Incident.objects.all()) == [incident]
    incident.refresh_from_db()
    assert (incident.state, incident.recovered_at) == (IncidentState.OPEN, None)
    assert Notice.objects.count() == 4
    reopened = incident.events.filter(kind=IncidentEventKind.REOPENED)
    assert list(reopened.values_list("at", flat=True)) == [T0 + 3 * MINUTE, T0 + 5 * MINUTE]

    service.open()
    run_due(T0 + 6 * MINUTE)
    incident.refresh_from_db()
    assert incident.state == IncidentState.RECOVERED
    # Counted as one outage, from the first failure to the last recovery.
    assert (incident.started_at, incident.recovered_at) == (T0 + MINUTE, T0 + 6 * MINUTE)
    assert Notice.objects.count() == 4

    # Down again long after the window: a new incident, notified again.
    later = T0 + 6 * MINUTE + incidents.FLAP_WINDOW + MINUTE
    check.refresh_from_db()
    check.next_run_at = later
    check.save(update_fields=["next_run_at"])
    service.close()
    run_due(later)
    assert Incident.objects.count() == 2
    assert Incident.objects.exclude(pk=incident.pk).get().started_at == later
    assert Notice.objects.count() == 6


def down(at_detail: str = "connection refused") -> CheckResult:
    return CheckResult.down(1.0, CheckError.CONNECTION_REFUSED, at_detail)


@pytest.mark.req("MON-06")
def test_a_failure_confirmed_in_a_window_opens_only_when_the_window_ends(acme, make_check):
    check = make_check(acme, "tcp", {"host": "127.0.0.1", "port": 9})
    MaintenanceWindow.objects.create(
        client=acme, title="OS update", starts_at=T0, ends_at=T0 + 10 * MINUTE
    )
    record_result(check, CheckResult.up(1.0, "connected"), T0 - MINUTE)
    for minute in range(1, 10):
        record_result(check, down(), T0 + minute * MINUTE)
    check.refresh_from_db()
    assert check.state == CheckState.DOWN
    assert not Incident.objects.exists() and not Notice.objects.exists()

    record_result(check, down(), T0 + 10 * MINUTE)  # the window has ended
    incident = Incident.objects.get()
    # The downtime starts when the window ends, not at the failure inside it.
    assert (incident.started_at, incident.confirmed_at) == (T0 + 10 * MINUTE, T0 + 10 * MINUTE)
    assert Notice.objects.filter(incident=incident).exists()


@pytest.mark.req("MON-06")
def test_a_failure_that_starts_before_a_window_keeps_its_incident(acme, make_check):
    check = make_check(acme, "tcp", {"host": "127.0.0.1", "port": 9}, failures_to_confirm=1)
    record_result(check, CheckResult.up(1.0, "connected"), T0 - 2 * MINUTE)
    record_result(check, down(), T0 - MINUTE)
    incident = Incident.objects.get()
    MaintenanceWindow.objects.create(
        client=acme, title="OS update", starts_at=T0, ends_at=T0 + 10 * MINUTE
    )
    record_result(check, down(), T0 + MINUTE)
    record_result(check, CheckResult.up(1.0, "connected"), T0 + 2 * MINUTE)
    record_result(check, CheckResult.up(1.0, "connected"), T0 + 3 * MINUTE)
    incident.refresh_from_db()
    assert (incident.state, incident.recovered_at) == (IncidentState.RECOVERED, T0 + 2 * MINUTE)
    assert Incident.objects.count() == 1
