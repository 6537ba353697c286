"""A person sets up two-factor authentication, then signs in with a code from the app."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.req("ACC-01")]


def test_it_signs_in_with_an_authenticator_code(operator, live_server, page, screenshot):
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    page.wait_for_url(live_server.url + reverse("dashboard"))

    page.goto(live_server.url + reverse("account_security"))
    page.click(f"a[href='{reverse('totp_enrol')}']")
    page.locator(".qr svg").wait_for()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    screenshot("two-factor-enrol")
    totp = pyotp.TOTP(secret)
    page.fill("#id_code", totp.now())
    page.click(f"form[action='{reverse('totp_enrol')}'] button[type=submit]")
    assert page.locator("#recovery-codes li").count() == 10

    page.click("form.logout button")
    page.wait_for_url(live_server.url + reverse("login"))
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    page.wait_for_url(live_server.url + reverse("login_code"))
    # The code used at enrolment is spent: the app's next code is accepted within the window.
    page.fill("#id_code", totp.at(time.time() + 30))
    page.click(f"form[action='{reverse('login_code')}'] button[type=submit]")
    page.wait_for_url(live_server.url + reverse("dashboard"))
    assert "operator" in page.locator(".who").inner_text()
