"""ACME account page and API writes, with the keystore (CERT-06)."""

from __future__ import annotations

import pytest

from mamori.core.models import AuditEvent
from mamori.lifecycle.models import AcmeAccount
from mamori.vault import services as vault

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"])]


@pytest.mark.req("CERT-06")
def test_add_account_page_keeps_eab_key_in_vault(client, operator, acme):
    operator.assigned_clients.add(acme)
    client.force_login(operator)
    response = client.post(
        "/lifecycle/acme-accounts/add/",
        {
            "client": acme.pk,
            "name": "zerossl",
            "directory_url": "https://acme.zerossl.example/directory",
            "key_type": "ec256",
            "eab_kid": "kid-1",
            "eab_hmac_key": "c2VjcmV0LWhtYWMta2V5",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = AcmeAccount.objects.get(name="zerossl")
    assert vault.decrypt_for_export(account.eab_hmac_secret) == b"c2VjcmV0LWhtYWMta2V5"
    assert AuditEvent.objects.filter(action="acme_account.create").exists()
    page = client.get(response["Location"]).content.decode()
    assert "kid-1" in page and "c2VjcmV0LWhtYWMta2V5" not in page


@pytest.mark.req("CERT-06")
def test_api_create_and_register(client, operator, acme, pebble):
    operator.assigned_clients.add(acme)
    client.force_login(operator)
    created = client.post(
        "/api/v1/acme-accounts",
        {
            "client": "acme",
            "name": "pebble-api",
            "directory_url": pebble.directory_url,
            "ca_bundle": pebble.ca_bundle_pem,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    account_id = created.json()["id"]
    registered = client.post(f"/api/v1/acme-accounts/{account_id}/register")
    assert registered.status_code == 200, registered.content
    assert registered.json()["account_url"].startswith("https://127.0.0.1:")
    listed = client.get("/api/v1/acme-accounts").json()
    assert [a["name"] for a in listed["items"]] == ["pebble-api"]
