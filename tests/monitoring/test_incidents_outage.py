"""Mamori's own outage is not the client's (MON-02): when a batch of checks cannot connect and
neither can the reference targets, nothing is recorded, no incident opens, the operators are
alerted once an hour. And a result that cannot be recorded leaves no incident and no notice."""

from __future__ import annotations

import datetime as dt
import logging
import socket

import pytest
from django.db import DatabaseError

from mamori.monitoring import incidents, services
from mamori.monitoring.models import Check, CheckState, Incident, IncidentEventKind, Sample
from mamori.monitoring.services import run_due
from mamori.notices.models import Notice, NoticeKind
from tests.support.nginx import free_port

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)

pytestmark = pytest.mark.req("MON-02")


@pytest.fixture
def listening():
    """A port on loopback that accepts connections."""
    sock = socket.create_server(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def closed_checks(client, make_check, count: int) -> list[Check]:
    return [
        make_check(client, "tcp", {"host": "127.0.0.1", "port": free_port()}, name=f"closed {i}")
        for i in range(count)
    ]


def test_a_batch_that_cannot_connect_while_the_reference_cannot_either_is_not_recorded(
    acme, operator, make_check, listening, settings, caplog
):
    settings.MAMORI_MONITOR_REFERENCE_URLS = [f"127.0.0.1:{free_port()}"]
    closed = closed_checks(acme, make_check, 5)
    open_one = make_check(acme, "tcp", {"host": "127.0.0.1", "port": listening}, name="open")

    with caplog.at_level(logging.WARNING, logger="mamori.monitoring.services"):
        first = run_due(T0)
        second = run_due(T0 + MINUTE)

    assert (first.held, first.ran, first.up) == (5, 1, 1)
    assert "5 not recorded (Mamori's own network outage)" in first.summary()
    assert second.held == 5
    for check in Check.objects.filter(pk__in=[c.pk for c in closed]):
        assert (check.state, check.consecutive_failures) == (CheckState.UNKNOWN, 0)
        assert check.lease_until is None and check.running_slot is None
        assert check.next_run_at == T0 + 2 * MINUTE  # it goes on running on its schedule
    # The check that answered is recorded as usual.
    assert set(Sample.objects.values_list("uptime_check_id", flat=True)) == {open_one.pk}
    assert not Incident.objects.exists()
    # The operators are alerted once for the hour, never the client.
    alerts = Notice.objects.filter(kind=NoticeKind.MONITORING_OUTAGE)
    assert list(alerts.values_list("recipient", "recipient_kind")) == [
        ("operator@provider.example", "operator")
    ]
    assert "5" in alerts.get().subject and "MAMORI_MONITOR_REFERENCE_URLS" in alerts.get().body_text
    assert Notice.objects.count() == 1
    assert "Mamori's own network outage" in caplog.text


def test_when_the_reference_answers_the_failures_are_the_clients(
    acme, operator, make_check, web, settings
):
    settings.MAMORI_MONITOR_REFERENCE_URLS = [web]
    closed = closed_checks(acme, make_check, 5)
    run_due(T0)
    report = run_due(T0 + MINUTE)
    assert (report.held, report.down, len(report.changes)) == (0, 5, 5)
    assert Incident.objects.count() == 5
    assert {c.state for c in Check.objects.filter(pk__in=[c.pk for c in closed])} == {"down"}
    assert not Notice.objects.filter(kind=NoticeKind.MONITORING_OUTAGE).exists()


def test_without_references_only_a_large_batch_failing_whole_is_held(
    acme, operator, make_check, listening
):
    closed_checks(acme, make_check, services.OUTAGE_ALL_OF)
    assert run_due(T0).held == services.OUTAGE_ALL_OF
    assert not Sample.objects.exists()

    # One check that answers shows the network works: the failures are recorded.
    make_check(acme, "tcp", {"host": "127.0.0.1", "port": listening}, name="open", next_run_at=T0)
    report = run_due(T0 + MINUTE)
    assert (report.held, report.down, report.up) == (0, services.OUTAGE_ALL_OF, 1)


def test_a_small_batch_is_never_held(acme, operator, make_check, settings):
    settings.MAMORI_MONITOR_REFERENCE_URLS = [f"127.0.0.1:{free_port()}"]
    closed_checks(acme, make_check, services.OUTAGE_MIN_BATCH - 1)
    assert run_due(T0).held == 0
    assert Sample.objects.count() == services.OUTAGE_MIN_BATCH - 1


def test_reference_entries_are_urls_or_host_and_port(caplog):
    calls = services.reference_calls(
        ["https://www.example.jp/", "192.0.2.1:53", "[2001:db8::1]:443", "nonsense", "x:99999"]
    )
    assert calls == [
        ("http", {"url": "https://www.example.jp/", "timeout": services.REFERENCE_TIMEOUT}),
        ("tcp", {"host": "192.0.2.1", "port": 53, "timeout": services.REFERENCE_TIMEOUT}),
        ("tcp", {"host": "2001:db8::1", "port": 443, "timeout": services.REFERENCE_TIMEOUT}),
    ]
    assert "'nonsense'" in caplog.text and "'x:99999'" in caplog.text


def test_a_result_that_cannot_be_recorded_leaves_no_incident_and_no_notice(
    acme, operator, make_check, monkeypatch
):
    check = make_check(
        acme, "tcp", {"host": "127.0.0.1", "port": free_port()}, failures_to_confirm=1
    )
    add_event = incidents.add_event

    def failing(incident, kind, **kwargs):
        if kind == IncidentEventKind.NOTIFIED:  # after the incident and its notices are made
            raise DatabaseError("disk I/O error")
        return add_event(incident, kind, **kwargs)

    monkeypatch.setattr(incidents, "add_event", failing)
    report = run_due(T0)
    assert (report.errors, report.ran) == (1, 0)
    assert not Incident.objects.exists() and not Notice.objects.exists()
    assert not Sample.objects.exists()
    check.refresh_from_db()
    assert (check.state, check.consecutive_failures) == (CheckState.UNKNOWN, 0)
    assert check.lease_until is not None  # the run is lost; the lease expires

    # The database is back: after the lease, the next run opens the incident once.
    monkeypatch.setattr(incidents, "add_event", add_event)
    run_due(check.lease_until)
    assert Incident.objects.count() == 1
    assert Notice.objects.filter(kind=NoticeKind.INCIDENT_OPENED).count() == 2
