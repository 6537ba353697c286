"""Fixtures of the desk's tests. Each part of the desk keeps its own helpers in
``tests/desk/<part>_support.py``; only what every part needs goes here."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.support.env import require_binary


@pytest.fixture
def dovecot(settings):
    """A real IMAP server (dovecot) on loopback with an empty desk mailbox, configured as
    Mamori's desk mailbox."""
    from tests.support.dovecot import Dovecot

    binary = require_binary("dovecot", "/usr/sbin/dovecot")
    # Its own directory under /tmp: dovecot's unprivileged processes must reach it, which
    # pytest's private tmp_path does not allow.
    directory = tempfile.mkdtemp(prefix="mamori-dovecot-")
    server = Dovecot(directory, binary=binary).start()
    settings.MAMORI_DESK_IMAP_URL = server.url
    settings.MAMORI_DESK_IMAP_PASSWORD = server.password
    settings.MAMORI_DESK_ADDRESS = server.user
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
