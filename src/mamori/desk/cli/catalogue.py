"""Subcommands of ``mamori desk`` (see mamori.desk.cli)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Adds this part's subcommands (none yet)."""
