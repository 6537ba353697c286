"""A person signs in, sees what needs attention, switches language and checks an endpoint."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_it_shows_what_needs_attention_in_both_languages(
    scene, owner, live_server, page, screenshot
):
    page.goto(live_server.url + reverse("dashboard"))
    # Not signed in yet: the sign-in form, in the default language (Japanese).
    assert page.locator("html").get_attribute("lang") == "ja"
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + reverse("dashboard"))

    problems = page.locator("#problems")
    assert "shop.acme.example" in problems.inner_text()
    assert "ホスト名の不一致" in problems.inner_text()  # the code's label, not the code
    assert "証明書がこのホスト名に対して有効ではありません。" in problems.inner_text()
    expiring = page.locator("#expiring")
    assert "www.acme.example" in expiring.inner_text()
    assert "残り 20 日" in expiring.inner_text()
    # The stylesheet is served and applied (the header bar is dark).
    background = page.locator("header.topbar").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(28, 43, 69)"
    screenshot("dashboard-ja")

    page.click("form.langswitch button[value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert (
        "The certificate is not valid for this host name." in page.locator("#problems").inner_text()
    )
    assert "20 days left" in page.locator("#expiring").inner_text()
    screenshot("dashboard-en")
    owner.refresh_from_db()
    assert owner.language == "en"


def test_it_checks_an_endpoint_now_without_leaving_the_page(scene, owner, live_server, page):
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + reverse("dashboard"))
    page.goto(live_server.url + scene.problem_endpoint.get_absolute_url())
    page.click("#check-now button")
    page.locator("#check-now [role=status]").wait_for()
    assert "チェックを依頼しました" in page.locator("#check-now").inner_text()
    assert page.url == live_server.url + scene.problem_endpoint.get_absolute_url()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_it_renders_the_main_pages(scene, owner, live_server, page, screenshot, language):
    owner.language = language
    owner.save()
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + reverse("dashboard"))
    pages = {
        "client": scene.acme.get_absolute_url(),
        "certificate": scene.expiring_cert.get_absolute_url(),
        "endpoint": scene.problem_endpoint.get_absolute_url(),
        "endpoint-form": reverse("endpoint_add"),
        "notices": reverse("notice_list"),
    }
    for name, path in pages.items():
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert page.locator("html").get_attribute("lang") == language
        screenshot(f"{name}-{language}")


def test_it_offers_the_chosen_clients_sites_in_the_endpoint_form(
    scene, operator, live_server, page
):
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + reverse("dashboard"))
    page.goto(live_server.url + reverse("endpoint_add"))
    assert "コーポレートサイト" not in page.locator("#id_site").inner_text()
    page.select_option("#id_client", str(scene.acme.pk))
    page.wait_for_function(
        "() => document.querySelector('#id_site').innerText.includes('コーポレートサイト')"
    )
    page.fill("#id_host", "blog.acme.example")
    page.select_option("#id_site", str(scene.site.pk))
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/endpoints/*/")
    assert "blog.acme.example" in page.locator("h1").inner_text()
    assert "コーポレートサイト" in page.content()
