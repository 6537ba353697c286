"""Inventory import and export (``mamori import`` / ``mamori export``)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from mamori.clients.models import Client, Contact, Contract
from mamori.core.models import AuditEvent
from mamori.desk.hours_services import set_support_hours
from mamori.desk.models import SupportHours
from mamori.inventory.models import Domain, Endpoint, Server, Site
from mamori.inventory.transfer import (
    UnknownClients,
    export_inventory,
    import_file,
)

DATA = Path(__file__).parent / "data"
FULL = DATA / "full.yaml"


@pytest.fixture(autouse=True)
def english():
    """Messages are compared word for word: pin the language whatever MAMORI_LANGUAGE says."""
    with translation.override("en"):
        yield


def load(text: str, filename: str = "clients.yaml", **kwargs):
    return import_file(text.encode("utf-8"), filename=filename, **kwargs)


def messages(report) -> list[str]:
    return [str(e) for e in report.errors]


def snapshot() -> dict[str, list]:
    """Everything an import can write, to prove that a failed one wrote nothing."""
    return {
        model.__name__: sorted(map(str, model.objects.values_list()))
        for model in (Client, Contact, Contract, Server, Site, Domain, Endpoint, AuditEvent)
    }


# --- YAML import ----------------------------------------------------------------------------------


@pytest.mark.req("CT-01")
@pytest.mark.req("CT-07")
@pytest.mark.req("CT-08")
def test_it_creates_everything_from_a_full_yaml_file(db):
    report = import_file(FULL, filename="full.yaml")

    assert report.ok, messages(report)
    assert {k: c["created"] for k, c in report.counts.items()} == {
        "clients": 1,
        "contacts": 2,
        "contracts": 2,
        "fees": 0,
        "catalogue": 0,
        "support_hours": 0,
        "servers": 1,
        "sites": 1,
        "domains": 1,
        "endpoints": 3,
        "acme_accounts": 0,
        "managed_certificates": 0,
        "deployment_targets": 0,
        "checks": 0,
        "maintenance_windows": 0,
        "backup_jobs": 0,
    }
    client = Client.objects.get(code="sample")
    assert client.name == "株式会社サンプル"
    assert client.address == "東京都千代田区丸の内1-1-1"
    assert client.representative == "代表取締役 山田一郎"

    yamada = client.contacts.get(email="yamada@example.jp")
    assert (yamada.name, yamada.language, yamada.notify) == (
        "山田太郎",
        "ja",
        ["certificates", "incidents"],
    )
    assert client.contacts.get(email="jane@example.jp").language == "en"

    ssl = client.contracts.get(type="ssl_management")
    assert ssl.start == dt.date(2026, 4, 1)
    assert ssl.renewal_policy == "approval"
    assert ssl.expiry_notice_days == [60, 30, 14, 7, 1]
    assert (ssl.term_months, ssl.auto_renew) == (12, True)  # model defaults
    maintenance = client.contracts.get(type="site_maintenance")
    assert (maintenance.title, maintenance.term_months, maintenance.auto_renew) == (
        "サイト保守契約",
        24,
        False,
    )
    assert maintenance.notes == "毎月第2火曜日に定期作業。\n緊急時は電話連絡。\n"

    server = client.servers.get()
    assert (server.name, server.kind, server.provider, server.os, server.middleware) == (
        "web01",
        "vps",
        "さくらのVPS",
        "Ubuntu 24.04",
        "nginx 1.24",
    )
    site = client.sites.get()
    assert (site.name, site.url, site.cms, site.server) == (
        "コーポレートサイト",
        "https://www.example.jp/",
        "WordPress 6.6",
        server,
    )
    assert site.related_systems == "問い合わせフォーム（kintone連携）"
    domain = client.domains.get()
    assert (domain.name, domain.registrar, domain.expires_on) == (
        "example.jp",
        "お名前.com",
        dt.date(2027, 3, 31),
    )

    www = client.endpoints.get(host="www.example.jp")
    assert (www.port, www.sni, www.site, www.server, www.contract) == (443, "", site, server, ssl)
    assert (www.check_interval, www.enabled) == (21600, True)
    idn = client.endpoints.get(host="xn--r8jz45g.jp")  # 例え.jp
    assert (idn.port, idn.sni, idn.check_interval, idn.enabled) == (443, "", None, True)
    ipv6 = client.endpoints.get(host="2001:db8::1")  # written as [2001:DB8::1]
    assert (ipv6.port, ipv6.sni, ipv6.enabled) == (8443, "api.example.jp", False)
    assert ipv6.trust_bundle.startswith("-----BEGIN CERTIFICATE-----\n")


def test_it_changes_nothing_when_the_same_file_is_imported_again(db):
    assert import_file(FULL, filename="full.yaml").ok
    before, events = snapshot(), AuditEvent.objects.count()

    report = import_file(FULL, filename="full.yaml")

    assert report.ok
    assert report.total("created") == report.total("updated") == 0
    assert report.counts["endpoints"] == {"created": 0, "updated": 0, "unchanged": 3}
    assert report.total("unchanged") == 11
    assert report.changes == []
    assert AuditEvent.objects.count() == events
    assert snapshot() == before


def test_it_updates_only_the_record_whose_field_changed(db):
    assert import_file(FULL, filename="full.yaml").ok
    changed = FULL.read_text(encoding="utf-8").replace(
        "middleware: nginx 1.24", "middleware: nginx 1.26"
    )

    report = load(changed, filename="full.yaml")

    assert report.ok, messages(report)
    assert report.counts["servers"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert report.total("updated") == 1
    assert report.total("created") == 0
    assert Server.objects.get(name="web01").middleware == "nginx 1.26"
    event = AuditEvent.objects.get(action="import.update")
    assert event.changes == {"middleware": ["nginx 1.24", "nginx 1.26"]}
    assert event.object_type == "inventory.Server"
    assert [str(c) for c in report.changes] == ["update servers sample/web01 (middleware)"]


def test_it_writes_an_audit_event_for_every_record_created(db, operator):
    report = import_file(FULL, filename="full.yaml", actor=operator)

    assert report.ok
    events = AuditEvent.objects.filter(action="import.create")
    assert events.count() == report.total("created") == 11
    assert {e.actor for e in events} == {operator}
    client_event = events.get(object_type="clients.Client")
    assert client_event.changes["name"] == "株式会社サンプル"
    endpoint_event = events.get(object_type="inventory.Endpoint", object_repr="www.example.jp")
    assert endpoint_event.changes["server"] == "web01"
    assert endpoint_event.changes["contract"] == "ssl_management/2026-04-01"


def test_it_leaves_records_the_file_does_not_mention_alone(db, acme):
    report = load(
        """\
clients:
  - code: acme
    contacts:
      - {name: 新しい担当, email: new@acme.example}
"""
    )

    assert report.ok, messages(report)
    assert report.counts["clients"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert acme.contacts.count() == 4
    acme.refresh_from_db()
    assert acme.name == "株式会社アクメ"  # fields left out keep their value


def test_it_applies_the_defaults_for_fields_left_out(db, acme):
    report = load(
        """\
clients:
  - code: acme
    contacts:
      - {name: 佐藤, email: sato@acme.example}
    endpoints:
      - host: WWW.Acme.Example.
"""
    )

    assert report.ok, messages(report)
    contact = acme.contacts.get(email="sato@acme.example")
    assert (contact.language, contact.notify) == ("ja", [])
    endpoint = acme.endpoints.get()
    assert (endpoint.host, endpoint.port, endpoint.sni, endpoint.enabled) == (
        "www.acme.example",
        443,
        "",
        True,
    )


def test_it_normalises_hosts_so_that_spellings_match(db, acme):
    first = load(
        """\
clients:
  - code: acme
    endpoints:
      - {host: 例え.jp}
      - {host: "[2001:DB8:0::1]", port: 8443, allow_private_address: true}
      - {host: www.acme.example, sni: www.acme.example}
"""
    )
    again = load(
        """\
clients:
  - code: acme
    endpoints:
      - {host: XN--R8JZ45G.JP.}
      - {host: "2001:db8::1", port: 8443, allow_private_address: true}
      - {host: ＷＷＷ．acme．example}
"""
    )

    assert first.ok and again.ok, messages(first) + messages(again)
    assert sorted(acme.endpoints.values_list("host", "sni")) == [
        ("2001:db8::1", ""),
        ("www.acme.example", ""),
        ("xn--r8jz45g.jp", ""),
    ]
    assert again.counts["endpoints"] == {"created": 0, "updated": 0, "unchanged": 3}


def test_it_resolves_references_to_records_already_in_the_database(db, acme):
    Server.objects.create(client=acme, name="db01", kind="dedicated")
    report = load(
        """\
clients:
  - code: acme
    sites:
      - {name: 会員サイト, url: "https://members.acme.example/", server: db01}
    endpoints:
      - {host: members.acme.example, site: 会員サイト, contract: ssl_management}
"""
    )

    assert report.ok, messages(report)
    endpoint = acme.endpoints.get()
    assert endpoint.site.server.name == "db01"
    assert endpoint.contract == acme.contracts.get()


def test_it_asks_for_the_start_date_when_a_contract_type_is_ambiguous(db, acme):
    Contract.objects.create(client=acme, type="ssl_management", start=dt.date(2027, 4, 1))
    text = """\
clients:
  - code: acme
    endpoints:
      - {host: www.acme.example, contract: ssl_management}
"""

    report = load(text)

    assert messages(report) == [
        "clients.yaml:4: clients[0].endpoints[0].contract: 'ssl_management': The client has "
        "several contracts of this type; add the start date, e.g. ssl_management/2026-04-01."
    ]
    fixed = load(text.replace("ssl_management}", "ssl_management/2027-04-01}"))
    assert fixed.ok, messages(fixed)
    assert acme.endpoints.get().contract.start == dt.date(2027, 4, 1)


def test_it_understands_yaml_anchors_and_merge_keys(db, acme):
    report = load(
        """\
clients:
  - code: acme
    endpoints:
      - &common {host: a.acme.example, check_interval: 3600, enabled: false}
      - {<<: *common, host: b.acme.example}
"""
    )

    assert report.ok, messages(report)
    assert sorted(acme.endpoints.values_list("host", "check_interval", "enabled")) == [
        ("a.acme.example", 3600, False),
        ("b.acme.example", 3600, False),
    ]


# --- problems -------------------------------------------------------------------------------------

PROBLEMS = {
    "bad e-mail": (
        """\
clients:
  - code: acme
    contacts:
      - {name: 山田太郎, email: yamada@acme.example}
      - name: 山田花子
        email: "yamada@"
""",
        "clients.yaml:6: clients[0].contacts[1].email: 'yamada@' is not a valid e-mail address.",
    ),
    "unknown field": (
        """\
clients:
  - code: acme
    servers:
      - name: web01
        kind: vps
        midleware: nginx
""",
        "clients.yaml:6: clients[0].servers[0].midleware: Unknown field 'midleware'. "
        "Did you mean 'middleware'?",
    ),
    "wrong type": (
        """\
clients:
  - code: acme
    endpoints:
      - host: www.acme.example
        port: https
""",
        "clients.yaml:5: clients[0].endpoints[0].port: 'https' is not a whole number.",
    ),
    "number where text is expected": (
        """\
clients:
  - code: acme
    servers:
      - {name: web01, kind: vps, middleware: 1.10}
""",
        "clients.yaml:4: clients[0].servers[0].middleware: Expected text, not a number; "
        'put the value in quotes: "1.1".',
    ),
    "duplicate key": (
        """\
clients:
  - code: acme
    name: アクメ
    address: 東京都
    name: ACME
""",
        "clients.yaml:5: clients[0].name: Duplicate key: it was already given on line 3.",
    ),
    "duplicate record": (
        """\
clients:
  - code: acme
    endpoints:
      - {host: www.acme.example}
      - {host: WWW.acme.example, port: 443}
""",
        "clients.yaml:5: clients[0].endpoints[1]: The same record as on line 4 "
        "(same host, port, sni).",
    ),
    "unknown server reference": (
        """\
clients:
  - code: acme
    servers:
      - {name: web01, kind: vps}
    sites:
      - name: コーポレートサイト
        url: https://www.acme.example/
        server: web02
""",
        "clients.yaml:8: clients[0].sites[0].server: No server named 'web02' for this client.",
    ),
    "bad contract type": (
        """\
clients:
  - code: acme
    contracts:
      - {type: ssl, start: 2026-04-01}
""",
        "clients.yaml:4: clients[0].contracts[0].type: 'ssl' is not one of: ssl_management, "
        "site_maintenance, server_management, operations_support, ca_service.",
    ),
    "impossible date": (
        """\
clients:
  - code: acme
    contracts:
      - type: ssl_management
        start: 2026-02-30
""",
        "clients.yaml:5: clients[0].contracts[0].start: '2026-02-30' is not a valid date: "
        "day is out of range for month.",
    ),
    "date in another format": (
        """\
clients:
  - code: acme
    domains:
      - {name: acme.example, expires_on: 2027/03/31}
""",
        "clients.yaml:4: clients[0].domains[0].expires_on: '2027/03/31' is not a date; "
        "write it as YYYY-MM-DD, e.g. 2026-04-01.",
    ),
    "missing key field": (
        """\
clients:
  - code: acme
    contracts:
      - {type: ssl_management}
""",
        "clients.yaml:4: clients[0].contracts[0].start: This field is required.",
    ),
    "url as host": (
        """\
clients:
  - code: acme
    endpoints:
      - host: https://www.acme.example/
""",
        "clients.yaml:4: clients[0].endpoints[0].host: 'https://www.acme.example/': This is a "
        "URL, not a host name (write only the host name, e.g. www.acme.example).",
    ),
    "port in host": (
        """\
clients:
  - code: acme
    endpoints:
      - host: www.acme.example:8443
""",
        "clients.yaml:4: clients[0].endpoints[0].host: 'www.acme.example:8443': A host name "
        "has no port or path; put the port in the 'port' field.",
    ),
    "model validator": (
        """\
clients:
  - code: acme
    endpoints:
      - {host: www.acme.example, check_interval: 10}
""",
        "clients.yaml:4: clients[0].endpoints[0].check_interval: 10: Ensure this value is "
        "greater than or equal to 60.",
    ),
    "invalid YAML syntax": (
        """\
clients:
  - code: acme
    name: [株式会社アクメ
    address: 東京都
""",
        "clients.yaml:4: Not valid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence from line 3)",
    ),
    "tab indentation": (
        "clients:\n  - code: acme\n\tname: x\n",
        "clients.yaml:3: Tab character: indent YAML with spaces, not tabs.",
    ),
    "not a mapping at the top": (
        "- code: acme\n",
        "clients.yaml:1: Expected a mapping with a 'clients' list at the top level.",
    ),
    "empty file": ("# nothing here\n", "clients.yaml: The file is empty."),
    "unknown format version": (
        "version: 2\nclients: []\n",
        "clients.yaml:1: version: Unsupported format version 2 (this Mamori reads version 1).",
    ),
    "empty true/false": (
        "clients:\n  - code: acme\n    endpoints:\n      - host: www.acme.example\n"
        "        enabled:\n",
        "clients.yaml:5: clients[0].endpoints[0].enabled: Expected true or false.",
    ),
}


@pytest.mark.parametrize("text, expected", PROBLEMS.values(), ids=PROBLEMS.keys())
def test_it_reports_the_file_line_and_field_of_a_problem(db, acme, text, expected):
    before = snapshot()

    report = load(text)

    assert not report.ok
    assert messages(report) == [expected]
    assert report.errors[0].file == "clients.yaml"
    assert snapshot() == before


def test_it_reports_a_file_that_is_not_utf8(db):
    data = "clients:\n  - code: sample\n    name: 株式会社サンプル\n".encode("shift_jis")

    report = import_file(data, filename="clients.yaml")

    assert messages(report) == [
        "clients.yaml:3: The file is not UTF-8 text (byte 0x8A; it looks like Shift_JIS); "
        "save it as UTF-8."
    ]
    assert (report.errors[0].line, report.errors[0].path) == (3, "")


def test_it_reads_yaml_with_a_byte_order_mark(db):
    report = import_file(
        "\ufeffclients:\n  - {code: sample, name: サンプル}\n".encode(), filename="a.yml"
    )

    assert report.ok, messages(report)
    assert Client.objects.get(code="sample").name == "サンプル"


def test_it_reports_all_problems_of_a_file_together(db, acme):
    report = load(
        """\
clients:
  - code: acme
    contacts:
      - {name: 山田, email: "yamada@"}
    servers:
      - {name: web01, kind: mainframe}
    endpoints:
      - {host: www.acme.example, server: web01, enabled: maybe}
      - {host: api.acme.example, server: web09}
  - code: newco
    nmae: 新会社
"""
    )

    assert messages(report) == [
        "clients.yaml:4: clients[0].contacts[0].email: 'yamada@' is not a valid e-mail address.",
        "clients.yaml:6: clients[0].servers[0].kind: 'mainframe' is not one of: cloud, "
        "dedicated, vps, shared.",
        "clients.yaml:8: clients[0].endpoints[0].enabled: 'maybe' is not true or false.",
        "clients.yaml:9: clients[0].endpoints[1].server: No server named 'web09' for this client.",
        "clients.yaml:10: clients[1].name: A value is required.",
        "clients.yaml:11: clients[1].nmae: Unknown field 'nmae'. Did you mean 'name'?",
    ]
    assert report.counts["contacts"] == {"created": 0, "updated": 0, "unchanged": 0}


def test_it_imports_nothing_when_the_last_record_is_bad(db, acme):
    text = FULL.read_text(encoding="utf-8") + "      - {host: last.example.jp, port: 0}\n"
    before = snapshot()

    report = load(text, filename="full.yaml")

    assert messages(report) == [
        "full.yaml:45: clients[0].endpoints[3].port: 0: Ensure this value is greater than or "
        "equal to 1."
    ]
    assert snapshot() == before
    assert not Client.objects.filter(code="sample").exists()


def test_it_writes_nothing_in_a_dry_run_but_says_what_would_change(db, acme):
    before = snapshot()

    report = import_file(FULL, filename="full.yaml", dry_run=True)

    assert report.ok and report.dry_run
    assert report.total("created") == 11
    assert "create endpoints sample/www.example.jp:443" in [str(c) for c in report.changes]
    assert snapshot() == before


# --- CSV ------------------------------------------------------------------------------------------

CSV = """\
client,host,port,sni,site,server,check_interval,enabled
acme,www.acme.example,443,,https://www.acme.example/,web01,,true
acme,api.acme.example,8443,api.internal.acme.example,,,3600,false
acme,例え.jp,,,,,,
"""


@pytest.fixture
def acme_site(acme) -> Site:
    server = Server.objects.create(client=acme, name="web01", kind="vps")
    return Site.objects.create(
        client=acme, name="公式", url="https://www.acme.example/", server=server
    )


def test_it_imports_endpoints_from_csv(db, acme_site):
    report = import_file(CSV.encode(), filename="endpoints.csv")

    assert report.ok, messages(report)
    assert report.counts["endpoints"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert report.counts["clients"] == {"created": 0, "updated": 0, "unchanged": 0}
    www = Endpoint.objects.get(host="www.acme.example")
    assert (www.site, www.server.name, www.enabled) == (acme_site, "web01", True)
    api = Endpoint.objects.get(host="api.acme.example")
    assert (api.port, api.sni, api.check_interval, api.enabled) == (
        8443,
        "api.internal.acme.example",
        3600,
        False,
    )
    assert Endpoint.objects.get(host="xn--r8jz45g.jp").port == 443
    again = import_file(CSV.encode(), filename="endpoints.csv")
    assert again.counts["endpoints"] == {"created": 0, "updated": 0, "unchanged": 3}


@pytest.mark.parametrize("encoding", ["shift_jis", "cp932", "utf-8-sig"])
def test_it_reads_csv_as_japanese_excel_saves_it(db, acme_site, encoding):
    text = CSV.replace("\n", "\r\n")  # as Excel ends its lines

    report = import_file(text.encode(encoding), filename="endpoints.csv")

    assert report.ok, messages(report)
    assert Endpoint.objects.filter(host="xn--r8jz45g.jp").exists()


def test_it_reports_csv_problems_by_file_line_and_column(db, acme, globex):
    text = (
        "client,host,port,colour\n"
        "acme,www.acme.example,https,red\n"
        '"nope",api.acme.example,443,"two\nlines"\n'
        "acme,https://www.acme.example/,443,\n"
        ",www.acme.example,443,\n"
    )

    report = import_file(text.encode(), filename="endpoints.csv")

    assert messages(report) == [
        "endpoints.csv:1: colour: Unknown column 'colour'. Known: client, host, port, sni, "
        "site, server, contract, check_interval, enabled.",
        "endpoints.csv:2: port: 'https' is not a whole number.",
        "endpoints.csv:3: client: No such client or not allowed: 'nope'.",
        "endpoints.csv:5: host: 'https://www.acme.example/': This is a URL, not a host name "
        "(write only the host name, e.g. www.acme.example).",
        "endpoints.csv:6: client: This field is required.",
    ]
    assert not Endpoint.objects.exists()


def test_it_requires_a_csv_header(db):
    report = import_file(b"\n\n", filename="endpoints.csv")

    assert messages(report) == ["endpoints.csv: The file is empty: a header row is required."]


# --- export and round trip ------------------------------------------------------------------------


def test_it_round_trips_export_import_export(db):
    assert import_file(FULL, filename="full.yaml").ok
    set_support_hours(
        Contract.objects.get(type="site_maintenance"),
        weekdays=[0, 2, 4, 5],
        opens=dt.time(9),
        closes=dt.time(17, 30),
        first_response_minutes=90,
        resolution_minutes=3 * 510,
    )
    first = export_inventory()
    Client.objects.all().delete()
    assert not Endpoint.objects.exists()

    report = load(first, filename="export.yaml")
    second = export_inventory()

    assert report.ok, messages(report)
    assert second == first
    assert "株式会社サンプル" in first  # UTF-8, not \u escapes
    assert "expiry_notice_days: [60, 30, 14, 7, 1]" in first
    assert "support_hours:" in first and "weekdays: mon,wed,fri,sat" in first
    assert SupportHours.objects.get().resolution_minutes == 3 * 510


def test_it_round_trips_awkward_values(db):
    client = Client.objects.create(
        code="odd", name="2024", address="true", notes="  indented\r\nline two\r\n\r\n"
    )
    server = Server.objects.create(client=client, name="=cmd|' /C calc'!A0", kind="shared")
    Site.objects.create(client=client, name="null", url="https://odd.example/", server=server)
    Endpoint.objects.create(client=client, host="odd.example", server=server, sni="odd.example")
    first_yaml, first_csv = export_inventory(), export_inventory(fmt="csv")
    assert "'=cmd|' /C calc'!A0" in first_csv  # no formula for Excel

    Endpoint.objects.all().delete()
    csv_report = import_file(first_csv.encode(), filename="endpoints.csv")
    assert csv_report.ok, messages(csv_report)
    assert export_inventory(fmt="csv") == first_csv

    Client.objects.all().delete()
    yaml_report = load(first_yaml, filename="export.yaml")
    assert yaml_report.ok, messages(yaml_report)
    assert export_inventory() == first_yaml
    assert Client.objects.get().notes == "  indented\nline two\n\n"
    again = load(first_yaml, filename="export.yaml")
    assert again.total("created") == again.total("updated") == 0


def test_it_exports_only_the_clients_asked_for_and_audits_it(db, acme, globex, owner):
    text = export_inventory(clients=["globex"])

    assert "code: globex" in text and "acme" not in text
    event = AuditEvent.objects.get(action="export")
    assert (event.client, event.changes) == (globex, {"format": "yaml"})
    with pytest.raises(UnknownClients):
        export_inventory(clients=["globex"], actor=owner)  # exists, but not the owner's
    assert "code: acme" in export_inventory(actor=owner)
    assert "globex" not in export_inventory(actor=owner)


# --- who may import (ACC-01) ----------------------------------------------------------------------

ACME_ENDPOINT = """\
clients:
  - code: acme
    endpoints:
      - {host: new.acme.example}
"""
GLOBEX_ENDPOINT = """\
clients:
  - code: globex
    endpoints:
      - {host: new.globex.example}
"""
NEW_CLIENT = """\
clients:
  - code: newco
    name: 新会社
"""


@pytest.mark.req("ACC-01")
def test_it_lets_a_client_admin_import_for_their_own_client(db, owner):
    report = load(ACME_ENDPOINT, actor=owner)

    assert report.ok, messages(report)
    endpoint = Endpoint.objects.get(host="new.acme.example")
    assert AuditEvent.objects.get(action="import.create").actor == owner
    assert endpoint.client.code == "acme"


@pytest.mark.req("ACC-01")
def test_it_refuses_a_client_admin_another_clients_records(db, owner, globex):
    report = load(GLOBEX_ENDPOINT, actor=owner)
    missing = load(GLOBEX_ENDPOINT.replace("globex", "nosuch"), actor=owner)

    assert messages(report) == [
        "clients.yaml:2: clients[0].code: No such client or not allowed: 'globex'."
    ]
    # The same words for a client that does not exist: nothing to learn about other clients.
    assert messages(missing) == [
        "clients.yaml:2: clients[0].code: No such client or not allowed: 'nosuch'."
    ]
    assert not Endpoint.objects.exists()


@pytest.mark.req("ACC-01")
def test_it_lets_only_provider_admins_and_operators_create_clients(
    db, owner, subcontractor, operator, provider_admin
):
    for user in (owner, subcontractor):
        report = load(NEW_CLIENT, actor=user)
        assert messages(report) == [
            "clients.yaml:2: clients[0].code: No such client or not allowed: 'newco'."
        ]
    assert load(NEW_CLIENT, actor=operator).ok
    assert load(NEW_CLIENT.replace("newco", "newco2"), actor=provider_admin).ok
    assert set(Client.objects.values_list("code", flat=True)) == {"acme", "newco", "newco2"}


@pytest.mark.req("ACC-01")
def test_it_refuses_a_client_viewer(db, member):
    before = snapshot()

    report = load(ACME_ENDPOINT, actor=member)

    assert messages(report) == ["clients.yaml: You may not import: your account may only view."]
    assert snapshot() == before


@pytest.mark.req("ACC-01")
def test_it_lets_a_subcontractor_import_for_assigned_clients_only(db, subcontractor, globex):
    assert load(ACME_ENDPOINT, actor=subcontractor).ok
    report = load(GLOBEX_ENDPOINT, actor=subcontractor)
    csv_report = import_file(
        b"client,host\nacme,csv.acme.example\nglobex,csv.globex.example\n",
        filename="endpoints.csv",
        actor=subcontractor,
    )

    assert messages(report) == [
        "clients.yaml:2: clients[0].code: No such client or not allowed: 'globex'."
    ]
    assert messages(csv_report) == [
        "endpoints.csv:3: client: No such client or not allowed: 'globex'."
    ]
    assert list(Endpoint.objects.values_list("host", flat=True)) == ["new.acme.example"]


# --- command line ---------------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_prints_a_summary_and_exits_0(db):
    out, err = run("import", str(FULL))

    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["created", "updated", "unchanged"]
    assert lines[1].split() == ["Clients", "1", "0", "0"]
    # After the contracts' fees, catalogues and support hours.
    assert lines[10].split() == ["Endpoints", "3", "0", "0"]


def test_it_prints_json_for_machines(db):
    out, _err = run("import", str(FULL), "--json", "--dry-run")

    data = json.loads(out)
    assert (data["ok"], data["dry_run"], data["errors"]) == (True, True, [])
    assert data["counts"]["endpoints"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert not Client.objects.exists()


def test_it_exits_1_with_every_problem_when_the_file_is_invalid(db, tmp_path):
    path = tmp_path / "clients.yaml"
    path.write_text("clients:\n  - code: Bad Code\n    nmae: x\n", encoding="utf-8")
    err = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("import", str(path), stdout=io.StringIO(), stderr=err)

    assert raised.value.returncode == 1
    assert err.getvalue().splitlines() == [
        f"{path}:2: clients[0].code: 'Bad Code': Use 1–40 lower-case letters, digits, '-' or "
        "'_', starting with a letter or digit.",
        f"{path}:3: clients[0].nmae: Unknown field 'nmae'. Did you mean 'name'?",
    ]


def test_it_prints_problems_as_json_too(db, tmp_path):
    path = tmp_path / "clients.yaml"
    path.write_text("clients:\n  - {code: sample, nmae: x}\n", encoding="utf-8")
    out = io.StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("import", str(path), "--json", stdout=out, stderr=io.StringIO())

    assert raised.value.returncode == 1
    data = json.loads(out.getvalue())
    assert data["ok"] is False
    assert data["errors"] == [
        {
            "file": str(path),
            "line": 2,
            "path": "clients[0].name",
            "message": "A value is required.",
        },
        {
            "file": str(path),
            "line": 2,
            "path": "clients[0].nmae",
            "message": "Unknown field 'nmae'. Did you mean 'name'?",
        },
    ]


@pytest.mark.req("ACC-01")
def test_it_imports_as_the_user_given(db, owner, globex):
    run("import", str(DATA / "acme-endpoint.yaml"), "--user", "owner")

    assert AuditEvent.objects.get(action="import.create").actor == owner
    with pytest.raises(CommandError) as raised:
        run("import", str(FULL), "--user", "owner")  # may not create clients
    assert raised.value.returncode == 1


def test_it_exits_2_for_usage_errors(db, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    for args in (
        [str(tmp_path / "missing.yaml")],
        [str(tmp_path / "notes.txt")],
        [str(FULL), "--user", "nobody"],
    ):
        with pytest.raises(CommandError) as raised:
            run("import", *args)
        assert raised.value.returncode == 2, args
    with pytest.raises(CommandError) as raised:
        run("export", "--client", "nosuch")
    assert raised.value.returncode == 2


def test_it_exports_to_a_file(db, acme, tmp_path):
    yaml_path, csv_path = tmp_path / "inventory.yaml", tmp_path / "endpoints.csv"
    Endpoint.objects.create(client=acme, host="www.acme.example")

    run("export", "-o", str(yaml_path))
    run("export", "--client", "acme", "-o", str(csv_path))

    assert yaml_path.read_text(encoding="utf-8") == export_inventory()
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbfclient,host,")  # BOM for Excel
    assert oct(csv_path.stat().st_mode & 0o777) == "0o600"
    out, _err = run("export", "--format", "csv")
    assert out.splitlines()[1] == "acme,www.acme.example,443,,,,,,true"


def test_it_runs_as_a_program(tmp_path):
    env = {
        **os.environ,
        "MAMORI_DATA_DIR": str(tmp_path),
        "MAMORI_DATABASE_URL": f"sqlite:///{tmp_path / 'mamori.sqlite3'}",
        "MAMORI_LANGUAGE": "en",
    }
    mamori = [sys.executable, "-m", "mamori"]
    subprocess.run([*mamori, "migrate", "-v0"], env=env, check=True, timeout=300)

    ok = subprocess.run([*mamori, "import", str(FULL)], env=env, capture_output=True, text=True)
    bad = tmp_path / "bad.yaml"
    bad.write_text("clients:\n  - {code: sample, name: x, colour: red}\n", encoding="utf-8")
    failed = subprocess.run([*mamori, "import", str(bad)], env=env, capture_output=True, text=True)
    missing = subprocess.run(
        [*mamori, "import", str(tmp_path / "no.yaml")], env=env, capture_output=True, text=True
    )
    exported = subprocess.run([*mamori, "export"], env=env, capture_output=True, text=True)

    assert ok.returncode == 0, ok.stderr
    assert "Endpoints" in ok.stdout
    assert failed.returncode == 1
    assert f"{bad}:2: clients[0].colour: Unknown field 'colour'." in failed.stderr
    assert missing.returncode == 2
    assert exported.returncode == 0
    assert "name: 株式会社サンプル" in exported.stdout
