"""The vault item's details are a definition list, one term per row, not a run of text on one
line (issue 15)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from mamori.vault import services
from mamori.vault.models import SecretKind
from tests.vault.conftest import CANARY, KEYSTORE_DB

pytestmark = [KEYSTORE_DB, pytest.mark.req("VLT-01")]


def test_the_details_are_laid_out_as_a_definition_list(acme, operator, client):
    secret = services.store_secret(
        acme,
        kind=SecretKind.ADMIN_LOGIN,
        name="WordPress admin",
        value=CANARY,
        actor=operator,
        username="wpadmin",
        location="https://www.acme.example/wp-admin/",
    )
    client.force_login(operator)
    body = client.get(reverse("secret_detail", args=[secret.pk])).content.decode()
    details = re.search(r"<h2>[^<]*</h2>\s*<dl class=\"([^\"]*)\">(.*?)</dl>", body, re.S)
    assert details, "the details card holds a definition list"
    # ``fields``: the two-column grid (term | value), not ``status-box``, a row of flex items.
    assert details.group(1) == "fields"
    assert details.group(2).count("<dt>") == details.group(2).count("<dd") >= 5
    assert "wpadmin" in details.group(2) and CANARY not in body
