"""An operator sets up a new client from the UI alone, in Japanese and in English: the client, a
contact, a contract, a site and an endpoint; then a check form that lists only that client's
sites and fills in the URL of the site picked. Screenshots of the client page at 1280 and 390 px."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.clients.models import Client
from mamori.core.models import AuditEvent
from mamori.inventory.models import Endpoint, Site
from tests.browser.test_csp import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.req("ACC-03"), pytest.mark.req("CT-07")]

WORDS = {
    "ja": {
        "client_added": "顧客「",
        "added": "を追加しました",
        "no_sites": "サイトは登録されていません。",
        "taken": "ホスト名 www.example.jp を取り出しました",
    },
    "en": {
        "client_added": "Client ",
        "added": "added",
        "no_sites": "No sites recorded.",
        "taken": "The host www.example.jp was taken from the URL",
    },
}


def flash(page) -> str:
    return page.locator(".messages, [role=status]").first.inner_text()


def content_fits_the_screen(page) -> None:
    """No element of the page's content reaches past the screen's right edge (the tables
    scroll inside their cards, code inside its box). The menu bar is base.html's, tested with
    it."""
    wide = page.evaluate(
        """w => Array.from(document.querySelectorAll('main.container *'))
            .filter(e => !e.parentElement.closest('.table-wrap, pre, article.doc table'))
            .filter(e => e.getBoundingClientRect().right > w + 1)
            .map(e => e.tagName + '.' + e.className).slice(0, 5)""",
        page.viewport_size["width"],
    )
    assert wide == []


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_operator_sets_up_a_client_from_the_ui(
    scene, operator, live_server, page, screenshot, language
):
    words = WORDS[language]
    operator.language = language
    operator.save(update_fields=["language"])
    code = f"initech-{language}"
    sign_in(page, live_server, "operator")

    # The client, from the clients list.
    page.goto(live_server.url + reverse("client_list"))
    screenshot(f"client-list-{language}-1366")
    page.click(f"a[href='{reverse('client_add')}']")
    page.fill("#id_code", code)
    page.fill("#id_name", "イニテック株式会社")
    page.fill("#id_representative", "代表取締役 鈴木一郎")
    page.click("form.card button.btn-primary")
    page.wait_for_url(live_server.url + reverse("client_detail", args=[code]))
    assert words["client_added"] in flash(page)
    client = Client.objects.get(code=code)

    # Every card is empty and offers to add; the sites card says so and has the button.
    sites = page.locator("#sites")
    assert words["no_sites"] in sites.inner_text()
    assert sites.locator(f"a[href='{reverse('record_add', args=[code, 'sites'])}']").count() == 2

    # A contact.
    page.click(f"#contacts header a[href='{reverse('record_add', args=[code, 'contacts'])}']")
    page.fill("#id_name", "佐藤花子")
    page.fill("#id_email", "sato@initech.example")
    page.check("#id_notify_0")
    page.click("form[data-record-form] button.btn-primary")
    page.wait_for_url(f"**/clients/{code}/**")
    assert words["added"] in flash(page)
    assert "sato@initech.example" in page.locator("#contacts").inner_text()

    # A contract: a refused value first, with the import's message at its field.
    page.click(f"#contracts header a[href='{reverse('record_add', args=[code, 'contracts'])}']")
    page.select_option("#id_type", "ssl_management")
    page.fill("#id_start", "2026-04-01")
    page.fill("#id_expiry_notice_days", "60, thirty")
    page.click("form[data-record-form] button.btn-primary")
    assert page.locator("#field-expiry_notice_days .errors").count() == 1
    page.fill("#id_expiry_notice_days", "60, 30, 14")
    page.click("form[data-record-form] button.btn-primary")
    page.wait_for_url(f"**/clients/{code}/**")
    assert client.contracts.get().expiry_notice_days == [60, 30, 14]

    # A site.
    page.click(f"#sites header a[href='{reverse('record_add', args=[code, 'sites'])}']")
    page.fill("#id_name", "コーポレートサイト")
    page.fill("#id_url", "https://www.example.jp/")
    page.click("form[data-record-form] button.btn-primary")
    page.wait_for_url(f"**/clients/{code}/**")
    assert "https://www.example.jp/" in page.locator("#sites").inner_text()
    site = Site.objects.get(client=client)

    # An endpoint: a URL pasted as the host gives its host, and the page says so.
    page.click(".pagehead .actions a.btn-primary")
    page.fill("#id_host", "https://www.example.jp/shop")
    page.click("form.card button.btn-primary")
    page.wait_for_url("**/endpoints/*/")
    assert words["taken"] in page.locator("body").inner_text()
    endpoint = Endpoint.objects.get(client=client)
    assert endpoint.host == "www.example.jp"

    # The check form lists only the chosen client's sites; picking one fills URL and name.
    page.goto(live_server.url + reverse("check_add"))
    page.select_option("#id_client", str(client.pk))
    shown = page.eval_on_selector_all(
        "#id_site option:not([hidden])[value]:not([value=''])", "os => os.map(o => o.value)"
    )
    assert shown == [str(site.pk)]
    page.select_option("#id_site", str(site.pk))
    assert page.input_value("input[name=http_url]") == "https://www.example.jp/"
    assert page.input_value("#id_name") == "コーポレートサイト"
    # Another client's sites come back when that client is chosen.
    page.select_option("#id_client", str(scene.acme.pk))
    assert page.input_value("#id_site") == ""
    assert str(scene.site.pk) in page.eval_on_selector_all(
        "#id_site option:not([hidden])", "os => os.map(o => o.value)"
    )

    actions = set(
        AuditEvent.objects.filter(actor=operator, client_id=client.pk).values_list(
            "action", flat=True
        )
    )
    assert {"client.create", "contact.create", "contract.create", "site.create"} <= actions
    assert "endpoint.create" in actions

    # The client page, looked at on a desk and on a phone.
    page.goto(live_server.url + reverse("client_detail", args=[code]))
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(f"client-records-{language}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(f"client-records-{language}-390")
    content_fits_the_screen(page)
    page.goto(live_server.url + reverse("record_add", args=[code, "contracts"]))
    screenshot(f"client-records-{language}-contract-form-390")
    content_fits_the_screen(page)
    # The import page's format document, readable on a phone too.
    page.goto(live_server.url + reverse("inventory_import"))
    page.click(f"#import-help a[href='{reverse('import_format')}']")
    assert page.locator("article.doc table").count() > 3
    page.screenshot(path=str(screenshot(f"import-format-{language}-390")), full_page=False)
    content_fits_the_screen(page)


@pytest.mark.req("ACC-01")
def test_a_client_admin_adds_a_site_on_a_phone_and_gets_no_contract_buttons(
    scene, owner, live_server, page, screenshot
):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "owner")
    page.goto(live_server.url + reverse("client_detail", args=["acme"]))
    assert page.locator("#contracts a.btn").count() == 0
    assert page.locator("#contracts .row-actions").count() == 0
    page.click("#sites header a.btn")
    page.fill("#id_name", "採用サイト")
    page.fill("#id_url", "recruit.acme.example")
    page.click("form[data-record-form] button.btn-primary")
    # The import's reading: a URL without a scheme is refused with its message.
    assert page.locator("#field-url .errors").count() == 1
    screenshot("client-records-owner-site-form-390")
    content_fits_the_screen(page)
    page.fill("#id_url", "https://recruit.acme.example/")
    page.select_option("#id_server", str(scene.server.pk))
    page.click("form[data-record-form] button.btn-primary")
    page.wait_for_url("**/clients/acme/**")
    assert "採用サイト" in page.locator("#sites").inner_text()
    assert Site.objects.get(url="https://recruit.acme.example/").server == scene.server
    assert AuditEvent.objects.filter(actor=owner, action="site.create").exists()
