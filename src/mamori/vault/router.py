"""Keeps the vault's data keys in the ``keystore`` database and everything else out of it.

The keystore holds one table (:class:`mamori.vault.models.DataKey`); every other model lives in
``default``. Keeping the two apart is what makes destruction final: a copy of the main database
holds ciphertexts whose data keys are gone (docs/vault.md).
"""

from __future__ import annotations

from typing import Any

from django.db import models

KEYSTORE = "keystore"
KEYSTORE_MODELS = frozenset({"vault.datakey"})


def _in_keystore(model: type[models.Model] | models.Model) -> bool:
    # Through _meta, not type(): request.user arrives wrapped in a SimpleLazyObject.
    return model._meta.label_lower in KEYSTORE_MODELS


class KeystoreRouter:
    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return KEYSTORE if _in_keystore(model) else "default"

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str | None:
        return KEYSTORE if _in_keystore(model) else "default"

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool | None:
        # No foreign keys cross the two databases: a data key names its secret by key_ref.
        return _in_keystore(obj1) == _in_keystore(obj2)

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        label = f"{app_label}.{model_name}" if model_name else ""
        return (label in KEYSTORE_MODELS) == (db == KEYSTORE)
