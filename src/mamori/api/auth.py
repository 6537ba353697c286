"""Who is calling the API: a bearer token (scripts), or the signed-in browser session.

The session needs the CSRF token on unsafe methods, exactly as the web pages do; a bearer
token does not, since a browser never sends one by itself.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import translation
from ninja.security import HttpBearer, SessionAuth

from mamori.api.errors import forbidden
from mamori.core.models import User
from mamori.core.tokens import authenticate_token


class BearerToken(HttpBearer):
    """``Authorization: Bearer mamori_…``, checked against the hashed API tokens."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = authenticate_token(token.strip())
        if user is not None:
            # Downstream code (audit trail, scoping) reads request.user like for a session, and
            # messages speak the user's language as the pages do.
            request.user = user
            translation.activate(user.preferred_language())
            request.LANGUAGE_CODE = translation.get_language()
        return user


class Session(SessionAuth):
    """The browser's Django session; inactive users have none."""

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


def require_edit(user: User) -> None:
    """Client viewers may read but not change anything (403)."""
    if not user.can_edit:
        raise forbidden()


AUTH = [BearerToken(), Session()]
