"""A contract's support hours in the inventory file (MNT-05, docs/import-format.md): written
through the same service as the contract's page, the API and the CLI (same rules, same audit
record), reported at their line when wrong, exported in the form the import reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import translation

from mamori.clients.models import Contract
from mamori.core.models import AuditEvent
from mamori.desk.hours_services import set_support_hours
from mamori.desk.models import SupportHours
from mamori.inventory.transfer import export_inventory, import_file

pytestmark = [pytest.mark.django_db]

# Line 6 is "support_hours:", its fields are on lines 7 to 10.
FILE = """\
clients:
  - code: acme
    contracts:
      - type: ssl_management
        start: 2026-04-01
        support_hours:
          weekdays: mon-fri
          hours: 09:00-17:30
          first_response: 4h
          resolution: 3d
"""
PATH = "clients[0].contracts[0].support_hours"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def load(text: str, **kwargs):
    return import_file(text.encode(), filename="clients.yaml", **kwargs)


def messages(report) -> list[str]:
    return [str(e) for e in report.errors]


def hours_events():
    return AuditEvent.objects.filter(action="support_hours.set")


def row_values(contract: Contract) -> tuple:
    row = SupportHours.objects.get(contract=contract)
    return (
        row.weekdays,
        row.opens,
        row.closes,
        row.first_response_minutes,
        row.resolution_minutes,
    )


@pytest.mark.req("MNT-05")
def test_the_import_creates_a_contracts_support_hours_through_the_service(acme, operator):
    contract = acme.contracts.get()

    report = load(FILE, actor=operator)

    assert report.ok, messages(report)
    # 09:00-17:30 is a support day of 510 minutes: 3d is 1,530 business minutes, not 72 hours.
    assert row_values(contract) == ([0, 1, 2, 3, 4], dt.time(9), dt.time(17, 30), 240, 1530)
    assert report.counts["support_hours"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert [str(c) for c in report.changes] == [
        "create support_hours acme/ssl_management 2026-04-01"
    ]
    event = hours_events().get()
    assert (event.actor, event.object_type, event.object_id) == (
        operator,
        "clients.Contract",
        str(contract.pk),
    )
    assert event.changes == {
        "weekdays": [0, 1, 2, 3, 4],
        "opens": "09:00",
        "closes": "17:30",
        "first_response_minutes": 240,
        "resolution_minutes": 1530,
    }


@pytest.mark.req("MNT-05")
def test_the_same_file_again_changes_nothing_and_writes_no_audit_event(acme, operator):
    assert load(FILE, actor=operator).ok

    again = load(FILE, actor=operator)

    assert again.ok, messages(again)
    assert again.counts["support_hours"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert again.changes == []
    assert hours_events().count() == 1


@pytest.mark.req("MNT-05")
def test_the_import_changes_what_the_file_gives_and_keeps_the_rest(acme, operator):
    contract = acme.contracts.get()
    assert load(FILE, actor=operator).ok
    # Saturday too, and a resolution target of two support days; the hours and the
    # first-response target are left out: they stay.
    changed = FILE.replace("weekdays: mon-fri", "weekdays: [mon, tue, wed, thu, fri, sat]")
    changed = changed.replace("          hours: 09:00-17:30\n", "")
    changed = changed.replace("          first_response: 4h\n", "").replace("3d", "2d")

    report = load(changed, actor=operator)

    assert report.ok, messages(report)
    assert row_values(contract) == ([0, 1, 2, 3, 4, 5], dt.time(9), dt.time(17, 30), 240, 1020)
    assert report.counts["support_hours"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert [str(c) for c in report.changes] == [
        "update support_hours acme/ssl_management 2026-04-01 (weekdays, resolution)"
    ]
    assert hours_events().count() == 2
    assert hours_events().latest("pk").changes["resolution_minutes"] == 1020


@pytest.mark.req("MNT-05")
def test_empty_targets_mean_the_defaults(acme, operator, settings):
    contract = acme.contracts.get()
    assert load(FILE, actor=operator).ok

    report = load(FILE.replace("4h", "").replace("3d", '""'), actor=operator)

    assert report.ok, messages(report)
    assert row_values(contract)[3:] == (None, None)


@pytest.mark.req("MNT-05")
@pytest.mark.parametrize("empty", ["support_hours:", "support_hours: {}", "support_hours: null"])
def test_empty_support_hours_leave_the_contract_as_it_is(acme, operator, empty):
    contract = acme.contracts.get()
    assert load(FILE, actor=operator).ok
    text = FILE.split("        support_hours:")[0] + f"        {empty}\n"

    report = load(text, actor=operator)

    assert report.ok, messages(report)
    assert report.counts["support_hours"] == {"created": 0, "updated": 0, "unchanged": 0}
    assert row_values(contract) == ([0, 1, 2, 3, 4], dt.time(9), dt.time(17, 30), 240, 1530)
    assert hours_events().count() == 1


@pytest.mark.req("MNT-05")
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "hours: 09:00-17:30",
            "hours: 18:00-10:00",
            f"clients.yaml:8: {PATH}.hours: Support must close after it opens, on the same day.",
        ),
        (
            "hours: 09:00-17:30",
            "hours: 9 to 5",
            f"clients.yaml:8: {PATH}.hours: '9 to 5': write the support hours as 10:00-18:00.",
        ),
        (
            "weekdays: mon-fri",
            "weekdays: mon-fry",
            f"clients.yaml:7: {PATH}.weekdays: 'mon-fry': write the days of the week as mon-fri "
            "or mon,wed,fri (mon, tue, wed, thu, fri, sat, sun).",
        ),
        (
            "first_response: 4h",
            "first_response: 4 hours",
            f"clients.yaml:9: {PATH}.first_response: '4 hours': Write a duration such as 90m, "
            "4h or 3d.",
        ),
        (
            # 61 support days of 510 minutes is more than the largest target (60 days of 24 h).
            "first_response: 4h",
            "first_response: 200d",
            f"clients.yaml:9: {PATH}.first_response: A target is between 1 and 86400 "
            "business minutes.",
        ),
        (
            "resolution: 3d",
            "resolutoin: 3d",
            f"clients.yaml:10: {PATH}.resolutoin: Unknown field 'resolutoin'. "
            "Did you mean 'resolution'?",
        ),
    ],
)
def test_a_bad_value_is_reported_at_its_line_and_nothing_is_written(
    acme, operator, old, new, expected
):
    contract = acme.contracts.get()
    set_support_hours(contract, weekdays=[0, 1, 2], opens=dt.time(10), closes=dt.time(18))
    events = AuditEvent.objects.count()
    # The contract's title would change too: a file with any problem writes nothing.
    text = FILE.replace(old, new) + "        title: 新しい題名\n"

    report = load(text, actor=operator)

    assert messages(report) == [expected]
    assert row_values(contract) == ([0, 1, 2], dt.time(10), dt.time(18), None, None)
    assert Contract.objects.get().title == ""
    assert AuditEvent.objects.count() == events


@pytest.mark.req("MNT-05")
def test_a_dry_run_says_what_would_change_and_writes_nothing(acme, operator):
    report = load(FILE, actor=operator, dry_run=True)

    assert report.ok, messages(report)
    assert report.counts["support_hours"]["created"] == 1
    assert not SupportHours.objects.exists()
    assert not hours_events().exists()


@pytest.mark.req("MNT-05")
def test_the_support_hours_of_a_contract_with_problems_are_still_checked(acme, operator):
    text = FILE.replace("ssl_management", "ssl_mgmt").replace("4h", "200d")

    report = load(text, actor=operator)

    assert f"clients.yaml:9: {PATH}.first_response: A target is between 1 and 86400 business " in (
        "\n".join(messages(report))
    )
    assert not SupportHours.objects.exists()


@pytest.mark.req("MNT-05")
def test_only_the_providers_staff_may_import_support_hours(acme, owner, subcontractor):
    report = load(FILE, actor=owner)

    assert messages(report) == [
        f"clients.yaml:6: {PATH}: Only the provider's staff may change support hours."
    ]
    assert not SupportHours.objects.exists()
    # A subcontractor assigned to the client is the provider's staff for it, as on the page.
    assert load(FILE, actor=subcontractor).ok
    assert hours_events().get().actor == subcontractor


@pytest.mark.req("MNT-05")
def test_the_export_writes_support_hours_that_import_back_unchanged(acme, operator):
    contract = acme.contracts.get()
    set_support_hours(
        contract,
        weekdays=[0, 2, 4, 5],
        opens=dt.time(9),
        closes=dt.time(17, 30),
        first_response_minutes=90,
        resolution_minutes=2 * 510,
    )

    exported = export_inventory(fmt="yaml", clients=["acme"], actor=operator)

    assert (
        "        support_hours:\n"
        "          weekdays: mon,wed,fri,sat\n"
        "          hours: 09:00-17:30\n"
        "          first_response: 90m\n"
        "          resolution: 2d\n"
    ) in exported
    events = hours_events().count()
    again = import_file(exported.encode(), filename="export.yaml", actor=operator)
    assert again.ok, messages(again)
    assert again.counts["support_hours"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert hours_events().count() == events
    # Into a database without them: the same support hours, and the same file out.
    SupportHours.objects.all().delete()
    back = import_file(exported.encode(), filename="export.yaml", actor=operator)
    assert back.ok and back.counts["support_hours"]["created"] == 1
    assert row_values(contract) == ([0, 2, 4, 5], dt.time(9), dt.time(17, 30), 90, 1020)
    assert export_inventory(fmt="yaml", clients=["acme"], actor=operator) == exported


@pytest.mark.req("MNT-05")
def test_the_problems_are_told_in_the_readers_language(acme, operator):
    text = FILE.replace("mon-fri", "mon-fry").replace("09:00-17:30", "18:00-10:00")

    with translation.override("ja"):
        report = load(text, actor=operator)

    assert messages(report) == [
        f"clients.yaml:7: {PATH}.weekdays: 'mon-fry': 曜日は mon-fri や mon,wed,fri のように"
        "書いてください（mon, tue, wed, thu, fri, sat, sun）。",
        f"clients.yaml:8: {PATH}.hours: 終了時刻は同じ日の開始時刻より後にしてください。",
    ]


@pytest.mark.req("MNT-05")
def test_the_documented_example_imports(acme, operator):
    docs = (Path(__file__).parents[2] / "docs" / "import-format.md").read_text()
    section = docs.split("### Support hours (`support_hours`")[1]
    example = section.split("```yaml\n")[1].split("```")[0]
    # The example is a client's contracts list: put it into acme.
    text = "clients:\n  - code: acme\n" + "".join(f"    {line}\n" for line in example.splitlines())

    report = load(text, actor=operator)

    assert report.ok, messages(report)
    contract = acme.contracts.get(type="site_maintenance")
    # 10:00-18:00: a support day is 8 hours, 3d is 24 business hours.
    assert row_values(contract) == ([0, 1, 2, 3, 4], dt.time(10), dt.time(18), 240, 1440)
