"""A reveal's purpose must say something (VLT-02, issue 13): one made only of invisible
characters is refused on the page and in the API, and the purpose is recorded normalised."""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.vault import services
from tests.vault.conftest import CANARY, KEYSTORE_DB

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401

pytestmark = [KEYSTORE_DB, pytest.mark.req("VLT-02")]

INVISIBLE = [
    "\u200b",  # zero-width space (Cf)
    "\u200b\u200c\u200d\u2060\ufeff",  # joiners, word joiner, BOM (Cf)
    "\u3000\u200b\u00a0",  # spaces (Zs) around a zero-width space
    "\x1f\x7f\t\n",  # controls (Cc)
    "\u202e\u200f",  # direction marks (Cf)
]


@pytest.fixture
def secret(scene, operator):
    return services.store_secret(
        scene.acme, kind="admin_login", name="WordPress admin", value=CANARY, actor=operator
    )


def reveal_api(client, user, secret, purpose: str):
    return client.post(
        f"/api/v1/vault/secrets/{secret.pk}/reveal",
        json.dumps({"purpose": purpose}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {create_token(user, 'test')[1]}"},
    )


@pytest.mark.parametrize("purpose", INVISIBLE)
def test_the_api_refuses_a_purpose_that_shows_nothing(secret, subcontractor, client, purpose):
    response = reveal_api(client, subcontractor, secret, purpose)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "payload", "purpose"]]
    assert CANARY not in response.content.decode()
    assert not AuditEvent.objects.filter(action="secret.reveal").exists()


@pytest.mark.parametrize("purpose", INVISIBLE)
def test_the_page_refuses_a_purpose_that_shows_nothing(secret, subcontractor, client, purpose):
    client.force_login(subcontractor)
    response = client.post(
        reverse("secret_reveal", args=[secret.pk]), {"purpose": purpose}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert CANARY not in page
    assert 'id="field-purpose"' in page and "has-error" in page
    assert not AuditEvent.objects.filter(action="secret.reveal").exists()


def test_the_purpose_is_recorded_in_nfkc_without_invisible_ends(secret, subcontractor, client):
    response = reveal_api(client, subcontractor, secret, "\u200b\u3000ＤＮＳ\u3000移管\u200b\n")
    assert response.status_code == 200
    assert response.json()["value"] == CANARY
    assert AuditEvent.objects.get(action="secret.reveal").changes == {"purpose": "DNS 移管"}
