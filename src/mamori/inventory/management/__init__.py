"""Helpers shared by the inventory's management commands (``import``, ``export``)."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from mamori.core.models import User

EXIT_INVALID = 1  # the file has problems: nothing was imported
EXIT_USAGE = 2  # the command was called wrongly: no such file, unknown user ...


def find_user(username: str | None) -> User | None:
    """The user named by ``--user`` (``None`` without one); raises a usage error if there is
    no such user."""
    if not username:
        return None
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise CommandError(
            _("No such user: %(name)s") % {"name": username}, returncode=EXIT_USAGE
        ) from None
