"""It feels live (issue 15): a check added through the form shows its first result within
seconds without a reload; the dashboard shows a new incident without a reload. Screenshots of
the dashboard and the check page at 1280 and 390 px, in Japanese and English."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.monitoring.models import Check, CheckState, Incident, IncidentState
from mamori.operations import views as operations_views
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_csp import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def quiet_after(transactional_db, page):
    """Leave the live page before the test database is emptied: a poll arriving while it is
    being flushed would find its tables locked (SQLite's shared in-memory test database)."""
    yield
    page.goto("about:blank")


DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def phone_top(page, name: str) -> None:
    """What a phone shows first (the full-page screenshot is long)."""
    page.screenshot(path=str(ARTIFACTS / f"{name}-top.png"))


def no_wider_than_the_screen(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


@pytest.mark.req("MON-01")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_new_check_shows_its_first_result_without_a_reload(
    scene, operator, live_server, page, screenshot, website, language
):
    operator.language = language
    operator.save()
    page.set_viewport_size(DESK)
    sign_in(page, live_server, "operator")
    page.goto(
        live_server.url
        + reverse("check_add")
        + f"?client={scene.acme.pk}&site={scene.site.pk}&kind=http"
    )
    page.fill("#id_name", f"コーポレートサイト {language}")
    page.select_option("#id_kind", "http")
    page.fill("#id_http_url", website.url)
    page.fill("#id_http_keyword", "Welcome")
    website.delay = 4  # the first answer takes a while: the page shows it is waiting
    page.click("form[data-kind-settings] button[type=submit]")
    page.wait_for_url(live_server.url + "/monitoring/checks/*/")
    # This document stays: the result arrives by itself, not by a reload.
    page.evaluate("window.mamoriSamePage = true")
    waiting = page.locator("#recent-results .waiting").inner_text()
    assert ("数秒で結果" if language == "ja" else "within seconds") in waiting
    screenshot(f"live-check-waiting-{language}-1280")
    page.locator("#latest-result").wait_for(timeout=10_000)
    assert page.evaluate("window.mamoriSamePage === true")
    latest = page.locator("#latest-result").inner_text()
    assert ("最新の実行" in latest and "正常" in latest) if language == "ja" else "OK" in latest
    assert page.locator("#recent-results .beat-up").count() == 1
    assert website.requests >= 1
    check = Check.objects.get(name=f"コーポレートサイト {language}")
    assert check.state == CheckState.UP and check.site == scene.site
    # The 24-hour graph draws the raw result before any roll-up.
    assert page.locator("#graph-5m .mean").count() == 1
    no_wider_than_the_screen(page)
    screenshot(f"live-check-{language}-1280")
    page.set_viewport_size(PHONE)
    no_wider_than_the_screen(page)
    screenshot(f"live-check-{language}-390")
    phone_top(page, f"live-check-{language}-390")


@pytest.mark.req("MON-03")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_dashboard_shows_a_new_incident_without_a_reload(
    scene, operator, owner, live_server, page, screenshot, monkeypatch, language
):
    monkeypatch.setattr(operations_views, "POLL_SECONDS", 1)
    owner.language = operator.language = language
    owner.save()
    operator.save()
    page.set_viewport_size(DESK)
    sign_in(page, live_server, "operator")
    assert page.locator("#attention [data-kind=incident]").count() == 0
    page.evaluate("window.mamoriSamePage = true")
    now = timezone.now()
    check = Check.objects.create(
        client=scene.acme,
        name="ショップ",
        kind="http",
        settings={"url": "http://127.0.0.1:9/"},
        state=CheckState.DOWN,
        state_changed_at=now - dt.timedelta(minutes=3),
        last_run_at=now,
    )
    Incident.objects.create(
        client=scene.acme,
        uptime_check=check,
        title="ショップが応答しません",
        state=IncidentState.OPEN,
        started_at=now - dt.timedelta(minutes=3),
    )
    page.locator("#attention li.att[data-kind=incident]").wait_for(timeout=10_000)
    first = page.locator("#attention li.att").first
    assert first.get_attribute("data-kind") == "incident"  # the most urgent comes first
    assert page.evaluate("window.mamoriSamePage === true")
    assert "ショップが応答しません" in first.inner_text()
    assert page.locator("#stat-incidents .value").inner_text() == "1"
    no_wider_than_the_screen(page)
    screenshot(f"live-dashboard-operator-{language}-1280")
    page.set_viewport_size(PHONE)
    no_wider_than_the_screen(page)
    screenshot(f"live-dashboard-operator-{language}-390")
    phone_top(page, f"live-dashboard-operator-{language}-390")

    # The client's administrator: the same incident, written to the client; no provider's tools.
    page.context.clear_cookies()
    page.set_viewport_size(DESK)
    sign_in(page, live_server, "owner")
    text = page.locator("#attention").inner_text()
    assert "ショップが応答しません" in text
    assert ("現在対応中です" if language == "ja" else "We are working on it") in text
    assert page.locator(f"a[href='{reverse('inventory_import')}']").count() == 0
    no_wider_than_the_screen(page)
    screenshot(f"live-dashboard-client-{language}-1280")
    page.set_viewport_size(PHONE)
    no_wider_than_the_screen(page)
    screenshot(f"live-dashboard-client-{language}-390")
    phone_top(page, f"live-dashboard-client-{language}-390")


def test_the_dashboard_does_not_ask_while_the_tab_is_hidden(
    scene, operator, live_server, page, monkeypatch
):
    monkeypatch.setattr(operations_views, "POLL_SECONDS", 3)
    sign_in(page, live_server, "operator")
    asked: list[str] = []
    page.on(
        "request",
        lambda r: asked.append(r.url) if r.headers.get("hx-request") == "true" else None,
    )
    page.wait_for_timeout(3500)
    assert len(asked) >= 1  # visible: it asks every 3 seconds
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_timeout(500)
    asked.clear()
    page.wait_for_timeout(4000)
    assert asked == []
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_timeout(400)  # shown again: it asks at once, not at the next poll
    assert len(asked) >= 1
