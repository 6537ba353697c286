"""The vault API with the keystore: create and reveal (VLT-01, VLT-02).

tests/api/test_tenancy.py covers every operation for client users and outsiders.
"""

from __future__ import annotations

import pytest

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.vault import services
from mamori.vault.models import Secret
from tests.vault.conftest import CANARY, KEYSTORE_DB

pytestmark = KEYSTORE_DB


def call(client, user, method: str, path: str, body: dict | None = None):
    token = create_token(user, "test")[1]
    return client.generic(
        method,
        f"/api/v1/vault{path}",
        "" if body is None else __import__("json").dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.req("VLT-01")
def test_it_stores_a_secret_and_answers_with_metadata_only(client, acme, operator):
    body = {"client": "acme", "kind": "api_token", "name": "Stripe", "value": CANARY}
    response = call(client, operator, "POST", "/secrets", body)
    assert response.status_code == 201, response.content
    assert CANARY not in response.content.decode()
    assert response.json()["name"] == "Stripe" and response.json()["client"] == "acme"
    secret = Secret.objects.get()
    assert services.decrypt_for_export(secret) == CANARY.encode()
    listed = call(client, operator, "GET", "/secrets")
    assert listed.json()["items"][0]["id"] == secret.pk and CANARY not in listed.content.decode()


@pytest.mark.req("VLT-02")
def test_it_reveals_with_a_purpose_to_assigned_staff_only(
    client, acme, operator, assigned_operator, owner
):
    secret = services.store_secret(acme, kind="other", name="x", value=CANARY, actor=operator)
    path = f"/secrets/{secret.pk}/reveal"
    assert call(client, operator, "POST", path, {"purpose": "check"}).status_code == 403
    assert call(client, owner, "POST", path, {"purpose": "check"}).status_code == 403
    missing = call(client, assigned_operator, "POST", path, {"purpose": " "})
    assert missing.status_code == 422 and "purpose" in missing.content.decode()
    assert call(client, assigned_operator, "POST", path, {}).status_code == 422
    assert not AuditEvent.objects.filter(action="secret.reveal").exists()
    response = call(client, assigned_operator, "POST", path, {"purpose": "DNS 移管"})
    assert response.status_code == 200
    assert response.json() == {"value": CANARY, "encoding": "text"}
    assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.get(action="secret.reveal").changes == {"purpose": "DNS 移管"}
    services.destroy_secret(secret, actor=operator, reason="done")
    gone = call(client, assigned_operator, "POST", path, {"purpose": "again"})
    assert gone.status_code == 409 and gone.json() == {"detail": "The value cannot be read."}


def test_it_answers_409_not_500_when_the_master_key_is_gone(client, acme, operator, master_keyring):
    """An unreadable vault is a documented 409 for storing a secret or a CA document, never a
    500 (issue 13: every status an operation answers is in the OpenAPI document)."""
    from tests.web.cases_lifecycle_orders import acme_order

    master_keyring.unlink()
    body = {"client": "acme", "kind": "api_token", "name": "Stripe", "value": CANARY}
    response = call(client, operator, "POST", "/secrets", body)
    assert response.status_code == 409
    assert response.json() == {"detail": "The vault is not available."}
    assert not Secret.objects.exists()
    message = {
        "direction": "received",
        "subject": "Registry extract",
        "attachments": [{"filename": "r.pdf", "content_base64": "JVBERg=="}],
    }
    response = client.post(
        f"/api/v1/orders/{acme_order().pk}/messages",
        message,
        content_type="application/json",
        headers={"Authorization": f"Bearer {create_token(operator, 'test')[1]}"},
    )
    assert response.status_code == 409
    assert not acme_order().messages.exists()
