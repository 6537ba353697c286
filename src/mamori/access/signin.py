"""The half-finished sign-in between the password and the second factor.

After a correct password, a user who has an authenticator (or must set one up under the 2FA
policy) is *not* logged in: the session only remembers, for :data:`PENDING_SECONDS`, which user
passed the password step. :func:`complete` calls Django's ``login()`` once the second step is
done, so no page behind ``login_required`` can be reached in between.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model, login, user_login_failed
from django.http import HttpRequest

from mamori.access import throttle
from mamori.core.audit import source_ip
from mamori.core.models import User

PENDING_KEY = "mamori_pending_signin"
# Long enough to find the phone and type a code; short enough that a walked-away-from sign-in
# page does not stay half open.
PENDING_SECONDS = 600

CODE = "code"  # the user enters a code from the authenticator or a recovery code
ENROL = "enrol"  # the policy requires an authenticator the user does not have yet


@dataclass
class Pending:
    user: User
    backend: str
    step: str
    next_url: str


def begin(request: HttpRequest, user: User, step: str, next_url: str) -> None:
    """Remember that ``user`` passed the password step; the session stays anonymous."""
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": user.backend,
        "step": step,
        "next": next_url,
        "at": time.time(),
    }


def pending(request: HttpRequest, step: str) -> Pending | None:
    """The half-finished sign-in of this session at ``step``, or ``None`` (none, expired, or the
    user was deactivated meanwhile)."""
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict) or data.get("step") != step:
        return None
    if time.time() - float(data.get("at", 0)) > PENDING_SECONDS:
        cancel(request)
        return None
    user = get_user_model().objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None:
        cancel(request)
        return None
    return Pending(user=user, backend=data["backend"], step=step, next_url=data.get("next", ""))


def cancel(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def complete(request: HttpRequest, state: Pending) -> None:
    """Log the user in (this rotates the session key) and clear their failure count."""
    cancel(request)
    login(request, state.user, backend=state.backend)
    throttle.forget_user(state.user.get_username())


def failed(request: HttpRequest, username: str, *, count: bool = True) -> None:
    """A refused attempt: counted for throttling (unless ``count`` is false, for attempts refused
    because of the lock itself) and announced like a wrong password, through Django's
    ``user_login_failed`` signal, so the audit trail records it."""
    if count:
        throttle.record_failure(username, source_ip(request))
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
