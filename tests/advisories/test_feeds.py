"""Keeping the vulnerability data (MNT-02): import from a file, a directory and OSV's zip
dumps (served by a local HTTP server), incrementally by ``modified``; the data's age."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mamori.advisories import feeds
from mamori.advisories.models import Advisory, AffectedPackage, Feed
from mamori.core.models import AuditEvent
from tests.advisories.conftest import FIXTURES, make_zip

pytestmark = [pytest.mark.req("MNT-02"), pytest.mark.django_db]

DEBIAN = ["DSA-9901-1.json", "DEBIAN-CVE-2099-2002.json", "DSA-9903-1.json"]


def test_a_directory_is_imported_and_a_bad_record_named_not_fatal(tmp_path):
    report = feeds.import_path(FIXTURES)
    assert report.added == 7 and report.updated == 0
    assert report.skipped == ["broken.json: BROKEN-1: modified is not an RFC 3339 time"]
    dsa = Advisory.objects.get(osv_id="DSA-9901-1")
    assert dsa.level == "high" and dsa.severity_score == 7.5
    assert dsa.severity_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
    assert sorted(dsa.affected.values_list("ecosystem", flat=True)) == ["Debian:11", "Debian:12"]
    ranges = dsa.affected.get(ecosystem="Debian:12").ranges
    assert ranges == [
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}]}
    ]
    event = AuditEvent.objects.filter(action="advisories.import").latest("sequence")
    assert event.changes["added"] == 7 and event.changes["skipped"] == 1


def test_import_is_incremental_by_modified(tmp_path):
    feeds.import_path(FIXTURES / "DSA-9901-1.json")
    again = feeds.import_path(FIXTURES / "DSA-9901-1.json")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    data = json.loads((FIXTURES / "DSA-9901-1.json").read_text())
    data["modified"] = "2026-03-01T00:00:00Z"
    data["affected"] = data["affected"][:1]
    data["affected"][0]["ranges"][0]["events"][1]["fixed"] = "3.0.14-1~deb12u1"
    (tmp_path / "newer.json").write_text(json.dumps(data))
    newer = feeds.import_path(tmp_path / "newer.json")
    assert newer.updated == 1
    kept = AffectedPackage.objects.get(advisory__osv_id="DSA-9901-1")
    assert kept.ranges[0]["events"][1] == {"fixed": "3.0.14-1~deb12u1"}
    # An older copy does not overwrite the newer one.
    assert feeds.import_path(FIXTURES / "DSA-9901-1.json").unchanged == 1
    assert AffectedPackage.objects.get(advisory__osv_id="DSA-9901-1").ranges == kept.ranges


def test_refresh_downloads_the_dump_once_and_then_only_when_it_changed(dump_server, settings):
    dump_server.dumps["Debian:12"] = make_zip([FIXTURES / name for name in DEBIAN])
    first = feeds.refresh(["Debian:12"])["Debian:12"]
    assert (first.added, first.not_modified) == (3, False)
    assert dump_server.requests == ["/Debian:12/all.zip"]
    feed = Feed.objects.get(ecosystem="Debian:12")
    assert feed.records == 3 and feed.checked_at is not None and feed.error == ""
    assert feed.newest_record.isoformat() == "2026-03-05T00:00:00+00:00"

    second = feeds.refresh(["Debian:12"])["Debian:12"]
    assert second.not_modified and dump_server.downloads == ["Debian:12"]

    dump_server.dumps["Debian:12"] = make_zip(
        [FIXTURES / name for name in DEBIAN] + [FIXTURES / "GHSA-test-jinja.json"]
    )
    third = feeds.refresh(["Debian:12"])["Debian:12"]
    assert (third.added, third.unchanged) == (1, 3)
    assert dump_server.downloads == ["Debian:12", "Debian:12"]


def test_a_failing_feed_is_recorded_and_does_not_stop_the_others(dump_server):
    dump_server.dumps["PyPI"] = make_zip([FIXTURES / "GHSA-test-jinja.json"])
    results = feeds.refresh(["Alpine:v3.19", "PyPI"])
    assert isinstance(results["Alpine:v3.19"], feeds.FeedError)
    assert "HTTP 404" in str(results["Alpine:v3.19"])
    assert results["PyPI"].added == 1
    assert "HTTP 404" in Feed.objects.get(ecosystem="Alpine:v3.19").error


def test_a_dump_that_is_not_a_zip_is_refused(dump_server):
    dump_server.dumps["npm"] = b"<html>not a zip</html>"
    result = feeds.refresh(["npm"])["npm"]
    assert isinstance(result, feeds.FeedError) and "not a zip archive" in str(result)
    assert Advisory.objects.count() == 0


def test_cli_import_refresh_and_status(dump_server, settings, tmp_path, capsys):
    folder = tmp_path / "records"
    folder.mkdir()
    shutil.copy(FIXTURES / "GHSA-test-lodash.json", folder)
    call_command("advisories", "import", str(folder))
    assert "追加 1" in capsys.readouterr().out  # the CLI speaks Japanese by default
    with pytest.raises(CommandError) as missing:
        call_command("advisories", "import", str(tmp_path / "nowhere"))
    assert missing.value.returncode == 2 and "no such file" in str(missing.value)

    settings.MAMORI_ADVISORY_ECOSYSTEMS = []
    with pytest.raises(CommandError) as none:
        call_command("advisories", "refresh")
    assert none.value.returncode == 2

    dump_server.dumps["Debian:12"] = make_zip([FIXTURES / name for name in DEBIAN])
    settings.MAMORI_ADVISORY_ECOSYSTEMS = ["Debian:12"]
    call_command("advisories", "refresh")
    call_command("advisories", "refresh")
    out = capsys.readouterr().out
    assert "Debian:12: 追加 3" in out and "Debian:12: 前回から変更なし" in out
    call_command("advisories", "status")
    out = capsys.readouterr().out
    assert "保持している脆弱性情報: 4" in out and "Debian:12\t3\t" in out


def test_the_job_refreshes_the_configured_ecosystems(dump_server, settings):
    from mamori.operations import jobs

    dump_server.dumps["PyPI"] = make_zip([FIXTURES / "GHSA-test-jinja.json"])
    settings.MAMORI_ADVISORY_ECOSYSTEMS = ["PyPI"]
    jobs.run_job(jobs.REGISTRY["advisory_refresh"])
    assert Advisory.objects.filter(osv_id="GHSA-9999-jjjj-0001").exists()
