"""Backups against real restic (Debian ``restic``): local repositories in the test's temporary
directory, SFTP repositories through the real sshd fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mamori.backups import services
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.support.env import require_binary

PASSWORD = "s3cret-repository-passphrase-7f1c"


@pytest.fixture
def restic_binary():
    return require_binary("restic", "/usr/bin/restic")


@pytest.fixture
def roots(tmp_path, settings):
    settings.MAMORI_BACKUP_ROOTS = [str(tmp_path)]
    return tmp_path


@pytest.fixture
def source(roots) -> Path:
    """A small site: three files, one of them binary, in nested directories."""
    base = roots / "www"
    (base / "html" / "img").mkdir(parents=True)
    (base / "html" / "index.html").write_text("<h1>アクメ</h1>\n", encoding="utf-8")
    (base / "html" / "img" / "logo.bin").write_bytes(os.urandom(200_000))
    (base / "wp-config.php").write_text("<?php define('DB_NAME', 'shop');\n")
    return base


@pytest.fixture
def make_job(acme, roots, restic_binary):
    def make(**fields):
        password = vault.store_secret(
            acme,
            kind=SecretKind.OTHER,
            name=f"restic {len(fields)} {os.urandom(3).hex()}",
            value=fields.pop("password", PASSWORD),
            actor=None,
        )
        values = {
            "name": "www files",
            "paths": str(roots / "www"),
            "repository": str(roots / "repo"),
            "repository_password": password,
            "run_on": "mamori",
            "keep_daily": 7,
            "drill_read_percent": 100,
        }
        values.update(fields)
        return services.create_job(acme, None, **values)

    return make
