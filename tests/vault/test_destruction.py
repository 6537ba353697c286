"""Destroyed secrets stay destroyed in old database backups (VLT-03)."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from tests.vault.process import prepare, python

pytestmark = pytest.mark.req("VLT-03")

CANARY = "destroy-me-4b1d0c"


def backup(source, target) -> None:
    """A consistent copy of a SQLite database in WAL mode, as a backup tool makes it."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_it_cannot_decrypt_a_destroyed_secret_from_the_old_database_and_the_master_key(tmp_path):
    data = prepare(tmp_path / "data")
    secret_id = python(
        data,
        f"""
        from mamori.clients.models import Client
        from mamori.vault.services import store_secret
        s = store_secret(Client.objects.get(code="acme"), kind="server_login", name="root",
                         value="{CANARY}", actor=None)
        print(s.pk, s.key_ref)
        """,
    ).stdout.split()
    pk, key_ref = int(secret_id[0]), secret_id[1]
    with sqlite3.connect(data / "keystore.sqlite3") as ks:
        wrapped = ks.execute(
            "SELECT wrapped FROM vault_datakey WHERE key_ref = ?", (key_ref,)
        ).fetchone()[0]

    # The provider's backups from before the destruction: the main database and the master key.
    old = tmp_path / "old"
    old.mkdir()
    backup(data / "mamori.sqlite3", old / "mamori.sqlite3")
    shutil.copy(data / "master_key", old / "master_key")

    python(
        data,
        f"""
        from mamori.vault.models import Secret
        from mamori.vault.services import destroy_secret
        destroy_secret(Secret.objects.get(pk={pk}), actor=None, reason="contract ended")
        """,
    )
    keystore_bytes = b"".join(p.read_bytes() for p in data.glob("keystore.sqlite3*"))
    assert bytes(wrapped) not in keystore_bytes

    # Restore the old main database next to the master key and the keystore as it is now.
    shutil.copy(old / "mamori.sqlite3", data / "mamori.sqlite3")
    for leftover in data.glob("mamori.sqlite3-*"):
        leftover.unlink()
    shutil.copy(old / "master_key", data / "master_key")
    outcome = python(
        data,
        f"""
        from mamori.vault.models import Secret
        from mamori.vault.services import SecretUnavailable, decrypt_for_export
        s = Secret.objects.get(pk={pk})
        assert s.destroyed_at is None and len(bytes(s.sealed_value)) > 0  # the old row
        try:
            decrypt_for_export(s)
        except SecretUnavailable as e:
            print("unavailable:", e)
        else:
            print("DECRYPTED")
        """,
    ).stdout
    assert outcome.startswith("unavailable:") and "not in the keystore" in outcome
    assert CANARY not in outcome
