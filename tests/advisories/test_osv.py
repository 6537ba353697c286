"""Reading OSV records and evaluating their ranges (MNT-02), per the OSV schema's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mamori.advisories import osv

pytestmark = pytest.mark.req("MNT-02")

FIXTURES = Path(__file__).parent / "osv"


def load(name: str) -> osv.Record:
    return osv.parse(json.loads((FIXTURES / name).read_text()))


def events(*pairs):
    return [{kind: value} for kind, value in pairs]


def affected(ecosystem, ranges, version, listed=()):
    return osv.verdict(ecosystem, ranges, list(listed), version)


def test_introduced_and_fixed():
    ranges = [
        {"type": "ECOSYSTEM", "events": events(("introduced", "0"), ("fixed", "3.0.13-1~deb12u1"))}
    ]
    hit = affected("Debian:12", ranges, "3.0.11-1~deb12u2")
    assert hit.affected and hit.fixed == "3.0.13-1~deb12u1"
    assert not affected("Debian:12", ranges, "3.0.13-1~deb12u1").affected  # the fix itself
    assert not affected("Debian:12", ranges, "3.0.15-1~deb12u1").affected


def test_several_introduced_fixed_pairs_and_their_fixes():
    # Two vulnerable spans: [1.0, 1.2) and [2.0, 2.3); events deliberately out of order.
    ranges = [
        {
            "type": "ECOSYSTEM",
            "events": events(
                ("fixed", "2.3"), ("introduced", "2.0"), ("fixed", "1.2"), ("introduced", "1.0")
            ),
        }
    ]
    assert not affected("PyPI", ranges, "0.9").affected
    assert affected("PyPI", ranges, "1.1").fixed == "1.2"
    assert not affected("PyPI", ranges, "1.5").affected
    assert affected("PyPI", ranges, "2.2.1").fixed == "2.3"
    assert not affected("PyPI", ranges, "2.3").affected


def test_last_affected_includes_that_version_and_names_no_fix():
    ranges = [
        {"type": "ECOSYSTEM", "events": events(("introduced", "7.0.0"), ("last_affected", "7.4.4"))}
    ]
    assert affected("Packagist", ranges, "7.4.4") == osv.Verdict(True, "")
    assert not affected("Packagist", ranges, "7.4.5").affected
    assert not affected("Packagist", ranges, "6.5.8").affected


def test_semver_range_and_listed_versions():
    ranges = [{"type": "SEMVER", "events": events(("introduced", "4.0.0"), ("fixed", "4.17.21"))}]
    assert affected("npm", ranges, "4.17.20").fixed == "4.17.21"
    assert not affected("npm", ranges, "3.10.1").affected
    assert affected("PyPI", [], "2.31.0", ["2.31.0"]).affected
    assert not affected("PyPI", [], "2.31.1", ["2.31.0"]).affected


def test_a_record_is_read_with_its_severity():
    record = load("DSA-9901-1.json")
    assert record.id == "DSA-9901-1" and record.aliases == ["CVE-2099-1001"]
    # AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H is 7.5 in CVSS 3.1: high.
    assert record.severity_score == 7.5 and record.level == "high"
    assert [(a.ecosystem, a.name) for a in record.affected] == [
        ("Debian:12", "openssl"),
        ("Debian:11", "openssl"),
    ]
    assert load("GHSA-test-lodash.json").level == "critical"  # 9.8
    moderate = load("GHSA-test-jinja.json")
    assert (moderate.database_severity, moderate.level, moderate.severity_score) == (
        "MODERATE",
        "medium",
        None,
    )
    assert load("DEBIAN-CVE-2099-2002.json").level == "unknown"
    assert load("PYSEC-withdrawn.json").withdrawn is not None


@pytest.mark.parametrize(
    "data, message",
    [
        ({"id": "X-1"}, "modified"),
        ({"modified": "2026-01-01T00:00:00Z"}, "no id"),
        ({"id": "X-2", "modified": "yesterday"}, "RFC 3339"),
        (
            {
                "id": "X-3",
                "modified": "2026-01-01T00:00:00Z",
                "affected": [
                    {"package": {"ecosystem": "PyPI", "name": "a"}, "ranges": [{"type": "X"}]}
                ],
            },
            "range type",
        ),
        ([], "JSON object"),
    ],
)
def test_bad_records_are_refused_with_the_reason(data, message):
    with pytest.raises(osv.RecordError, match=message):
        osv.parse(data)
