"""API tokens: created once, stored hashed, checked in constant time by hash lookup."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.utils import timezone

from mamori.core.models import ApiToken, User

TOKEN_PREFIX = "mamori_"  # noqa: S105 - a marker, not a secret


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create_token(user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the plain value (never stored)."""
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=value[: len(TOKEN_PREFIX) + 4],
        token_hash=_hash(value),
        expires_at=expires_at,
    )
    return token, value


def authenticate_token(value: str) -> User | None:
    """The active user owning this token, or ``None`` for an unknown, revoked or expired one."""
    if not value or not value.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.active().select_related("user").filter(token_hash=_hash(value)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    # Record use at most once a minute so busy API clients do not write on every request.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
