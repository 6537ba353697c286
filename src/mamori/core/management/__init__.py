"""Helpers shared by Mamori's management commands."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from mamori.core.models import User

EXIT_PROBLEMS = 1  # the command ran and found problems (or refused bad content)
EXIT_USAGE = 2  # the command was called wrongly: no such file, unknown user ...


def usage(message: str) -> CommandError:
    """The error of a command called wrongly (exit status 2), on one line (raise it)."""
    return CommandError(" ".join(str(message).split("\n")), returncode=EXIT_USAGE)


def parse_day(text: str) -> dt.date:
    """A date an operator typed (YYYY-MM-DD); a usage error otherwise."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise usage(
            _("%(value)s is not a date; write it as YYYY-MM-DD, e.g. 2026-04-01.") % {"value": text}
        ) from None


def find_user(username: str | None) -> User | None:
    """The user named by ``--user``, in any width or case (``None`` without one); raises a
    usage error if there is no such user."""
    if not username:
        return None
    try:
        return User.objects.get_by_natural_key(username)
    except User.DoesNotExist:
        raise CommandError(
            _("No such user: %(name)s") % {"name": username}, returncode=EXIT_USAGE
        ) from None
