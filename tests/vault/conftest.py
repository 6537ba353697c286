"""Fixtures of the vault tests: a master keyring of their own, and secrets of acme and globex.

Tests that touch secret values need both databases: mark them with :data:`KEYSTORE_DB`.
"""

from __future__ import annotations

import pytest

KEYSTORE_DB = pytest.mark.django_db(databases=["default", "keystore"])
CANARY = "canary-7f3a9c2e-SECRET-VALUE"


@pytest.fixture
def assigned_operator(make_user, acme):
    """An operator assigned to acme: may reveal its secrets."""
    from mamori.core.models import Role

    return make_user("assigned", Role.OPERATOR, assigned=[acme])
