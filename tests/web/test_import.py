"""Importing an inventory file from the web: preview (dry run) first, then apply."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.inventory.models import Endpoint

GOOD = """\
clients:
  - code: acme
    endpoints:
      - {host: api.acme.example, port: 8443}
"""

BAD = """\
clients:
  - code: acme
    endpoints:
      - {host: api.acme.example, port: eighty}
"""


def upload(client, name: str, text: str):
    file = SimpleUploadedFile(name, text.encode(), content_type="application/yaml")
    return client.post(reverse("inventory_import"), {"file": file})


def digest_of(body: str) -> str:
    return re.search(r'name="digest" value="([0-9a-f]{64})"', body).group(1)


@pytest.mark.req("ACC-03")
def test_it_previews_then_applies_an_import(acme, owner, client):
    client.force_login(owner)
    preview = upload(client, "acme.yaml", GOOD)
    body = preview.content.decode()
    assert preview.status_code == 200
    assert "acme.yaml のプレビュー" in body
    assert "取り込みを実行" in body
    assert not Endpoint.objects.filter(host="api.acme.example").exists()  # a dry run only

    applied = client.post(
        reverse("inventory_import"), {"action": "apply", "digest": digest_of(body)}
    )
    assert applied.status_code == 200
    assert "acme.yaml を取り込みました。" in applied.content.decode()
    endpoint = Endpoint.objects.get(host="api.acme.example", port=8443)
    assert endpoint.client == acme
    assert AuditEvent.objects.filter(actor=owner, action__startswith="import.").exists()


def test_it_lists_the_errors_of_a_bad_file_with_their_lines(acme, owner, client):
    client.force_login(owner)
    body = upload(client, "acme.yaml", BAD).content.decode()
    assert "acme.yaml にエラーがあります" in body
    assert "acme.yaml:4:" in body
    assert 'name="action" value="apply"' not in body
    assert not Endpoint.objects.filter(host="api.acme.example").exists()


def test_it_applies_only_the_file_that_was_previewed(acme, owner, client):
    client.force_login(owner)
    upload(client, "acme.yaml", GOOD)
    response = client.post(reverse("inventory_import"), {"action": "apply", "digest": "0" * 64})
    assert response.status_code == 302
    assert not Endpoint.objects.filter(host="api.acme.example").exists()


def test_it_does_not_import_into_a_client_the_user_may_not_see(acme, globex, outsider, client):
    client.force_login(outsider)
    body = upload(client, "acme.yaml", GOOD).content.decode()
    assert "acme.yaml にエラーがあります" in body
    assert not Endpoint.objects.filter(host="api.acme.example").exists()
