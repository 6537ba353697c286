"""Running Mamori in subprocesses against a data directory of files, as in production: the
tests that look at database files' bytes, or kill a process halfway, need real files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PRELUDE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
import django
django.setup()
"""


def env_for(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "MAMORI_DATA_DIR": str(data_dir)}
    for name in (
        "MAMORI_DATABASE_URL",
        "MAMORI_KEYSTORE_URL",
        "MAMORI_MASTER_KEY",
        "MAMORI_MASTER_KEY_FILE",
        "DJANGO_SETTINGS_MODULE",
    ):
        env.pop(name, None)
    return env


def mamori(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "mamori", *args],
        env=env_for(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def python(data_dir: Path, code: str, *, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Django process on ``data_dir``."""
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        env=env_for(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def prepare(data_dir: Path) -> Path:
    """A migrated data directory with a master keyring, as `mamori serve` leaves it."""
    mamori(data_dir, "migrate", "-v0")
    mamori(data_dir, "migrate", "--database", "keystore", "-v0")
    python(
        data_dir,
        """
        from mamori.vault import keys
        assert keys.create_keyring_file(keys.keyring_file())
        from mamori.clients.models import Client
        from mamori.core.models import Role, User
        acme = Client.objects.create(code="acme", name="株式会社アクメ")
        user = User.objects.create_user("ops", role=Role.OPERATOR)
        user.assigned_clients.add(acme)
        """,
    )
    return data_dir
