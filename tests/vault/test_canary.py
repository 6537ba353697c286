"""Secret values appear nowhere but in the deliberate reveal (VLT-01).

Unique canary values are planted as secrets (a password and a PEM private key), then every
place Mamori writes to or shows is searched for them: the pages, the API, the export, the logs
at DEBUG, an error page, the audit trail, and the raw bytes of the database files.
"""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import base64
import json
import logging

import pytest
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.vault import services
from mamori.vault.models import SecretKind
from tests.vault.conftest import KEYSTORE_DB
from tests.vault.process import mamori, prepare, python

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401

pytestmark = pytest.mark.req("VLT-01")

TEXT_CANARY = "canary-text-9d2f61a0c7"
CHANGED_CANARY = "canary-changed-51be07e3"
PEM_CANARY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCanaryPem3e8c0\n"
    "-----END PRIVATE KEY-----\n"
)
PEM_MARK = "CanaryPem3e8c0"
CANARIES = (TEXT_CANARY, CHANGED_CANARY, PEM_MARK)


def assert_no_canary(text: str | bytes, where: str) -> None:
    for canary in CANARIES:
        needle = canary.encode() if isinstance(text, bytes) else canary
        assert needle not in text, f"{canary} found in {where}"


def test_it_never_writes_a_value_to_the_database_files_or_the_export(tmp_path):
    data = prepare(tmp_path / "data")
    python(
        data,
        f"""
        import logging
        logging.getLogger().setLevel(logging.DEBUG)
        from mamori.clients.models import Client
        from mamori.core.models import User
        from mamori.vault import services
        acme = Client.objects.get(code="acme")
        ops = User.objects.get(username="ops")
        s = services.store_secret(acme, kind="server_login", name="root", value="{TEXT_CANARY}",
                                  actor=ops, username="root", location="web01.acme.example")
        services.store_private_key(acme, {PEM_CANARY!r}.encode(), actor=ops)
        assert services.reveal_secret(s, actor=ops, purpose="障害対応") == "{TEXT_CANARY}"
        services.change_secret_value(s, "{CHANGED_CANARY}", actor=ops)
        other = services.store_secret(acme, kind="other", name="gone", value="{TEXT_CANARY}",
                                      actor=ops)
        services.destroy_secret(other, actor=ops, reason="test")
        """,
    )
    logs = mamori(data, "vault", "status")
    assert_no_canary(logs.stdout + logs.stderr, "vault status")
    for fmt in ("yaml", "csv"):
        exported = mamori(data, "export", "--format", fmt)
        assert fmt == "csv" or "acme" in exported.stdout
        assert_no_canary(exported.stdout + exported.stderr, f"export {fmt}")
    files = [p for p in data.iterdir() if p.is_file()]
    assert {"mamori.sqlite3", "keystore.sqlite3"} <= {p.name for p in files}
    for path in files:
        assert_no_canary(path.read_bytes(), path.name)


@KEYSTORE_DB
def test_it_shows_a_value_only_in_the_reveal_answer(
    scene, client, assigned_operator, provider_admin, caplog, settings
):
    caplog.set_level(logging.DEBUG)
    secret = services.store_secret(
        scene.acme,
        kind=SecretKind.SERVER_LOGIN,
        name="web01 root",
        value=TEXT_CANARY,
        actor=assigned_operator,
        username="root",
        server=scene.server,
    )
    key = services.store_private_key(
        scene.acme, PEM_CANARY.encode(), actor=assigned_operator, certificate=scene.expiring_cert
    )
    services.change_secret_value(secret, CHANGED_CANARY, actor=assigned_operator)
    client.force_login(assigned_operator)

    pages = [
        reverse("dashboard"),
        reverse("client_detail", args=["acme"]),
        reverse("vault_list"),
        reverse("vault_list") + "?destroyed=on&client=acme",
        reverse("secret_detail", args=[secret.pk]),
        reverse("secret_detail", args=[key.pk]),
        reverse("secret_edit", args=[secret.pk]),
        reverse("secret_destroy", args=[key.pk]),
        reverse("certificate_detail", args=[scene.expiring_cert.fingerprint_sha256]),
        "/api/v1/vault/secrets",
        f"/api/v1/vault/secrets/{secret.pk}",
        f"/api/v1/vault/secrets/{key.pk}",
        "/api/v1/clients/acme",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_canary(response.content.decode(), url)

    revealed = client.post(
        reverse("secret_reveal", args=[secret.pk]), {"purpose": "障害対応"}, HTTP_HX_REQUEST="true"
    )
    assert CHANGED_CANARY in revealed.content.decode()
    assert "no-store" in revealed["Cache-Control"]
    api = client.post(
        f"/api/v1/vault/secrets/{key.pk}/reveal",
        {"purpose": "CSR"},
        content_type="application/json",
    )
    assert api.json()["encoding"] == "base64"
    assert base64.b64decode(api.json()["value"]) == PEM_CANARY.encode()
    after = client.get(reverse("secret_detail", args=[secret.pk])).content.decode()
    assert "障害対応" in after
    assert_no_canary(after, "the page after a reveal")
    # The audit trail's own pages, which only administrators read.
    client.force_login(provider_admin)
    for url in (reverse("audit_list"), "/api/v1/audit"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_canary(response.content.decode(), url)
    client.force_login(assigned_operator)

    # An error while the value is in memory: the error page and the log hold no value.
    settings.DEBUG = False
    client.raise_request_exception = False

    def broken(*args, **kwargs):
        raise RuntimeError("audit trail unavailable")

    original = services.audit.record
    services.audit.record = broken
    try:
        failed = client.post(reverse("secret_reveal", args=[secret.pk]), {"purpose": "x"})
    finally:
        services.audit.record = original
    assert failed.status_code == 500
    assert_no_canary(failed.content.decode(), "the error page")

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    assert caplog.records
    for record in caplog.records:
        assert_no_canary(formatter.format(record), f"log {record.name}")
    for event in AuditEvent.objects.all():
        assert_no_canary(json.dumps(event.changes, ensure_ascii=False), f"audit {event.action}")
        assert_no_canary(event.object_repr, f"audit {event.action}")
