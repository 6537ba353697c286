"""The certificates, backups, updates and announcements of the report (RPT-01): known answers
counted from the scenario's text (tests/reports/scenario.py), and the same figures as the API
shows for the same month (one source of truth)."""

from __future__ import annotations

import datetime as dt

import pytest

from mamori.announcements import services as announcements
from mamori.core.tokens import create_token
from mamori.reports import build
from tests.reports.conftest import NOVEMBER, jst
from tests.reports.scenario import everything  # noqa: F401 - a fixture

pytestmark = [pytest.mark.req("RPT-01"), pytest.mark.django_db(databases="__all__")]

START, END = jst(11, 1), jst(12, 1)


def in_november(text: str | None) -> bool:
    return (
        text is not None and START <= dt.datetime.fromisoformat(text.replace("Z", "+00:00")) < END
    )


@pytest.fixture
def api(client, operator):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_token(operator, 'test')[1]}"}

    def get(path: str) -> list | dict:
        response = client.get(path, **auth)
        assert response.status_code == 200, response.content
        body = response.json()
        return body["items"] if isinstance(body, dict) and "items" in body else body

    return get


@pytest.fixture
def sections(everything):  # noqa: F811
    return build.build(everything["client"], NOVEMBER)["sections"]


def test_every_section_is_present(sections):
    assert set(sections) == set(build.SECTIONS)


# --- certificates ---------------------------------------------------------------------------------


def test_certificates_known_answers(sections):
    c = sections["certificates"]
    # Served when they expired in November: www, and mail (replaced after it expired); old was
    # replaced before it expired, shop is December's.
    assert [(e["name"], e["not_after"]) for e in c["expiring"]] == [
        ("www.acme.example", jst(11, 25, 10).isoformat()),
        ("mail.acme.example", jst(11, 28, 9).isoformat()),
    ]
    assert [(o["name"], o["purpose"], o["at"]) for o in c["issued"]] == [
        ("www", "renew", jst(11, 18, 9).isoformat())
    ]
    assert [(d["name"], d["at"]) for d in c["installed"]] == [("www", jst(11, 18, 12).isoformat())]
    assert [(r["name"], r["reason"]) for r in c["revoked"]] == [("old.acme.example", 1)]
    assert [(a["state"], a["at"]) for a in c["approvals_decided"]] == [
        ("used", jst(11, 17, 15).isoformat())
    ]
    assert [(a["name"], a["since"]) for a in c["approvals_awaited"]] == [
        ("mail", jst(11, 25).isoformat()),
        ("www", jst(11, 28).isoformat()),
    ]
    assert [e["name"] for e in sections["next_month"]["expiring"]] == ["shop.acme.example"]


def test_certificates_equal_the_api(sections, api):
    c = sections["certificates"]
    # The API lists the certificates the client's endpoints served; the report's are among
    # them with the same expiry.
    served = {x["subject_cn"]: x["not_after"] for x in api("/api/v1/certificates?client=acme")}
    for e in c["expiring"]:
        assert dt.datetime.fromisoformat(served[e["name"]].replace("Z", "+00:00")) == (
            dt.datetime.fromisoformat(e["not_after"])
        )
    orders = api("/api/v1/clients/acme/orders")
    issued = [o for o in orders if o["state"] == "issued" and in_november(o["finished_at"])]
    assert [o["order"] for o in c["issued"]] == [o["id"] for o in issued]
    deployments = api("/api/v1/deployments")
    done = [d for d in deployments if d["state"] == "succeeded" and in_november(d["finished_at"])]
    assert [d["deployment"] for d in c["installed"]] == [d["id"] for d in done]
    revocations = api("/api/v1/clients/acme/revocations")
    revoked = [r for r in revocations if r["state"] == "done" and in_november(r["done_at"])]
    assert [r["revocation"] for r in c["revoked"]] == [r["id"] for r in revoked]
    approvals = api("/api/v1/approvals?client=acme")
    decided = sorted(a["id"] for a in approvals if in_november(a["decided_at"]))
    assert sorted(a["approval"] for a in c["approvals_decided"]) == decided
    awaited = [
        a["id"]
        for a in approvals
        if in_november(a["requested_at"])
        and not in_november(a["decided_at"] or None)
        and (a["state"] == "requested" or a["decided_at"])
    ]
    assert sorted(a["approval"] for a in c["approvals_awaited"]) == sorted(awaited)


# --- backups and drills ---------------------------------------------------------------------------


def test_backups_known_answers(sections):
    [job] = sections["backups"]["jobs"]
    assert job["name"] == "www files"
    # 30 at 02:00 (2 failed) + the one started at 00:10 on 1 Nov; the one due on 30 Nov that
    # started on 1 Dec is December's; the one due on the 15th never started.
    assert job["backup"] == {"failed": 2, "missed": 1, "succeeded": 29}
    assert job["drill"] == {"succeeded": 1}


def test_backups_equal_the_api(sections, api, everything):  # noqa: F811
    runs = api(f"/api/v1/backup-runs?job={everything['job'].pk}")
    counted: dict[str, dict[str, int]] = {"backup": {}, "drill": {}}
    for run in runs:
        # The backups page puts a run on the day it started, a missed one on the day it was due.
        when = run["started_at"] or run["due_at"]
        if run["kind"] in counted and in_november(when):
            counted[run["kind"]][run["state"]] = counted[run["kind"]].get(run["state"], 0) + 1
    [job] = sections["backups"]["jobs"]
    assert (job["backup"], job["drill"]) == (counted["backup"], counted["drill"])


def test_a_run_is_counted_in_one_month_only(everything):  # noqa: F811
    december = build.build(everything["client"], dt.date(2026, 12, 1))["sections"]
    [job] = december["backups"]["jobs"]
    assert job["backup"] == {"succeeded": 1}


# --- updates and findings -------------------------------------------------------------------------


def test_updates_known_answers(sections):
    u = sections["updates"]
    assert [
        (r["package"], r["from_version"], r["to_version"], r["advisories"]) for r in u["updates"]
    ] == [("nginx", "1.24.0", "1.26.2", 2)]
    assert u["findings_opened"] == {"high": 1, "medium": 1}
    assert u["findings_closed"] == {"high": 1}
    assert u["findings_open_at_end"] == {"critical": 1, "medium": 1}
    assert [r["package"] for r in sections["next_month"]["updates"]] == ["openssl"]


def test_updates_equal_the_api(sections, api, everything):  # noqa: F811
    u = sections["updates"]
    done = [
        r["id"]
        for r in api("/api/v1/updates?client=acme")
        if r["state"] in ("done", "succeeded") and in_november(r["performed_at"])
    ]
    assert sorted(r["update"] for r in u["updates"]) == sorted(done)
    findings = api(f"/api/v1/servers/{everything['server'].pk}/findings?closed=true")
    opened: dict[str, int] = {}
    closed: dict[str, int] = {}
    for f in findings:
        if in_november(f["opened_at"]):
            opened[f["level"]] = opened.get(f["level"], 0) + 1
        if in_november(f["closed_at"]):
            closed[f["level"]] = closed.get(f["level"], 0) + 1
    assert (u["findings_opened"], u["findings_closed"]) == (opened, closed)


# --- announcements --------------------------------------------------------------------------------


def test_announcements_known_answers_and_the_service(sections, everything):  # noqa: F811
    [row] = sections["announcements"]["announcements"]
    assert (row["kind"], row["effective_on"], row["subject_en"], row["subject_ja"]) == (
        "terms_change",
        "2027-01-01",
        "Revised terms of service",
        "利用規約の改定",
    )
    assert row["notified_at"] == jst(11, 10, 10).isoformat()
    told = announcements.sent_for(everything["client"], NOVEMBER)
    assert [r["announcement"] for r in sections["announcements"]["announcements"]] == [
        t["id"] for t in told
    ]


def test_announcements_equal_the_api(sections, api):
    listed = api("/api/v1/announcements")
    ids = [a["id"] for a in listed if a["state"] == "sent" and in_november(a["sent_at"])]
    assert [r["announcement"] for r in sections["announcements"]["announcements"]] == ids
