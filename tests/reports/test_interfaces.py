"""The monthly report through the CLI, the API, the pages, the schedule and retention (RPT-01)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from mamori.clients.models import Client, Contract
from mamori.core.tokens import create_token
from mamori.notices.models import Notice, NoticeKind
from mamori.reports import services
from mamori.reports.models import Report, ReportSettings, ReportState
from mamori.retention import services as retention
from tests.reports.conftest import NOVEMBER

pytestmark = pytest.mark.req("RPT-01")


def auth(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {create_token(user, 'test')[1]}"}


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_builds_releases_once_and_shows(scripted, operator, capsys):
    call_command("reports", "build", "acme", "2026-11", "--user", "operator")
    call_command("reports", "release", "acme", "2026-11", "--user", "operator")
    call_command("reports", "release", "acme", "2026-11", "--user", "operator")
    call_command("reports", "show", "acme", "2026-11")
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("v1\tsent\t2\t") and "availability" in out[-1]
    assert Notice.objects.filter(kind=NoticeKind.MONTHLY_REPORT).count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "nobody", "2026-11"], "nobody"),
        (["build", "acme", "2026-13"], "2026-13"),
        (["build", "acme", "11/2026"], "11/2026"),
        (["release", "acme", "2026-10"], "2026-10"),
        ([], "build"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(scripted, args, message):
    with pytest.raises(CommandError) as caught:
        call_command("reports", *args)
    assert caught.value.returncode == 2
    assert message in str(caught.value) and "\n" not in str(caught.value)


# --- the API --------------------------------------------------------------------------------------


def test_api_build_and_release_give_the_same_figures(scripted, operator, owner, client):
    created = client.post(
        "/api/v1/reports",
        {"client": "acme", "month": "2026-11"},
        content_type="application/json",
        **auth(operator),
    )
    assert created.status_code == 201
    body = created.json()
    report = Report.objects.get(pk=body["id"])
    assert body["figures"] == report.figures
    assert body["figures"]["sections"]["availability"]["checks"][0]["percent"] == "99.861"
    # A draft is not the client's to read.
    assert client.get(f"/api/v1/reports/{report.pk}", **auth(owner)).status_code == 404
    released = client.post(f"/api/v1/reports/{report.pk}/release", **auth(operator))
    assert released.json()["state"] == "sent" and released.json()["notices"] == 2
    again = client.post(f"/api/v1/reports/{report.pk}/release", **auth(operator))
    assert again.json()["notices"] == 2  # nothing more was queued
    assert Notice.objects.filter(kind=NoticeKind.MONTHLY_REPORT).count() == 2
    assert client.get(f"/api/v1/reports/{report.pk}", **auth(owner)).status_code == 200


def test_api_refuses_a_bad_month_precisely(scripted, operator, client):
    response = client.post(
        "/api/v1/reports",
        {"client": "acme", "month": "2026-13"},
        content_type="application/json",
        **auth(operator),
    )
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"][-1] == "month" and "2026-13" in problem["msg"]


# --- the pages ------------------------------------------------------------------------------------


def test_operator_reviews_and_releases_on_the_page(scripted, operator, owner, client):
    client.force_login(operator)
    response = client.post("/reports/build/", {"client": "acme", "month": "2026-11"})
    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/{report.pk}/"
    page = client.get(f"/reports/{report.pk}/?lang=ja").content.decode()
    assert "99.861%" in page and "<svg" in page and "リリース" not in page
    client.post(f"/reports/{report.pk}/release/")
    report.refresh_from_db()
    assert report.state == ReportState.SENT
    pdf = client.get(f"/reports/{report.pk}/en.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    # The client's own people read the released report in the portal.
    client.force_login(owner)
    assert client.get(f"/reports/{report.pk}/").status_code == 200
    assert str(report.pk) in client.get("/reports/").content.decode()


def test_a_draft_is_hidden_from_the_client(scripted, owner, client):
    report = services.build_report(scripted["client"], NOVEMBER)
    client.force_login(owner)
    assert client.get(f"/reports/{report.pk}/").status_code == 404


def test_page_refuses_a_bad_month(scripted, operator, client):
    client.force_login(operator)
    response = client.post("/reports/build/", {"client": "acme", "month": "2026/11"}, follow=True)
    assert "2026/11" in response.content.decode()
    assert not Report.objects.exists()


# --- the schedule ---------------------------------------------------------------------------------


def test_build_day_is_the_fifth_japanese_business_day(scripted):
    acme = scripted["client"]
    # December 2026: Tue 1, Wed 2, Thu 3, Fri 4, Mon 7 → the 7th.
    assert services.build_day(acme, NOVEMBER) == dt.date(2026, 12, 7)
    # January 2027: Fri 1 is New Year's Day (a holiday); Mon 11 is Coming of Age Day:
    # Mon 4, Tue 5, Wed 6, Thu 7, Fri 8 → the 8th.
    assert services.build_day(acme, dt.date(2026, 12, 1)) == dt.date(2027, 1, 8)
    # May 2027: Golden Week (Mon 3, Tue 4, Wed 5) skipped: Thu 6, Fri 7, Mon 10, Tue 11, Wed 12.
    assert services.build_day(acme, dt.date(2027, 4, 1)) == dt.date(2027, 5, 12)


def test_the_job_builds_once_on_the_day_and_releases_when_told(scripted):
    acme = scripted["client"]
    assert services.scheduled_run(dt.date(2026, 12, 4)).built == 0  # the 4th business day
    ReportSettings.objects.create(client=acme, auto_release=True)
    result = services.scheduled_run(dt.date(2026, 12, 7))
    assert (result.built, result.released) == (1, 1)
    assert services.scheduled_run(dt.date(2026, 12, 8)).built == 0
    [report] = Report.objects.all()
    assert report.state == ReportState.SENT and report.month == NOVEMBER


def test_the_job_leaves_a_draft_for_review_by_default(scripted):
    services.scheduled_run(dt.date(2026, 12, 7))
    assert Report.objects.get().state == ReportState.DRAFT
    assert not Notice.objects.filter(kind=NoticeKind.MONTHLY_REPORT).exists()


def test_a_client_without_a_contract_gets_no_report(db):
    Client.objects.create(code="none", name="None")
    assert services.scheduled_run(dt.date(2026, 12, 7)).built == 0


# --- retention ------------------------------------------------------------------------------------


def test_reports_are_a_kind_retention_purges(scripted):
    services.build_report(scripted["client"], NOVEMBER)
    assert "reports" in [k.code for k in retention.KINDS]
    Contract.objects.filter(client=scripted["client"]).update(auto_renew=False, term_months=1)
    plan = retention.client_plan(scripted["client"], dt.date(2031, 1, 1))
    assert {b.kind: b.count for b in plan.batches}["reports"] == 1
    retention.purge(dt.date(2031, 1, 1))
    assert not Report.objects.exists()
