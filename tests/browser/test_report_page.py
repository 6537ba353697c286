"""The monthly report's page in Chromium (RPT-01) on a 360 px phone, in Japanese and English: an
operator reviewing the draft of a month with every section, and the client's own user reading
it in the portal once released; nothing is wider than the screen and the page is in one
language. Screenshots: test-artifacts/report-page-360-<who>-<language>.png."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.reports import services
from tests.browser.phone import other_language, overflow, shoot, sign_in_as
from tests.reports.conftest import NOVEMBER, maintained, scripted, tokyo  # noqa: F401
from tests.reports.scenario import everything  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("RPT-01"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

HEADINGS = {
    "ja": ("2026年11月 月次報告書", "稼働率", "証明書", "バックアップと復元テスト", "お知らせ"),
    "en": (
        "Monthly report for November 2026",
        "Availability",
        "Certificates",
        "Backups and restore drills",
        "Announcements",
    ),
}

# The client's own data on the page (names it gave its things), neither language's UI.
DATA = (
    "株式会社アクメ",
    "利用規約の改定",
    "Revised terms of service",
    "www down",
    "OS updates",
    "Add a contact form",
    "Website SLA",
    "PHP upgrade",
    "www files",
)


def open_report(page, live_server, user, report, language: str) -> str:
    user.language = language
    user.save()
    sign_in_as(page.context, live_server, user)
    page.set_viewport_size({"width": 360, "height": 900})
    url = live_server.url + reverse("report_detail", args=[report.pk]) + f"?lang={language}"
    assert page.goto(url).status == 200
    return page.locator("main").inner_text()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_operator_reviews_the_draft_on_a_phone(
    language,
    everything,  # noqa: F811
    operator,
    live_server,
    page,
):
    report = services.build_report(everything["client"], NOVEMBER, actor=operator)
    text = open_report(page, live_server, operator, report, language)
    for heading in HEADINGS[language]:
        assert heading in text
    assert overflow(page) == []
    assert other_language(page, language, data=DATA) == []
    shoot(page, f"report-page-360-operator-{language}")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_clients_user_reads_it_in_the_portal_on_a_phone(
    language,
    everything,  # noqa: F811
    operator,
    owner,
    live_server,
    page,
):
    report = services.build_report(everything["client"], NOVEMBER, actor=operator)
    services.release(report, actor=operator)
    text = open_report(page, live_server, owner, report, language)
    for heading in HEADINGS[language]:
        assert heading in text
    # The client reads its report, not the review buttons.
    assert page.locator("form[action*='release']").count() == 0
    assert overflow(page) == []
    assert other_language(page, language, data=DATA) == []
    shoot(page, f"report-page-360-client-{language}")
