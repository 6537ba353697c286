"""Sign-ins, sign-outs and failed sign-ins go to the audit trail (ACC-03).

Connected in :meth:`mamori.core.apps.CoreConfig.ready`. A failed sign-in records the user name
that was tried and the address it came from, never the password.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from mamori.core import audit
from mamori.core.models import User

LOGIN = "login"
LOGOUT = "logout"
LOGIN_FAILED = "login.failed"
# What a failed sign-in is attributed to: nobody is signed in.
ANONYMOUS = "anonymous"


def record_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    audit.record(LOGIN, user, actor=user, request=request, client_id=user.client_id)


def record_logout(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    if user is None:  # signing out without a session: nothing happened
        return
    audit.record(LOGOUT, user, actor=user, request=request, client_id=user.client_id)


def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    model = get_user_model()
    tried = str(credentials.get(model.USERNAME_FIELD, ""))[:150]
    # Attributed to the account that was tried, if there is one, so that its client's
    # administrator sees attempts on their people's accounts.
    target = None
    if tried:
        with contextlib.suppress(model.DoesNotExist):
            target = model._default_manager.get_by_natural_key(tried)
    audit.record(
        LOGIN_FAILED,
        target,
        request=request,
        actor_label=ANONYMOUS,
        client_id=target.client_id if target is not None else None,
        changes={"username": tried},
    )


def connect() -> None:
    """Connect the receivers (idempotent: each has a dispatch uid)."""
    user_logged_in.connect(record_login, dispatch_uid="mamori.audit.login")
    user_logged_out.connect(record_logout, dispatch_uid="mamori.audit.logout")
    user_login_failed.connect(record_login_failure, dispatch_uid="mamori.audit.login_failed")
