"""A provider administrator sets up a target on the Mamori host in the browser: the form offers
only the commands the host allows and says where local files may lie; an operator is offered
targets over SSH only (issue 13)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.lifecycle.models import DeploymentTarget, IssuerKind, ManagedCertificate, TargetKind
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.req("CERT-09")
def test_an_administrator_adds_a_local_target_from_the_allowed_choices(
    acme, provider_admin, operator, live_server, page, screenshot, tmp_path, settings
):
    roots = tmp_path / "tls"
    roots.mkdir()
    settings.MAMORI_DEPLOY_ROOTS = [str(roots)]
    settings.MAMORI_DEPLOY_COMMANDS = ["systemctl reload nginx", "nginx -s reload"]
    managed = ManagedCertificate.objects.create(
        client=acme, name="www", names=["www.acme.example"], issuer=IssuerKind.MANUAL
    )
    add = live_server.url + reverse("deployment_target_add", args=[managed.pk])

    sign_in(page, live_server, "operator")
    page.goto(add)
    kinds = page.locator("#id_kind option").evaluate_all("os => os.map(o => o.value)")
    assert kinds == [TargetKind.SSH]

    page.context.clear_cookies()
    sign_in(page, live_server, "padmin")
    page.goto(add)
    kinds = page.locator("#id_kind option").evaluate_all("os => os.map(o => o.value)")
    assert sorted(kinds) == sorted(TargetKind.values)
    commands = page.locator("#id_reload_command option").evaluate_all("os => os.map(o => o.value)")
    assert commands == ["", "systemctl reload nginx", "nginx -s reload"]
    assert str(roots) in page.locator("form.form").inner_text()
    page.fill("#id_name", "web")
    page.select_option("#id_kind", TargetKind.LOCAL)
    page.fill("#id_fullchain_path", "/etc/ssl/www.pem")  # not under the roots
    page.fill("#id_key_path", f"{roots}/www.key")
    page.select_option("#id_reload_command", "nginx -s reload")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    # Japanese, the default language of the UI.
    assert (
        "Mamori が書き込みを許可されたディレクトリの配下ではありません"
        in page.locator("form.form").inner_text()
    )
    page.set_viewport_size({"width": 390, "height": 900})
    screenshot("deploy-target-form-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.fill("#id_fullchain_path", f"{roots}/www.pem")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    target = DeploymentTarget.objects.get(managed=managed)
    assert (target.kind, target.reload_command) == (TargetKind.LOCAL, "nginx -s reload")
    screenshot("deploy-target-added")
