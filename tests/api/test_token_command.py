"""``mamori token create|list|revoke``."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from mamori.core.models import ApiToken, AuditEvent
from mamori.core.tokens import authenticate_token


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    with translation.override("en"):  # the run's language; these tests read English
        call_command("token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_creates_a_token_and_prints_it_once(owner):
    out, err = run("create", "owner", "--name", "monitoring", "--expires-days", "30")
    value = out.strip()
    assert value.startswith("mamori_")
    assert authenticate_token(value) == owner
    token = ApiToken.objects.get(user=owner)
    assert token.name == "monitoring"
    assert token.expires_at - timezone.now() > dt.timedelta(days=29)
    assert value not in err
    assert "not shown again" in err
    assert value not in run("list", "owner")[0]
    assert AuditEvent.objects.filter(action="api_token.create").exists()


def test_it_lists_tokens_with_their_state(owner):
    run("create", "owner", "--name", "first")
    run("create", "owner", "--name", "second")
    ApiToken.objects.filter(name="first").update(revoked_at=timezone.now())
    out, _ = run("list", "owner")
    lines = out.splitlines()
    assert lines[0].startswith("PREFIX")
    assert any("first" in line and line.endswith("revoked") for line in lines)
    assert any("second" in line and line.endswith("active") for line in lines)


def test_it_revokes_a_token_by_prefix(owner):
    value = run("create", "owner")[0].strip()
    prefix = ApiToken.objects.get(user=owner).prefix
    out, _ = run("revoke", prefix)
    assert "Revoked" in out
    assert authenticate_token(value) is None
    assert AuditEvent.objects.filter(action="api_token.revoke").exists()


def test_it_explains_mistakes(owner):
    with pytest.raises(CommandError, match="no user named"):
        run("create", "nobody")
    with pytest.raises(CommandError, match="no active token"):
        run("revoke", "mamori_zzzz")
    with pytest.raises(CommandError, match="at least 1"):
        run("create", "owner", "--expires-days", "0")
