"""Sign-in throttling: too many failures for one user name, or from one address, lock sign-in.

Rules: 5 failures for a user name (from any address) or 20 from one address within
:data:`WINDOW` lock further attempts for :data:`LOCKOUT`, counted from the failure that reached
the limit. Wrong second-factor codes count as failures of the user name, so the code step cannot
be guessed either. Refused attempts are not counted again: an attacker hammering a locked account
cannot keep its owner out forever, and the lock ends on time.

The user name is counted whether or not such a user exists, so the answer never tells which names
exist. It is counted in its one form (:func:`mamori.core.usernames.canonical`), so ``ｔｈｒ１``,
``THR1`` and ``thr1`` share one counter, as they sign in to one account.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from mamori.access.models import LoginFailure
from mamori.core.usernames import MAX_LENGTH, canonical

USERNAME_LIMIT = 5
IP_LIMIT = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


def normalize(username: str) -> str:
    """The name the failures of ``username`` are counted under: its one form, in any width or
    case, as sign-in finds the account."""
    return canonical(username)[:MAX_LENGTH]


def _locked_until(failures: QuerySet[LoginFailure], limit: int, now: datetime) -> datetime | None:
    """When the lock set by the latest ``limit`` failures ends, or ``None`` if not locked."""
    recent = list(
        failures.filter(created_at__gt=now - WINDOW - LOCKOUT)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return None
    newest, oldest = recent[0], recent[-1]
    if newest - oldest > WINDOW:
        return None
    until = newest + LOCKOUT
    return until if until > now else None


def locked_until(username: str, ip: str | None, now: datetime | None = None) -> datetime | None:
    """When sign-in for this user name from this address is allowed again; ``None`` = now."""
    now = now or timezone.now()
    locks = [
        _locked_until(
            LoginFailure.objects.filter(username=normalize(username)), USERNAME_LIMIT, now
        )
    ]
    if ip:
        locks.append(_locked_until(LoginFailure.objects.filter(ip=ip), IP_LIMIT, now))
    return max((lock for lock in locks if lock), default=None)


def record_failure(username: str, ip: str | None) -> None:
    """Count one failure, and forget the ones too old to matter."""
    now = timezone.now()
    LoginFailure.objects.create(username=normalize(username), ip=ip or None)
    LoginFailure.objects.filter(created_at__lt=now - WINDOW - LOCKOUT).delete()


def forget_user(username: str) -> None:
    """Clear a user name's failures after a complete sign-in.

    The address's failures stay: otherwise an attacker with one valid account could reset the
    address limit between guesses at other accounts.
    """
    LoginFailure.objects.filter(username=normalize(username)).delete()
