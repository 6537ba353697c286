"""A collection refreshes the server's vulnerability findings in the same pass (MNT-01 feeding
MNT-02), matching Debian's advisories by *source* package and source version, as Debian writes
them: the real sshd fixture and this machine's own dpkg database (a Debian 12 system)."""

from __future__ import annotations

import subprocess

import pytest

from mamori.advisories import feeds
from mamori.advisories.models import Finding
from mamori.notices.models import Notice, NoticeKind
from mamori.software import services
from mamori.software.models import Package

pytestmark = [pytest.mark.django_db(databases="__all__")]


def dpkg_sources() -> dict[str, tuple[str, str, str]]:
    """What dpkg itself says: installed binary package -> (version, source, source version)."""
    out = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Abbrev}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        status, name, version, source, source_version = line.split("\t")
        if status.startswith("ii"):
            found[name] = (version, source, source_version)
    return found


def record(osv_id: str, name: str, ranges=None, versions=None) -> tuple[str, dict]:
    affected = {"package": {"ecosystem": "Debian:12", "name": name}}
    if ranges is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": ranges}]
    if versions is not None:
        affected["versions"] = versions
    return osv_id, {
        "id": osv_id,
        "modified": "2026-11-01T00:00:00Z",
        "summary": f"{name} - test record",
        "affected": [affected],
    }


def open_findings(server) -> dict[str, tuple[str, list[str], str]]:
    return {
        f.advisory.osv_id: (f.package, f.binaries, f.installed_version)
        for f in Finding.objects.open().filter(server=server).select_related("advisory")
    }


@pytest.mark.req("MNT-01")
def test_packages_are_recorded_with_their_source_package(setup, server):
    services.collect_server(server)
    dpkg = dpkg_sources()
    rows = {p.name: p for p in Package.objects.filter(server=server)}
    # Known Debian facts: the C library is built from glibc; libssl3 from openssl.
    assert rows["libc6"].source_name == "glibc"
    assert rows["libc6"].source_version == dpkg["libc6"][2]
    if "libssl3" in dpkg:
        assert (rows["libssl3"].source_name, rows["libssl3"].source_version) == (
            "openssl",
            dpkg["libssl3"][2],
        )
    # A package that is its own source names itself.
    assert rows["dpkg"].source_name == "dpkg"
    assert rows["bash"].source_version == dpkg["bash"][2]


@pytest.mark.req("MNT-02")
def test_a_collection_matches_source_packages_without_a_separate_run(setup, server, operator):
    dpkg = dpkg_sources()
    _, _, bash_source_version = dpkg["bash"]
    feeds.import_records(
        [
            # Names the source package: every binary built from it is affected.
            record("DEBIAN-TEST-0001", "glibc", [{"introduced": "0"}, {"fixed": "99:0"}]),
            # A binary package's name is not a source name here: no finding.
            record("DEBIAN-TEST-0002", "libc6", [{"introduced": "0"}, {"fixed": "99:0"}]),
            # Fixed long before the installed source version: no finding.
            record("DEBIAN-TEST-0003", "glibc", [{"introduced": "0"}, {"fixed": "2.0-1"}]),
            # Only the source version is listed (a binNMU's binary version differs).
            record("DEBIAN-TEST-0004", "bash", versions=[bash_source_version]),
        ],
        source="test",
    )
    collection = services.collect_server(server)
    assert collection.state in ("ok", "partial")

    found = open_findings(server)
    assert set(found) == {"DEBIAN-TEST-0001", "DEBIAN-TEST-0004"}
    package, binaries, version = found["DEBIAN-TEST-0001"]
    assert (package, version) == ("glibc", dpkg["libc6"][2])
    expected = sorted(name for name, (_, source, _) in dpkg.items() if source == "glibc")
    assert "libc6" in binaries and binaries == expected
    # Where bash is a binNMU (Debian 12: 5.2.15-2+b8 built from 5.2.15-2), only the source
    # version is listed: the finding shows that the source version was compared.
    assert found["DEBIAN-TEST-0004"] == ("bash", ["bash"], bash_source_version)

    # The operators were alerted once; another collection changes nothing and alerts nobody.
    assert Notice.objects.filter(kind=NoticeKind.VULNERABILITY_FOUND).count() == 1
    services.collect_server(server)
    assert open_findings(server) == found
    assert Notice.objects.filter(kind=NoticeKind.VULNERABILITY_FOUND).count() == 1


@pytest.mark.req("MNT-02")
def test_an_openssl_advisory_names_libssl3(setup, server):
    dpkg = dpkg_sources()
    if "libssl3" not in dpkg:
        pytest.skip("libssl3 is not installed on this machine")
    feeds.import_records(
        [record("DSA-TEST-1", "openssl", [{"introduced": "0"}, {"fixed": "99:0"}])],
        source="test",
    )
    services.collect_server(server)
    package, binaries, version = open_findings(server)["DSA-TEST-1"]
    assert package == "openssl" and version == dpkg["libssl3"][2]
    assert "libssl3" in binaries
    assert Finding.objects.get(server=server).fixed_version == "99:0"


@pytest.mark.req("MNT-02")
def test_a_collection_matches_the_sites_plugins_against_the_wordpress_feed(setup, server, settings):
    from mamori.advisories import wordpress
    from tests.advisories.wordfence import FEED, KEY, FeedServer

    feed = FeedServer(FEED)
    try:
        settings.MAMORI_WORDPRESS_FEED_URL, settings.MAMORI_WORDPRESS_FEED_KEY = feed.url, KEY
        wordpress.refresh()
    finally:
        feed.stop()
    services.collect_server(server)
    found = {
        (f.ecosystem, f.package, f.installed_version, f.fixed_version)
        for f in Finding.objects.open().filter(server=server)
        if f.ecosystem.startswith("WordPress")
    }
    assert found == {
        ("WordPress plugin", "contact-form-7", "5.8.4", "5.8.5"),
        ("WordPress", "wordpress", "6.4.2", "6.4.3"),
    }
