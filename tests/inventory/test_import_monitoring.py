"""Uptime checks and maintenance windows in the inventory file (``checks``,
``maintenance_windows``): round trip, idempotence, errors and who may import them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import translation

from mamori.clients.models import Client
from mamori.core.models import AuditEvent
from mamori.inventory.models import Site
from mamori.inventory.transfer import export_inventory, import_file
from mamori.monitoring.models import Check, MaintenanceWindow

DATA = Path(__file__).parent / "data"
MONITORING = DATA / "monitoring.yaml"
JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def load(text: str, **kwargs):
    return import_file(text.encode("utf-8"), filename="clients.yaml", **kwargs)


def messages(report) -> list[str]:
    return [str(e) for e in report.errors]


ACME_CHECKS = """\
clients:
  - code: acme
    sites:
      - {name: Corporate, url: "https://www.acme.example/"}
    checks:
      - {name: www, site: "https://www.acme.example/", kind: http,
         settings: {url: "https://www.acme.example/"}}
    maintenance_windows:
      - {title: Upgrade, starts_at: "2027-01-10T01:00:00+09:00",
         ends_at: "2027-01-10T03:00:00+09:00"}
"""


@pytest.mark.req("MON-01")
@pytest.mark.req("MON-06")
def test_it_creates_checks_and_windows_from_a_file(db):
    report = import_file(MONITORING, filename="monitoring.yaml")
    assert report.ok, messages(report)
    assert report.counts["checks"]["created"] == 3
    assert report.counts["maintenance_windows"]["created"] == 2
    www = Check.objects.get(name="www")
    assert (www.site.url, www.kind, www.settings["expect_status"]) == (
        "https://www.example.jp/",
        "http",
        [200, 301],
    )
    ssh = Check.objects.get(name="web01 ssh")
    assert (ssh.server.name, ssh.timeout_seconds, ssh.failures_to_confirm, ssh.enabled) == (
        "web01",
        5,
        3,
        False,
    )
    weekly = MaintenanceWindow.objects.get(title="定期メンテナンス")
    assert weekly.starts_at == dt.datetime(2027, 1, 5, 2, tzinfo=JST)
    assert (weekly.recurrence, weekly.repeat_until) == ("weekly", dt.date(2027, 12, 31))


@pytest.mark.req("MON-01")
@pytest.mark.req("MON-06")
def test_it_round_trips_checks_and_windows(db):
    assert import_file(MONITORING, filename="monitoring.yaml").ok
    first = export_inventory()
    assert "starts_at: '2027-01-10T01:00:00+09:00'" in first
    Client.objects.all().delete()
    assert not Check.objects.exists()
    report = load(first)
    assert report.ok, messages(report)
    assert export_inventory() == first


@pytest.mark.req("MON-01")
def test_importing_the_same_file_again_changes_nothing(db):
    assert import_file(MONITORING, filename="monitoring.yaml").ok
    events = AuditEvent.objects.count()
    again = import_file(MONITORING, filename="monitoring.yaml")
    assert again.ok
    assert again.total("created") == again.total("updated") == 0
    assert again.counts["checks"]["unchanged"] == 3
    assert again.counts["maintenance_windows"]["unchanged"] == 2
    assert AuditEvent.objects.count() == events


@pytest.mark.req("MON-01")
def test_it_changes_a_check_found_by_its_name(db, operator):
    assert import_file(MONITORING, filename="monitoring.yaml").ok
    text = MONITORING.read_text().replace("interval_seconds: 300", "interval_seconds: 600")
    report = load(text, actor=operator)
    assert report.ok, messages(report)
    assert report.counts["checks"]["updated"] == 1
    assert Check.objects.get(name="web01 ssh").interval_seconds == 600
    event = AuditEvent.objects.get(action="import.update")
    assert (event.actor, event.changes) == (operator, {"interval_seconds": [300, 600]})


@pytest.mark.req("MON-06")
def test_a_cancelled_window_named_again_is_planned_again(db, acme):
    assert load(ACME_CHECKS).ok
    window = MaintenanceWindow.objects.get()
    window.cancelled_at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    window.save()
    assert "Upgrade" not in export_inventory()  # cancelled: history, not plans
    report = load(ACME_CHECKS)
    assert report.ok
    assert report.counts["maintenance_windows"]["created"] == 1
    assert MaintenanceWindow.objects.filter(cancelled_at__isnull=True).count() == 1


@pytest.mark.req("MON-06")
def test_an_ended_window_is_left_out_of_the_export_and_kept(db, acme):
    """The import refuses to plan a window that has ended, so the export leaves ended windows
    out (history, like cancelled ones); importing that file changes nothing and deletes nothing."""
    assert load(ACME_CHECKS).ok
    ended = MaintenanceWindow.objects.get()
    MaintenanceWindow.objects.filter(pk=ended.pk).update(
        starts_at=dt.datetime(2020, 5, 1, 1, tzinfo=JST),
        ends_at=dt.datetime(2020, 5, 1, 3, tzinfo=JST),
    )
    text = export_inventory()
    assert "Upgrade" not in text
    report = import_file(text.encode("utf-8"), filename="clients.yaml")
    assert report.ok, messages(report)
    assert list(MaintenanceWindow.objects.values_list("pk", flat=True)) == [ended.pk]


BAD = """\
clients:
  - code: acme
    checks:
      - {name: api, kind: tcp, settings: {host: api.acme.example}}
      - {name: slow, kind: http, settings: {url: "https://acme.example/"},
         interval_seconds: 30, timeout_seconds: 30}
      - {name: where, kind: icmp, settings: {host: acme.example}, site: "https://nowhere.example/"}
    maintenance_windows:
      - {title: Backwards, starts_at: "2027-01-10T03:00:00+09:00",
         ends_at: "2027-01-10T01:00:00+09:00"}
      - {title: Sometime, starts_at: next tuesday, ends_at: "2027-01-10T01:00:00+09:00"}
"""


@pytest.mark.req("MON-01")
@pytest.mark.req("MON-06")
def test_it_reports_every_bad_row_precisely_and_writes_nothing(db, acme):
    report = load(BAD)
    assert not report.ok
    found = {(e.line, e.path, e.message) for e in report.errors}
    assert (4, "clients[0].checks[0].settings", "port: required") in found
    assert (
        6,
        "clients[0].checks[1].timeout_seconds",
        "30: The timeout must be shorter than the interval.",
    ) in found
    assert (
        7,
        "clients[0].checks[2].site",
        "No site with the URL or name 'https://nowhere.example/' for this client.",
    ) in found
    assert any(
        line == 10 and path.endswith("[0].ends_at") and "must end after it starts" in message
        for line, path, message in found
    )
    assert any(
        path == "clients[0].maintenance_windows[1].starts_at" and "'next tuesday'" in message
        for _line, path, message in found
    )
    assert not Check.objects.exists()
    assert not MaintenanceWindow.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.req("MON-01")
@pytest.mark.req("ACC-01")
def test_a_client_admin_may_not_import_checks_or_windows(db, acme, owner):
    report = load(ACME_CHECKS, actor=owner)
    assert not report.ok
    assert [(e.path, e.message) for e in report.errors] == [
        ("clients[0].checks[0]", "Only the provider's staff may change checks."),
        (
            "clients[0].maintenance_windows[0]",
            "Only the provider's staff may change maintenance windows.",
        ),
    ]
    assert not Site.objects.filter(client=acme).exists()  # all or nothing


@pytest.mark.req("ACC-01")
def test_a_client_admin_may_not_import_contracts_but_may_import_contacts(db, acme, owner):
    contract = (
        "clients:\n  - code: acme\n    contracts:\n      - {type: ca_service, start: 2026-05-01}\n"
    )
    report = load(contract, actor=owner)
    assert messages(report) == [
        "clients.yaml:4: clients[0].contracts[0]: Only the provider's staff may change contracts."
    ]
    contact = (
        "clients:\n  - code: acme\n    contacts:\n      - {name: Sato, email: sato@acme.example}\n"
    )
    assert load(contact, actor=owner).ok


@pytest.mark.req("MON-01")
def test_provider_staff_import_checks_for_the_clients_they_see(db, acme, subcontractor, operator):
    assert load(ACME_CHECKS, actor=subcontractor).ok
    assert load(ACME_CHECKS, actor=operator).total("created") == 0
    assert Check.objects.get().client == acme
