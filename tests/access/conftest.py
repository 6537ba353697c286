"""Fixtures of the access tests: fast passwords, a helper to enrol an authenticator, and codes."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.urls import reverse

from mamori.access import services
from mamori.core.models import User
from tests.conftest import PASSWORD
from tests.web.conftest import fast_password_hashing  # noqa: F401


def code_at(secret: str, offset_steps: int = 0) -> str:
    """The authenticator's code ``offset_steps`` time steps from now."""
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


@pytest.fixture
def enrol():
    """Give a user an active authenticator; returns its secret and the recovery codes.

    Confirming uses the current step's code, so a sign-in right after must use a later step's
    code (``code_at(secret, 1)``): the current one is spent.
    """

    def enrol_user(user: User) -> tuple[str, list[str]]:
        _row, secret = services.begin_enrolment(user)
        codes = services.confirm_enrolment(user, code_at(secret))
        assert codes is not None
        return secret, codes

    return enrol_user


@pytest.fixture
def sign_in(client):
    """Post the password step; returns the response."""

    def post(username: str, password: str = PASSWORD, **extra):
        return client.post(reverse("login"), {"username": username, "password": password}, **extra)

    return post
