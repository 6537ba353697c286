"""One's own API tokens on the account page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from mamori.core.models import ApiToken
from mamori.core.tokens import authenticate_token, create_token

pytestmark = pytest.mark.req("ACC-01")


def test_it_creates_a_token_shown_once(client, member):
    client.force_login(member)
    response = client.post(reverse("token_create"), {"name": "backup script"})
    assert response.status_code == 200
    value = re.search(r'id="token-value">(mamori_[^<]+)<', response.content.decode()).group(1)
    assert authenticate_token(value) == member
    page = client.get(reverse("account_security")).content.decode()
    assert "backup script" in page
    assert value not in page


def test_it_revokes_only_the_users_own_tokens(client, member, owner):
    mine, _ = create_token(member, "mine")
    theirs, value = create_token(owner, "theirs")
    client.force_login(member)
    assert client.post(reverse("token_revoke", args=[theirs.pk])).status_code == 404
    assert authenticate_token(value) == owner
    assert client.post(reverse("token_revoke", args=[mine.pk])).status_code == 302
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
