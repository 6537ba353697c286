"""Master key rotation (``mamori vault rotate-master-key``).

1. A new master key is put first in the keyring file, the old ones after it: from then on every
   process wraps new data keys with the new key and can still unwrap the old ones.
2. Every data key still wrapped by an old key is re-wrapped, one per keystore transaction, so a
   kill at any moment leaves each data key wrapped by one of the keyring's keys.
3. The old keys are dropped from the keyring file.

Running it again after an interruption finishes the job: a keyring holding more than one key
means a rotation is under way, and step 2 carries on with the keys it finds there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from mamori.vault import crypto, keys
from mamori.vault.models import DataKey
from mamori.vault.router import KEYSTORE

# How long to wait after the new key is written before sweeping: a process that read the
# keyring just before the change may still be storing a data key under the old key.
DEFAULT_GRACE_SECONDS = 2.0


@dataclass
class RotationResult:
    new_key_id: str
    retired_key_ids: list[str]
    rewrapped: int
    resumed: bool


def _rewrap_one(key_ref: str, active: keys.MasterKey, old: dict[str, keys.MasterKey]) -> bool:
    """Re-wrap one data key under ``active`` in its own transaction; False if nothing to do."""
    with transaction.atomic(using=KEYSTORE):
        row = DataKey.objects.select_for_update().filter(key_ref=key_ref).first()
        if row is None or row.master_key_id == active.id:
            return False
        master = old.get(row.master_key_id) or keys.find(row.master_key_id)
        data_key = crypto.unseal(
            master.key,
            row.wrapped,
            crypto.wrap_aad(key_ref=row.key_ref, master_key_id=row.master_key_id),
        )
        row.wrapped = crypto.seal(
            active.key, data_key, crypto.wrap_aad(key_ref=row.key_ref, master_key_id=active.id)
        )
        row.master_key_id = active.id
        row.rewrapped_at = timezone.now()
        row.save(update_fields=["wrapped", "master_key_id", "rewrapped_at"])
        return True


def _rewrap_all(
    active: keys.MasterKey,
    old: dict[str, keys.MasterKey],
    after_each: Callable[[int], None] | None,
    done: int,
) -> int:
    """Re-wrap until no data key is left under another key; returns the running count."""
    while True:
        pending = list(
            DataKey.objects.exclude(master_key_id=active.id).values_list("key_ref", flat=True)
        )
        if not pending:
            return done
        for key_ref in pending:
            if _rewrap_one(key_ref, active, old):
                done += 1
                if after_each is not None:
                    after_each(done)


def rotate_master_key(
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    after_each: Callable[[int], None] | None = None,
) -> RotationResult:
    """Rotate (or finish rotating) the master key; see the module docstring.

    ``after_each(n)`` is called after the n-th data key is re-wrapped and committed.
    Raises :class:`keys.KeyringError` when the keys come from ``MAMORI_MASTER_KEY`` (there is no
    file to write), or when a data key is wrapped by a key the keyring does not hold.
    """
    path = keys.keyring_file()
    if path is None:
        raise keys.KeyringError(
            "MAMORI_MASTER_KEY is set: rotation writes the keyring, so keep it in a file "
            "(MAMORI_MASTER_KEY_FILE) instead"
        )
    ring = keys.load(force=True)
    known = set(ring.ids)
    unknown = set(
        DataKey.objects.exclude(master_key_id__in=known)
        .values_list("master_key_id", flat=True)
        .distinct()
    )
    if unknown:
        raise keys.KeyringError(
            f"data keys are wrapped by master keys missing from {path}: {sorted(unknown)}"
        )
    resumed = len(ring.keys) > 1
    if not resumed:
        keys.write_keyring_file(path, [keys.MasterKey.generate(), *ring.keys])
        ring = keys.load(force=True)
    active, old = ring.active, {k.id: k for k in ring.keys[1:]}
    if grace_seconds:
        time.sleep(grace_seconds)
    done = _rewrap_all(active, old, after_each, 0)
    keys.write_keyring_file(path, [active])
    keys.load(force=True)
    # A process that had read the old keyring just before step 1 and was slow to commit may have
    # stored a data key under an old key since: those keys are still in memory here.
    done = _rewrap_all(active, old, after_each, done)
    return RotationResult(active.id, sorted(old), done, resumed)
