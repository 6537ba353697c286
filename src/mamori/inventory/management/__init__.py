"""Helpers shared by the inventory's management commands (``import``, ``export``)."""

from mamori.core.management import EXIT_USAGE, find_user

EXIT_INVALID = 1  # the file has problems: nothing was imported

__all__ = ["EXIT_INVALID", "EXIT_USAGE", "find_user"]
