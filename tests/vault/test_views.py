"""The vault pages with the keystore: add, edit, reveal and destroy for every role (VLT-01..03).

tests/web/test_tenancy.py covers who may open each page; these are the writes it cannot make
without the keystore database.
"""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.core.models import AuditEvent, Role
from mamori.vault import services
from mamori.vault.models import DataKey, Secret, SecretKind
from tests.vault.conftest import CANARY, KEYSTORE_DB

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401

pytestmark = KEYSTORE_DB
ROLES = ["owner", "member", "subcontractor", "operator", "provider_admin", "outsider"]


@pytest.fixture
def secret(scene, operator):
    return services.store_secret(
        scene.acme,
        kind=SecretKind.ADMIN_LOGIN,
        name="WordPress admin",
        value=CANARY,
        actor=operator,
        username="wpadmin",
        location="https://www.acme.example/wp-admin/",
    )


def expected_status(role: str, allowed: set[str]) -> int:
    if role == "outsider":
        return 404
    return 200 if role in allowed else 403


@pytest.mark.req("VLT-02")
@pytest.mark.parametrize("role", ROLES)
def test_it_reveals_to_assigned_staff_only_and_records_the_purpose(role, secret, client, request):
    user = request.getfixturevalue(role)
    client.force_login(user)
    url = reverse("secret_reveal", args=[secret.pk])
    response = client.post(url, {"purpose": "プラグイン更新のため"}, HTTP_HX_REQUEST="true")
    assert response.status_code == expected_status(role, {"subcontractor"})
    events = AuditEvent.objects.filter(action="secret.reveal")
    if response.status_code == 200:
        assert CANARY in response.content.decode()
        assert events.get().changes == {"purpose": "プラグイン更新のため"}
    else:
        assert not events.exists()


@pytest.mark.req("VLT-02")
def test_it_asks_for_a_purpose_before_revealing(secret, subcontractor, client):
    client.force_login(subcontractor)
    detail = client.get(reverse("secret_detail", args=[secret.pk])).content.decode()
    assert 'name="purpose"' in detail and CANARY not in detail
    response = client.post(
        reverse("secret_reveal", args=[secret.pk]), {"purpose": "  "}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert CANARY not in response.content.decode()
    assert not AuditEvent.objects.filter(action="secret.reveal").exists()


@pytest.mark.req("VLT-01")
@pytest.mark.parametrize("role", ROLES)
def test_it_lets_provider_staff_add_a_secret(role, scene, client, request):
    client.force_login(request.getfixturevalue(role))
    data = {"kind": SecretKind.API_TOKEN, "name": "Stripe", "value": CANARY, "site": scene.site.pk}
    response = client.post(reverse("secret_add", args=["acme"]), data)
    managers = {"subcontractor", "operator", "provider_admin"}
    assert response.status_code == (302 if role in managers else expected_status(role, managers))
    if response.status_code == 302:
        secret = Secret.objects.get()
        assert secret.site == scene.site
        assert services.decrypt_for_export(secret) == CANARY.encode()
    else:
        assert not Secret.objects.exists()


@pytest.mark.req("VLT-01")
def test_it_never_shows_the_old_value_when_editing_and_keeps_it_if_left_empty(
    secret, operator, client
):
    client.force_login(operator)
    url = reverse("secret_edit", args=[secret.pk])
    assert CANARY not in client.get(url).content.decode()
    data = {"kind": SecretKind.ADMIN_LOGIN, "name": "WP admin", "username": "wp", "value": ""}
    assert client.post(url, data).status_code == 302
    secret.refresh_from_db()
    assert secret.name == "WP admin"
    assert services.decrypt_for_export(secret) == CANARY.encode()
    update = AuditEvent.objects.get(action="secret.update")
    assert update.changes["name"] == ["WordPress admin", "WP admin"]
    assert client.post(url, {**data, "value": "new one"}).status_code == 302
    secret.refresh_from_db()
    assert services.decrypt_for_export(secret) == b"new one"


@pytest.mark.req("VLT-03")
@pytest.mark.parametrize("role", ROLES)
def test_it_lets_provider_staff_destroy_with_a_reason(role, secret, client, request):
    client.force_login(request.getfixturevalue(role))
    url = reverse("secret_destroy", args=[secret.pk])
    response = client.post(url, {"reason": "契約終了", "confirm": "on"})
    managers = {"subcontractor", "operator", "provider_admin"}
    assert response.status_code == (302 if role in managers else expected_status(role, managers))
    secret.refresh_from_db()
    assert secret.is_destroyed == (role in managers)
    assert DataKey.objects.filter(key_ref=secret.key_ref).exists() == (role not in managers)


@pytest.mark.req("VLT-03")
def test_it_needs_confirmation_and_a_reason_to_destroy(secret, operator, client):
    client.force_login(operator)
    url = reverse("secret_destroy", args=[secret.pk])
    assert client.post(url, {"reason": "契約終了"}).status_code == 200
    assert client.post(url, {"confirm": "on"}).status_code == 200
    secret.refresh_from_db()
    assert not secret.is_destroyed
    assert client.post(url, {"reason": "契約終了", "confirm": "on"}).status_code == 302
    page = client.get(reverse("secret_detail", args=[secret.pk])).content.decode()
    assert "契約終了" in page and 'name="purpose"' not in page


@pytest.mark.req("VLT-02")
def test_it_shows_client_users_the_history_of_reveals_but_no_reveal_form(
    secret, subcontractor, owner, client
):
    services.reveal_secret(secret, actor=subcontractor, purpose="サーバー障害対応のためSSHログイン")
    client.force_login(owner)
    page = client.get(reverse("secret_detail", args=[secret.pk])).content.decode()
    assert "サーバー障害対応のためSSHログイン" in page and "subcon" in page
    assert 'name="purpose"' not in page and CANARY not in page


def test_it_lists_only_live_secrets_unless_asked(secret, operator, client, make_user, scene):
    services.destroy_secret(secret, actor=operator, reason="test")
    client.force_login(make_user("boss", Role.PROVIDER_ADMIN))
    assert "WordPress admin" not in client.get(reverse("vault_list")).content.decode()
    page = client.get(reverse("vault_list") + "?destroyed=on").content.decode()
    assert "WordPress admin" in page
