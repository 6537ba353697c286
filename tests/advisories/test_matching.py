"""Matching installed versions against the kept OSV records (MNT-02): findings with severity,
fixed version and whether an official fix exists (004 §8.2), opened and closed as versions
change, operators alerted once per new finding."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from mamori.advisories import feeds, matching
from mamori.advisories.models import CloseReason, Finding
from mamori.inventory.models import Server
from mamori.notices.models import Notice, NoticeKind
from tests.advisories.conftest import FIXTURES

pytestmark = [pytest.mark.req("MNT-02"), pytest.mark.django_db]

#: What a Debian 12 web server declares as installed (source package names for Debian).
WEB1 = [
    ("Debian:12", "openssl", "3.0.11-1~deb12u2"),
    ("Debian:12", "zlib", "1:1.2.13.dfsg-1"),
    ("Debian:12", "openssh", "1:9.2p1-2+deb12u3"),
    ("Debian:12", "bash", "5.2.15-2+b2"),
    ("PyPI", "Jinja2", "3.1.2"),
    ("npm", "lodash", "4.17.20"),
    ("Packagist", "guzzlehttp/guzzle", "7.4.4"),
    ("PyPI", "requests", "2.31.0"),
]


@pytest.fixture
def web1(acme):
    return Server.objects.create(client=acme, name="web1", kind="vps")


def table(server) -> dict[str, tuple]:
    return {
        f.advisory.osv_id: (
            f.package,
            f.installed_version,
            f.level,
            f.fixed_version,
            f.official_fix,
        )
        for f in Finding.objects.open().filter(server=server).select_related("advisory")
    }


def test_findings_name_the_fix_or_its_absence(osv_records, web1, operator):
    report = matching.scan_server(web1, WEB1)
    assert table(web1) == {
        "DSA-9901-1": ("openssl", "3.0.11-1~deb12u2", "high", "3.0.13-1~deb12u1", True),
        "DEBIAN-CVE-2099-2002": ("zlib", "1:1.2.13.dfsg-1", "unknown", "", False),
        "GHSA-9999-jjjj-0001": ("Jinja2", "3.1.2", "medium", "3.1.3", True),
        "GHSA-9999-llll-0002": ("lodash", "4.17.20", "critical", "4.17.21", True),
        "GHSA-9999-gggg-0003": ("guzzlehttp/guzzle", "7.4.4", "unknown", "", False),
    }
    assert len(report.opened) == 5 and not report.closed
    # One alert for the scan, to the operators, naming every finding, worst first.
    alerts = Notice.objects.filter(kind=NoticeKind.VULNERABILITY_FOUND)
    assert [n.recipient for n in alerts] == ["operator@provider.example"]
    body = alerts[0].body_text
    assert body.index("GHSA-9999-llll-0002") < body.index("DSA-9901-1") < body.index("DEBIAN")
    assert "3.0.13-1~deb12u1" in body and "5 件" in body  # the operator reads Japanese
    assert all(f.alerted_at is not None for f in Finding.objects.all())


def test_the_same_list_again_opens_and_alerts_nothing(osv_records, web1, operator):
    matching.scan_server(web1, WEB1)
    again = matching.scan_server(web1, WEB1)
    assert (len(again.opened), len(again.closed), again.still_open) == (0, 0, 5)
    assert Notice.objects.filter(kind=NoticeKind.VULNERABILITY_FOUND).count() == 1


def test_findings_close_as_versions_change(osv_records, web1, operator):
    matching.scan_server(web1, WEB1)
    updated = [p for p in WEB1 if p[1] not in ("openssl", "lodash")] + [
        ("Debian:12", "openssl", "3.0.13-1~deb12u1")
    ]
    report = matching.scan_server(web1, updated)
    closed = {f.advisory.osv_id: (f.close_reason, f.installed_version) for f in report.closed}
    assert closed == {
        "DSA-9901-1": (CloseReason.UPDATED, "3.0.13-1~deb12u1"),
        "GHSA-9999-llll-0002": (CloseReason.REMOVED, "4.17.20"),
    }
    assert set(table(web1)) == {
        "DEBIAN-CVE-2099-2002",
        "GHSA-9999-jjjj-0001",
        "GHSA-9999-gggg-0003",
    }
    # Going back to a vulnerable version is a new finding, alerted again.
    matching.scan_server(web1, WEB1)
    assert Notice.objects.filter(kind=NoticeKind.VULNERABILITY_FOUND).count() == 2
    assert Finding.objects.filter(server=web1, advisory__osv_id="DSA-9901-1").count() == 2


def test_a_withdrawn_advisory_closes_its_findings(osv_records, web1, tmp_path):
    matching.scan_server(web1, WEB1)
    data = json.loads((FIXTURES / "GHSA-test-jinja.json").read_text())
    data["modified"] = data["withdrawn"] = "2026-05-01T00:00:00Z"
    (tmp_path / "w.json").write_text(json.dumps(data))
    feeds.import_path(tmp_path / "w.json")
    report = matching.scan_server(web1, WEB1)
    assert [(f.advisory.osv_id, f.close_reason) for f in report.closed] == [
        ("GHSA-9999-jjjj-0001", CloseReason.WITHDRAWN)
    ]


def test_another_release_matches_its_own_entry(osv_records, acme):
    old = Server.objects.create(client=acme, name="old", kind="vps")
    matching.scan_server(old, [("Debian:11", "openssl", "1.1.1w-0+deb11u1")])
    assert table(old) == {
        "DSA-9901-1": ("openssl", "1.1.1w-0+deb11u1", "high", "1.1.1w-0+deb11u2", True)
    }
    # A Debian 12 entry never matches a Debian 11 server's package, and vice versa.
    matching.scan_server(old, [("Debian:11", "zlib", "1:1.2.11.dfsg-2+deb11u2")])
    assert table(old) == {}


def test_an_unreadable_installed_version_is_reported_not_fatal(osv_records, web1):
    report = matching.scan_server(web1, [("npm", "lodash", "banana"), *WEB1[:1]])
    assert report.stats.unreadable == ["npm lodash banana"]
    assert set(table(web1)) == {"DSA-9901-1"}


def test_os_release_to_ecosystem():
    assert matching.ecosystem_for_os("debian", "12") == "Debian:12"
    assert matching.ecosystem_for_os("ubuntu", "22.04") == "Ubuntu:22.04:LTS"
    assert matching.ecosystem_for_os("ubuntu", "23.10") == "Ubuntu:23.10"
    assert matching.ecosystem_for_os("alpine", "3.19.1") is None


def test_rescan_all_takes_the_inventory_of_every_server(osv_records, web1, globex):
    other = Server.objects.create(client=globex, name="db1", kind="vps")
    lists = {web1.pk: WEB1, other.pk: None}  # db1 never collected: left alone
    reports = matching.rescan_all(lambda server: lists[server.pk])
    assert reports == {web1.pk: (5, 0)}


def test_cli_lists_the_findings(osv_records, web1, capsys):
    matching.scan_server(web1, WEB1)
    call_command("advisories", "findings", "--server", "web1")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == [
        "acme",
        "web1",
        "critical",
        "GHSA-9999-llll-0002",
        "lodash",
        "4.17.20",
        "4.17.21",
    ]
    assert any("zlib" in line and "正式な修正なし" in line for line in lines)


def test_api_lists_a_servers_findings_to_those_who_see_it(
    osv_records, web1, owner, outsider, client
):
    matching.scan_server(web1, WEB1)
    client.force_login(owner)
    found = client.get(f"/api/v1/servers/{web1.pk}/findings").json()["items"]
    assert {f["advisory"]: (f["official_fix"], f["fixed_version"]) for f in found}[
        "DSA-9901-1"
    ] == (True, "3.0.13-1~deb12u1")
    assert len(found) == 5
    client.force_login(outsider)
    assert client.get(f"/api/v1/servers/{web1.pk}/findings").status_code == 404
    assert client.get("/api/v1/advisories/data").json()["advisories"] == 7


@pytest.mark.parametrize("language, words", [("ja", "未解決の該当"), ("en", "Open findings")])
def test_the_servers_page_lists_its_findings(osv_records, web1, operator, client, language, words):
    matching.scan_server(web1, WEB1)
    operator.language = language
    operator.save()
    client.force_login(operator)
    page = client.get(f"/advisories/servers/{web1.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    text = page.content.decode()
    assert page.status_code == 200 and words in text
    assert "DSA-9901-1" in text and "3.0.13-1~deb12u1" in text
