"""Master key rotation survives being killed halfway (VLT-01)."""

from __future__ import annotations

import signal

import pytest

from mamori.vault import keys, rotation, services
from mamori.vault.models import DataKey, Secret, SecretKind
from tests.vault.conftest import KEYSTORE_DB
from tests.vault.process import mamori, prepare, python

pytestmark = pytest.mark.req("VLT-01")

READ_ALL = """
from mamori.vault.models import Secret
from mamori.vault.services import decrypt_for_export
for s in Secret.objects.order_by("pk"):
    print(decrypt_for_export(s).decode())
"""


def test_it_leaves_every_secret_readable_when_killed_halfway_and_finishes_on_rerun(tmp_path):
    data = prepare(tmp_path / "data")
    python(
        data,
        """
        from mamori.clients.models import Client
        from mamori.vault.services import store_secret
        acme = Client.objects.get(code="acme")
        for n in range(6):
            store_secret(acme, kind="other", name=f"s{n}", value=f"value {n}", actor=None)
        """,
    )
    expected = [f"value {n}" for n in range(6)]
    old_ring = (data / "master_key").read_text()

    killed = python(
        data,
        """
        import os, signal
        from mamori.vault.rotation import rotate_master_key
        def die(done):
            if done == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        rotate_master_key(grace_seconds=0, after_each=die)
        """,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    ring = keys.parse((data / "master_key").read_text(), source="test")
    assert len(ring.keys) == 2 and ring.keys[1] == keys.parse(old_ring, source="old").active
    counts = python(
        data,
        """
        from collections import Counter
        from mamori.vault.models import DataKey
        print(sorted(Counter(DataKey.objects.values_list("master_key_id", flat=True)).values()))
        """,
    ).stdout.strip()
    assert counts == "[3, 3]"
    assert python(data, READ_ALL).stdout.splitlines() == expected

    status = mamori(data, "vault", "status").stdout
    assert "rotation is unfinished" in status
    rerun = mamori(data, "vault", "rotate-master-key", "--grace", "0").stdout
    assert "Finished the interrupted rotation: 3 data keys re-wrapped" in rerun
    final = keys.parse((data / "master_key").read_text(), source="test")
    assert final.ids == [ring.active.id]
    assert python(data, READ_ALL).stdout.splitlines() == expected
    assert f"6 data keys wrapped by {ring.active.id}" in mamori(data, "vault", "status").stdout
    assert (data / "master_key").stat().st_mode & 0o777 == 0o600


@KEYSTORE_DB
def test_it_keeps_a_running_process_working_across_a_rotation(acme, master_keyring):
    secrets = [
        services.store_secret(acme, kind=SecretKind.OTHER, name=f"s{n}", value=f"v{n}", actor=None)
        for n in range(4)
    ]
    before = keys.load()

    class Interrupted(Exception):
        pass

    def fail_after_two(done: int) -> None:
        if done == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        rotation.rotate_master_key(grace_seconds=0, after_each=fail_after_two)
    # This process cached the old keyring; rows now name a key it has not seen yet.
    assert [services.decrypt_for_export(s) for s in secrets] == [b"v0", b"v1", b"v2", b"v3"]
    new = services.store_secret(acme, kind=SecretKind.OTHER, name="new", value="v4", actor=None)
    result = rotation.rotate_master_key(grace_seconds=0)
    assert result.resumed and result.retired_key_ids == [before.active.id]
    assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {result.new_key_id}
    assert [services.decrypt_for_export(s) for s in Secret.objects.order_by("pk")] == [
        b"v0",
        b"v1",
        b"v2",
        b"v3",
        b"v4",
    ]
    assert new.pk


def test_it_refuses_to_rotate_keys_given_in_the_environment(monkeypatch):
    monkeypatch.setenv("MAMORI_MASTER_KEY", "AAAA")
    with pytest.raises(keys.KeyringError, match="MAMORI_MASTER_KEY_FILE"):
        rotation.rotate_master_key(grace_seconds=0)
