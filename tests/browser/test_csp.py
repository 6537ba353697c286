"""The Content-Security-Policy holds on every page, and the pages still work under it (security
review, issue 13): no inline script, event handler or style is refused, htmx adds no style of its
own, and the API docs load from Mamori itself."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.monitoring import incidents
from mamori.monitoring.models import Check, MaintenanceWindow
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.conftest import PASSWORD
from tests.web.cases_offboarding import destroyed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(databases="__all__", transaction=True)]

# Recorded in the page before any of its own scripts run.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched(page):
    """The page, with every CSP violation it reports (events and console messages) collected."""
    console: list[str] = []
    page.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.add_init_script(WATCH_VIOLATIONS)

    def violations() -> list[str]:
        return console + page.evaluate("window.__csp || []")

    page.violations = violations
    return page


def sign_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + reverse("dashboard"))


@pytest.fixture
def monitored(scene, operator):
    check = Check.objects.create(
        client=scene.acme, name="shop", kind="http", settings={"url": "https://shop.example/"}
    )
    incident = incidents.open_manual(
        scene.acme, operator, "shop.acme.example down", started_at=timezone.now(), notify=False
    )
    starts = timezone.now() + dt.timedelta(days=2)
    MaintenanceWindow.objects.create(
        client=scene.acme,
        title="Patching",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
    )
    secret = vault.store_secret(
        scene.acme,
        kind=SecretKind.ADMIN_LOGIN,
        name="WordPress admin",
        value="hunter2-canary",
        actor=operator,
    )
    destroyed(scene.acme)  # a certificate of destruction certifies a destruction
    return {"check": check, "incident": incident, "secret": secret}


def test_the_main_pages_break_no_rule_of_the_policy(
    scene, monitored, provider_admin, live_server, watched, screenshot
):
    sign_in(watched, live_server, "padmin")
    pages = {
        "dashboard": reverse("dashboard"),
        "clients": reverse("client_list"),
        "client": scene.acme.get_absolute_url(),
        "certificates": reverse("certificate_list"),
        "certificate": scene.expiring_cert.get_absolute_url(),
        "endpoints": reverse("endpoint_list"),
        "endpoint": scene.problem_endpoint.get_absolute_url(),
        "endpoint-form": reverse("endpoint_add"),
        "import": reverse("inventory_import"),
        "notices": reverse("notice_list"),
        "vault": reverse("vault_list"),
        "secret": reverse("secret_detail", args=[monitored["secret"].pk]),
        "monitoring": reverse("monitoring_overview"),
        "checks": reverse("check_list"),
        "check": reverse("check_detail", args=[monitored["check"].pk]),
        "check-form": reverse("check_edit", args=[monitored["check"].pk]),
        "incidents": reverse("incident_list"),
        "incident": reverse("incident_detail", args=[monitored["incident"].pk]),
        "incident-report": reverse("incident_report", args=[monitored["incident"].pk]),
        "maintenance": reverse("maintenance_calendar"),
        "sla": reverse("sla_table"),
        "renewals": reverse("managed_list"),
        "tasks": reverse("task_list"),
        "users": reverse("user_list"),
        "account": reverse("account_security"),
        "enrol": reverse("totp_enrol"),
        "audit": reverse("audit_list"),
        "offboarding": reverse("client_offboarding", args=["acme"]),
        "destruction-certificate": reverse("client_destruction_certificate", args=["acme"]),
        "api-docs": "/api/v1/docs",
    }
    for name, path in pages.items():
        response = watched.goto(live_server.url + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        watched.wait_for_load_state("networkidle")
        assert watched.violations() == [], name
    screenshot("csp-api-docs")
    # The API docs are Swagger UI, served by Mamori itself (the machine may be offline).
    assert watched.locator(".swagger-ui .info .title").inner_text().startswith("Mamori API")
    watched.goto(live_server.url + "/no-such-page/")
    watched.wait_for_load_state("networkidle")
    assert watched.violations() == []


def test_its_scripts_still_work_under_the_policy(
    scene, monitored, provider_admin, live_server, watched, screenshot
):
    provider_admin.assigned_clients.add(scene.acme)  # who may read acme's secrets
    sign_in(watched, live_server, "padmin")
    # The check form shows only the settings of the kind chosen.
    watched.goto(live_server.url + reverse("check_edit", args=[monitored["check"].pk]))
    assert watched.locator("#settings-http").is_visible()
    assert not watched.locator("#settings-tcp").is_visible()
    watched.select_option("#id_kind", "tcp")
    assert watched.locator("#settings-tcp").is_visible()
    assert not watched.locator("#settings-http").is_visible()

    # A filter list reloads as soon as a filter changes.
    watched.goto(live_server.url + reverse("check_list"))
    with watched.expect_navigation():
        watched.select_option("#id_client", "acme")
    assert "client=acme" in watched.url

    # A revealed secret (swapped in by htmx) hides itself with the button.
    watched.goto(live_server.url + reverse("secret_detail", args=[monitored["secret"].pk]))
    purpose = watched.locator("#reveal-box [name=purpose]")
    if purpose.evaluate("e => e.tagName") == "SELECT":
        purpose.select_option(index=1)
    else:
        purpose.fill("Checking the login for the client")
    watched.click("#reveal-box button[type=submit]")
    watched.locator("#secret-value").wait_for()
    assert watched.locator("#secret-value").inner_text() == "hunter2-canary"
    screenshot("csp-secret-revealed")
    watched.click("#secret-hide")
    assert watched.locator("#secret-value").count() == 0
    assert watched.locator("#reveal-box p.muted").is_visible()

    # Cancelling a maintenance window asks first; answered no, nothing is cancelled.
    watched.goto(live_server.url + reverse("maintenance_calendar"))
    cancel = watched.locator("form[data-confirm] button[type=submit]").first
    questions: list[str] = []
    watched.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    cancel.click()
    watched.wait_for_load_state("networkidle")
    assert questions and "このメンテナンス枠を中止しますか" in questions[0]
    window = MaintenanceWindow.objects.get()
    assert window.cancelled_at is None
    watched.once("dialog", lambda d: d.accept())
    with watched.expect_navigation():
        cancel.click()
    window.refresh_from_db()
    assert window.cancelled_at is not None

    # The htmx indicator styles come from mamori.css, not from a style htmx injects.
    assert watched.evaluate("htmx.config.includeIndicatorStyles") is False
    assert watched.violations() == []
