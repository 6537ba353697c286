"""The vault's workflows: store, change, reveal, export and destroy secrets (VLT-01..03).

Every function that takes an ``actor`` checks what that user may do and writes the audit trail;
``actor=None`` means Mamori itself (an import, ACME), which the caller answers for.

Who may do what (docs/vault.md):

- *see* a secret's metadata: whoever sees its client (``Secret.objects.visible_to``);
- *manage* (add, edit, change the value, destroy): provider staff who see the client;
- *reveal* the value: provider staff **assigned** to the client (``user.assigned_clients``),
  whatever their role; provider administrators too, who must assign themselves first (which is
  on the audit trail). Client users never reveal: the provider holds their credentials for them
  under contract (000 §6), and handing one back is a return at contract end (VLT-03), not a
  page view.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mamori.clients.models import Client
from mamori.core import audit, text
from mamori.core.models import User
from mamori.core.permissions import may_change
from mamori.vault import crypto, keys
from mamori.vault.models import (
    DESTRUCTION_METHOD,
    DataKey,
    DestructionRecord,
    Secret,
    SecretKind,
    new_key_ref,
)
from mamori.vault.router import KEYSTORE

logger = logging.getLogger(__name__)

MAX_VALUE_BYTES = 64 * 1024
METADATA_FIELDS = ("username", "location", "notes", "site", "server", "certificate")


class VaultError(Exception):
    """A secret cannot be read or written; the message says why (never the value)."""


class SecretDestroyed(VaultError):
    """The secret was destroyed; its value is gone for good."""


class SecretUnavailable(VaultError):
    """The secret's data key or master key is missing, or its ciphertext does not authenticate."""


# Who may do what ------------------------------------------------------------------------------


def may_reveal(user: User | None, secret: Secret) -> bool:
    """Whether ``user`` may read the value of ``secret`` (VLT-02): of those who may change the
    client's secrets (:func:`mamori.core.permissions.may_change`), only staff assigned to it."""
    return may_change(user, secret) and user.assigned_clients.filter(pk=secret.client_id).exists()


# Keystore and sealing -------------------------------------------------------------------------


def _as_bytes(value: str | bytes) -> tuple[bytes, bool]:
    if isinstance(value, str):
        data, binary = value.encode("utf-8"), False
    elif isinstance(value, bytes | bytearray | memoryview):
        data, binary = bytes(value), True
    else:
        raise TypeError("a secret value is str or bytes")
    if not data:
        raise ValidationError({"value": _("Enter the secret value.")})
    if len(data) > MAX_VALUE_BYTES:
        raise ValidationError({"value": _("A secret value can be at most 64 KiB.")})
    return data, binary


def _new_data_key() -> tuple[str, bytes]:
    """Create and store (committed, in the keystore) a new data key; returns (key_ref, key)."""
    master = keys.load().active
    key_ref = new_key_ref()
    data_key = crypto.new_key()
    wrapped = crypto.seal(
        master.key, data_key, crypto.wrap_aad(key_ref=key_ref, master_key_id=master.id)
    )
    DataKey.objects.create(key_ref=key_ref, master_key_id=master.id, wrapped=wrapped)
    return key_ref, data_key


def _unwrap(row: DataKey) -> bytes:
    master = keys.find(row.master_key_id)
    return crypto.unseal(
        master.key,
        row.wrapped,
        crypto.wrap_aad(key_ref=row.key_ref, master_key_id=row.master_key_id),
    )


def _data_key(key_ref: str) -> bytes:
    """The unwrapped data key ``key_ref``; raises :class:`SecretUnavailable`."""
    for attempt in (1, 2):
        row = DataKey.objects.filter(key_ref=key_ref).first()
        if row is None:
            raise SecretUnavailable(f"data key {key_ref} is not in the keystore")
        try:
            return _unwrap(row)
        except keys.KeyringError as e:
            # A rotation may have re-wrapped the row and retired its old master key between our
            # read and the lookup: read the row once more.
            if attempt == 2:
                raise SecretUnavailable(str(e)) from e
        except crypto.VaultCryptoError as e:
            raise SecretUnavailable(f"data key {key_ref}: {e}") from e
    raise AssertionError("unreachable")


def _seal(secret: Secret, plaintext: bytes, binary: bool) -> str:
    """Seal ``plaintext`` under a new data key on ``secret`` (saved, with a pk); returns the
    key_ref of the data key it replaces (not yet deleted)."""
    old_ref = secret.key_ref
    key_ref, data_key = _new_data_key()
    secret.key_ref = key_ref
    secret.sealed_value = crypto.seal(
        data_key,
        plaintext,
        crypto.value_aad(secret_id=secret.pk, client_id=secret.client_id, key_ref=key_ref),
    )
    secret.is_binary = binary
    secret.value_changed_at = timezone.now()
    return old_ref


def _open(secret: Secret) -> bytes:
    if secret.destroyed_at is not None:
        raise SecretDestroyed(f"secret {secret.pk} was destroyed")
    if not secret.sealed_value:
        raise SecretUnavailable(f"secret {secret.pk} has no value")
    data_key = _data_key(secret.key_ref)
    try:
        return crypto.unseal(
            data_key,
            secret.sealed_value,
            crypto.value_aad(
                secret_id=secret.pk, client_id=secret.client_id, key_ref=secret.key_ref
            ),
        )
    except crypto.VaultCryptoError as e:
        raise SecretUnavailable(f"secret {secret.pk}: {e}") from e


def erase_data_key(key_ref: str) -> None:
    """Delete a data key from the keystore for good.

    On SQLite, ``secure_delete`` (set on every connection) zeroes the freed bytes, and a
    truncating WAL checkpoint removes the copies of the page still in the write-ahead log. On
    PostgreSQL the dead row stays on disk until VACUUM (docs/vault.md).
    """
    DataKey.objects.filter(key_ref=key_ref).delete()
    connection = connections[KEYSTORE]
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = cursor.fetchone()[0]
        if busy:
            logger.warning("keystore checkpoint was busy; erased key pages go at the next one")


# The service API ------------------------------------------------------------------------------


def _metadata_for_audit(secret: Secret) -> dict[str, Any]:
    return {
        "kind": secret.kind,
        "name": secret.name,
        "username": secret.username,
        "location": secret.location,
        # Notes are plain text but free-form: the trail says whether there are any, not what.
        "notes": bool(secret.notes.strip()),
        "site": secret.site_id,
        "server": secret.server_id,
        "certificate": secret.certificate_id,
    }


def store_secret(
    client: Client,
    *,
    kind: str,
    name: str,
    value: str | bytes,
    actor: User | None,
    request: HttpRequest | None = None,
    **metadata: Any,
) -> Secret:
    """Store a new secret of ``client`` and return it.

    ``metadata``: ``username``, ``location``, ``notes``, ``site``, ``server``, ``certificate``.
    Raises PermissionDenied if ``actor`` may not manage the client's secrets, ValidationError
    for an empty or too large value or invalid metadata, :class:`keys.KeyringError` without a
    master key.
    """
    if actor is not None and not may_change(actor, client, Secret.change_rule):
        raise PermissionDenied
    unknown = set(metadata) - set(METADATA_FIELDS)
    if unknown:
        raise TypeError(f"unknown secret fields: {sorted(unknown)}")
    plaintext, binary = _as_bytes(value)
    secret = Secret(client=client, kind=kind, name=name, created_by=actor, **metadata)
    secret.full_clean(exclude=["key_ref", "sealed_value"])
    with transaction.atomic():
        secret.save()
        _seal(secret, plaintext, binary)
        secret.save(update_fields=["key_ref", "sealed_value", "is_binary", "value_changed_at"])
        audit.record(
            "secret.create",
            secret,
            actor=actor,
            request=request,
            changes=_metadata_for_audit(secret),
        )
    return secret


def update_secret(
    secret: Secret, *, actor: User | None, request: HttpRequest | None = None, **fields: Any
) -> dict[str, list[Any]]:
    """Change a secret's metadata (``kind``, ``name`` and :data:`METADATA_FIELDS`), not its
    value; returns the audited changes. Raises PermissionDenied / ValidationError."""
    if actor is not None and not may_change(actor, secret):
        raise PermissionDenied
    if secret.destroyed_at is not None:
        raise SecretDestroyed(f"secret {secret.pk} was destroyed")
    allowed = {"kind", "name", *METADATA_FIELDS}
    if set(fields) - allowed:
        raise TypeError(f"unknown secret fields: {sorted(set(fields) - allowed)}")
    before = _metadata_for_audit(secret)
    for name, value in fields.items():
        setattr(secret, name, value)
    secret.full_clean(exclude=["key_ref", "sealed_value"])
    changes = audit.diff(before, _metadata_for_audit(secret))
    with transaction.atomic():
        secret.save()
        if changes:
            audit.record("secret.update", secret, actor=actor, request=request, changes=changes)
    return changes


def change_secret_value(
    secret: Secret, value: str | bytes, *, actor: User | None, request: HttpRequest | None = None
) -> None:
    """Replace the value, under a new data key; the old data key is erased once the change is
    committed, so the old value cannot be recovered from a database backup either.

    Raises PermissionDenied, ValidationError, :class:`SecretDestroyed`.
    """
    if actor is not None and not may_change(actor, secret):
        raise PermissionDenied
    if secret.destroyed_at is not None:
        raise SecretDestroyed(f"secret {secret.pk} was destroyed")
    plaintext, binary = _as_bytes(value)
    with transaction.atomic():
        old_ref = _seal(secret, plaintext, binary)
        secret.save(
            update_fields=["key_ref", "sealed_value", "is_binary", "value_changed_at", "updated_at"]
        )
        audit.record(
            "secret.value_change",
            secret,
            actor=actor,
            request=request,
            changes={"value_changed": True},
        )
        transaction.on_commit(lambda: erase_data_key(old_ref))


def reveal_secret(
    secret: Secret, *, actor: User, purpose: str, request: HttpRequest | None = None
) -> str | bytes:
    """The value of ``secret`` (``str`` if it was stored as text), for ``actor``.

    The audit event ``secret.reveal`` with the purpose is committed before the value is
    returned; this function therefore refuses to run inside a transaction (``durable``).
    The purpose is recorded in NFKC form without invisible characters at its ends; one with
    nothing visible in it (spaces, a zero-width space) is no purpose.
    Raises ValidationError without a purpose, PermissionDenied unless :func:`may_reveal`,
    :class:`SecretDestroyed` / :class:`SecretUnavailable` if the value cannot be read.
    """
    purpose = text.visible(purpose)
    if not purpose:
        raise ValidationError({"purpose": _("Say why you need to see this secret.")})
    if len(purpose) > 500:
        raise ValidationError({"purpose": _("Keep the purpose under 500 characters.")})
    if not may_reveal(actor, secret):
        raise PermissionDenied
    plaintext = _open(secret)
    with transaction.atomic(durable=True):
        audit.record(
            "secret.reveal", secret, actor=actor, request=request, changes={"purpose": purpose}
        )
    logger.info("secret %s of client %s revealed to %s", secret.pk, secret.client_id, actor)
    return plaintext if secret.is_binary else plaintext.decode("utf-8")


def decrypt_for_export(secret: Secret) -> bytes:
    """The value of ``secret`` as bytes, with no permission check and no audit event: for
    internal callers (the return of a client's secrets) that check and audit themselves.
    Raises :class:`SecretDestroyed` / :class:`SecretUnavailable`."""
    return _open(secret)


def destroy_secret(
    secret: Secret, *, actor: User | None, reason: str, request: HttpRequest | None = None
) -> DestructionRecord:
    """Crypto-shred ``secret``: erase its data key from the keystore and its ciphertext from the
    main database. The row stays, marked destroyed, with a :class:`DestructionRecord`.

    The data key goes first (committed at once in the keystore): if anything fails after it,
    the secret is already unreadable and destroying it again finishes the record.
    Raises ValidationError without a reason or for a destroyed secret, PermissionDenied if
    ``actor`` may not manage the client's secrets.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the secret is destroyed.")})
    if actor is not None and not may_change(actor, secret):
        raise PermissionDenied
    with transaction.atomic():
        locked = Secret.objects.select_for_update().select_related("client").get(pk=secret.pk)
        if locked.destroyed_at is not None:
            raise ValidationError(_("This secret has already been destroyed."))
        erase_data_key(locked.key_ref)
        now = timezone.now()
        label = actor.get_username() if actor else audit.SYSTEM_ACTOR
        with translation.override(settings.LANGUAGE_CODE):
            # Records are the provider's documents: written in its default language.
            description = f"{locked.get_kind_display()}: {locked.name}"
            method = str(DESTRUCTION_METHOD)
        locked.sealed_value = b""
        locked.destroyed_at = now
        locked.destroyed_by = actor
        locked.save(update_fields=["sealed_value", "destroyed_at", "destroyed_by", "updated_at"])
        record = DestructionRecord.objects.create(
            client=locked.client,
            secret=locked,
            description=description[:300],
            destroyed_at=now,
            actor=actor,
            actor_label=label[:150],
            reason=reason,
            method=method,
        )
        audit.record(
            "secret.destroy",
            locked,
            actor=actor,
            request=request,
            changes={"kind": locked.kind, "name": locked.name, "reason": reason},
        )
    secret.sealed_value, secret.destroyed_at, secret.destroyed_by = b"", now, actor
    return record


def store_private_key(
    client: Client,
    key_pem: bytes,
    *,
    actor: User | None,
    certificate: Any = None,
    name: str = "",
    request: HttpRequest | None = None,
) -> Secret:
    """Keep a certificate's private key (PEM) in the vault: nothing else in Mamori holds a key in
    plain text. Raises ValidationError if ``key_pem`` is not a PEM private key."""
    if b"-----BEGIN" not in key_pem or b"PRIVATE KEY-----" not in key_pem:
        raise ValidationError({"value": _("This is not a PEM private key.")})
    if not name:
        with translation.override(settings.LANGUAGE_CODE):
            name = (
                gettext("Private key of %(certificate)s") % {"certificate": certificate}
                if certificate is not None
                else gettext("Private key")
            )
    return store_secret(
        client,
        kind=SecretKind.PRIVATE_KEY,
        name=name[:200],
        value=bytes(key_pem),
        actor=actor,
        request=request,
        certificate=certificate,
    )
