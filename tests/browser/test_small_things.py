"""Issue 15, "smaller things found", in Chromium: an operator plans maintenance for a client's
site through the form and finds it on the calendar (a window in the past is refused, in the
reader's language); the vault item and the incident page at 1280 and 390 px."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.monitoring import incidents
from mamori.monitoring.models import Cause, Check, CheckState, Incident, MaintenanceWindow
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.browser.test_csp import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(databases="__all__", transaction=True)]

WORDS = {
    "ja": {
        "ended": "この時間帯はすでに終了しています。",
        "added": "メンテナンス枠を追加しました。",
        "title": "PHP 8.4 への更新",
    },
    "en": {
        "ended": "This window has already ended: plan work that is still ahead.",
        "added": "Maintenance window added.",
        "title": "PHP 8.4 upgrade",
    },
}


def local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.req("MON-06")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_operator_plans_maintenance_for_a_site_and_sees_it_on_the_calendar(
    scene, operator, live_server, page, screenshot, language
):
    words = WORDS[language]
    operator.language = language
    operator.save(update_fields=["language"])
    sign_in(page, live_server, operator.username)
    page.goto(live_server.url + reverse("maintenance_calendar"))
    assert page.locator("html").get_attribute("lang") == language
    page.click(f"a[href^='{reverse('maintenance_add')}']")
    page.wait_for_url(f"{live_server.url}{reverse('maintenance_add')}*")

    page.select_option("#id_client", str(scene.acme.pk))
    page.select_option("#id_site", str(scene.site.pk))
    page.fill("#id_title", words["title"])
    # First, by mistake, a window in 2020: refused at the field, in the reader's language.
    page.fill("#id_starts_at", "2020-03-01T01:00")
    page.fill("#id_ends_at", "2020-03-01T03:00")
    page.click(".form-actions button[type=submit]")
    page.wait_for_load_state()
    assert words["ended"] in page.locator("form.form").inner_text()
    assert not MaintenanceWindow.objects.exists()

    starts = (timezone.localtime() + dt.timedelta(days=9)).replace(
        hour=2, minute=0, second=0, microsecond=0
    )
    page.fill("#id_starts_at", local(starts))
    page.fill("#id_ends_at", local(starts + dt.timedelta(hours=2)))
    page.click(".form-actions button[type=submit]")
    page.wait_for_url(f"{live_server.url}{reverse('maintenance_calendar')}*")
    window = MaintenanceWindow.objects.get()
    assert (window.client, window.site, window.title) == (scene.acme, scene.site, words["title"])
    assert words["added"] in page.locator("body").inner_text()

    # On the calendar, on its day, at its time; and among the next occurrences.
    day = page.locator("table.mw-calendar td:not(.mw-out)").filter(
        has=page.locator(".mw-day", has_text=f"{starts.day}")
    )
    item = page.locator("table.mw-calendar td:not(.mw-out) .mw-item", has_text=words["title"])
    assert item.count() == 1
    assert "02:00" in item.inner_text()
    assert day.filter(has_text=words["title"]).count() == 1
    assert (
        words["title"]
        in page.locator("section.card", has=page.locator("table.table")).first.inner_text()
    )
    screenshot(f"small-maintenance-planned-{language}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.locator(".mw-item", has_text=words["title"]).count() >= 1
    screenshot(f"small-maintenance-planned-{language}-390")


@pytest.fixture
def pages(scene, operator):
    """A vault item with every detail, and an incident with its timeline."""
    operator.assigned_clients.add(scene.acme)
    secret = vault.store_secret(
        scene.acme,
        kind=SecretKind.ADMIN_LOGIN,
        name="WordPress 管理画面",
        value="hunter2-canary",
        actor=operator,
        username="wpadmin",
        location="https://www.acme.example/wp-admin/",
        notes="二段階認証はオペレーター共有端末で受信",
    )
    incident = incidents.open_manual(
        scene.acme,
        operator,
        "www.acme.example 応答なし",
        started_at=timezone.now() - dt.timedelta(hours=1),
        notify=False,
    )
    # The incident of acme's check, which is still down.
    check = Check.objects.create(
        client=scene.acme,
        site=scene.site,
        name="トップページ",
        kind="http",
        settings={"url": "https://www.acme.example/"},
        state=CheckState.DOWN,
    )
    Incident.objects.filter(pk=incident.pk).update(uptime_check=check)
    incidents.add_note(incident, operator, "nginx の設定を確認中")
    incidents.set_cause(incident, operator, Cause.HOSTING, "データセンターの電源障害")
    return {
        "vault": reverse("secret_detail", args=[secret.pk]),
        "incident": reverse("incident_detail", args=[incident.pk]),
    }


@pytest.mark.req("VLT-01")
@pytest.mark.req("MON-03")
@pytest.mark.parametrize("width", [1280, 390])
def test_the_vault_item_and_the_incident_page_at_desk_and_phone_width(
    pages, operator, live_server, page, screenshot, width
):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, operator.username)

    page.goto(live_server.url + pages["vault"])
    details = page.locator("section.card", has=page.locator("dl.fields"))
    terms, values = details.locator("dl.fields > dt"), details.locator("dl.fields > dd")
    assert terms.count() >= 5 and terms.count() == values.count()
    # One term per row: each row starts below the one before (not a run on one line).
    tops = [terms.nth(i).bounding_box()["y"] for i in range(terms.count())]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)
    card = details.bounding_box()
    for i in range(values.count()):
        box = values.nth(i).bounding_box()
        assert box["x"] + box["width"] <= card["x"] + card["width"] + 0.5
    screenshot(f"small-vault-item-{width}")

    page.goto(live_server.url + pages["incident"])
    section = page.locator("section#timeline")
    heading = section.locator("h2")
    frame, box = section.bounding_box(), heading.bounding_box()
    # The heading is inside its card, clear of its border.
    assert box["x"] >= frame["x"] + 12 and box["y"] >= frame["y"] + 8
    assert box["x"] + box["width"] <= frame["x"] + frame["width"]
    # Its check is still down: closing is disabled, and the reason is next to the button.
    assert page.locator("#close button[type=submit]").is_disabled()
    assert "監視項目がまだ停止しています。" in page.locator("#close-refusal").inner_text()
    screenshot(f"small-incident-{width}")
