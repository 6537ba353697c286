"""Every page works on a phone (issue 15): at 390 px nothing is wider than the screen, for
provider staff and for a client's people, in Japanese and English; the menu button opens the
menu and signing out is within reach."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.inventory.models import Endpoint
from tests.browser.phone import PHONE, overflow, shoot, sign_in_as
from tests.web.test_language import PAGES
from tests.web.test_tenancy import CASES, url_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(databases="__all__", transaction=True)]


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    return page


@pytest.fixture
def long_names(scene):
    """Real companies have long names and hosts: they must wrap or scroll, not widen the page."""
    scene.acme.name = "株式会社アクメ・ホールディングス東日本システムソリューション事業本部"
    scene.acme.save()
    Endpoint.objects.create(
        client=scene.acme,
        site=scene.site,
        host="very-long-subdomain-name-for-the-campaign-2026.shop.acme.example",
        port=8443,
    )
    return scene


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("role", ["operator", "owner", "member"])
def test_no_page_is_wider_than_a_phone(role, language, long_names, live_server, phone, request):
    scene = long_names
    user = request.getfixturevalue(role)
    user.language = language
    user.save()
    sign_in_as(phone.context, live_server, user)
    too_wide = {}
    opened = 0
    for name in PAGES:
        case = CASES[name]
        readers = case.writers if case.kind == "form" else case.readers
        if role not in readers:
            continue
        response = phone.goto(live_server.url + url_of(name, scene))
        assert response.status == 200, name
        assert phone.locator("html").get_attribute("lang") == language
        opened += 1
        if found := overflow(phone):
            too_wide[name] = found
    assert opened > 20
    assert too_wide == {}


@pytest.mark.parametrize("role", ["operator", "owner"])
def test_the_menu_button_opens_the_menu_and_sign_out_is_in_reach(
    role, scene, live_server, phone, request
):
    sign_in_as(phone.context, live_server, request.getfixturevalue(role))
    phone.goto(live_server.url + reverse("certificate_list"))
    toggle = phone.locator("button.menu-toggle")
    assert toggle.is_visible()
    assert toggle.get_attribute("aria-expanded") == "false"
    nav = phone.locator("nav.mainnav")
    assert not nav.is_visible()
    shoot(phone, f"phone-menu-closed-{role}")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert nav.is_visible()
    sign_out = phone.locator("form.logout button")
    assert sign_out.is_visible()
    box = sign_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert overflow(phone) == []
    shoot(phone, f"phone-menu-open-{role}")
    # The menu's links work, and signing out signs out.
    nav.get_by_role("link", name="ダッシュボード", exact=True).click()
    phone.wait_for_url(live_server.url + reverse("dashboard"))
    assert not phone.locator("nav.mainnav").is_visible()
    phone.locator("button.menu-toggle").click()
    phone.locator("form.logout button").click()
    phone.wait_for_url("**/login/")


def test_the_menu_is_a_bar_on_a_desk(scene, owner, live_server, page):
    sign_in_as(page.context, live_server, owner)
    page.goto(live_server.url + reverse("dashboard"))
    assert not page.locator("button.menu-toggle").is_visible()
    assert page.locator("nav.mainnav").is_visible()
    assert page.locator("form.logout button").is_visible()


def test_the_measure_sees_what_sticks_out(scene, owner, live_server, phone):
    """The width test above would pass on a blank page: it must see a wide element."""
    sign_in_as(phone.context, live_server, owner)
    phone.goto(live_server.url + reverse("dashboard"))
    assert overflow(phone) == []
    phone.evaluate(
        "() => { const d = document.createElement('div'); d.textContent = 'x';"
        " d.className = 'too-wide'; d.setAttribute('hidden', ''); d.removeAttribute('hidden');"
        " document.querySelector('main').appendChild(d); d.style.width = '600px'; }"
    )
    assert any("too-wide" in line for line in overflow(phone))


PORTAL_PAGES = {
    "dashboard": lambda s: reverse("dashboard"),
    "sites": lambda s: s.acme.get_absolute_url(),
    "certificates": lambda s: reverse("certificate_list"),
    "approvals": lambda s: reverse("managed_list"),
    "incidents": lambda s: reverse("incident_list"),
    "maintenance": lambda s: reverse("maintenance_calendar"),
    "reports": lambda s: reverse("sla_table"),
}


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("role", ["owner", "operator"])
def test_the_header_fits_a_desk_and_a_phone(role, language, scene, live_server, page, request):
    """Screenshots of the portal (and the operator's pages) at 1280 and 390 px, for a person to
    look at; on a desk every menu entry and the sign-out button are in view without scrolling."""
    user = request.getfixturevalue(role)
    user.language = language
    user.save()
    sign_in_as(page.context, live_server, user)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in PORTAL_PAGES.items():
            page.goto(live_server.url + path(scene))
            assert overflow(page) == [], name
            if width == 1280:
                for link in page.locator("nav.mainnav a").all():
                    box = link.bounding_box()
                    assert box["x"] + box["width"] <= width, link.inner_text()
                nav = page.locator("nav.mainnav")
                assert nav.evaluate("n => n.scrollWidth <= n.clientWidth"), "the menu scrolls"
            shoot(page, f"{'portal' if role == 'owner' else 'operator'}-{name}-{width}-{language}")


def test_without_scripts_the_menu_stays_open_on_a_phone(scene, owner, live_server, chromium):
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in_as(context, live_server, owner)
        page.goto(live_server.url + reverse("dashboard"))
        assert not page.locator("button.menu-toggle").is_visible()
        assert page.locator("nav.mainnav").is_visible()
        assert page.locator("form.logout button").is_visible()
        assert overflow(page) == []
    finally:
        context.close()
