"""Envelope encryption of secret values (VLT-01), on AES-256-GCM from ``cryptography``.

Each secret gets a fresh random 256-bit data key. The value is sealed with that key; the data
key is sealed ("wrapped") with a master key that never enters a database (:mod:`.keys`). Every
seal uses a fresh random 96-bit nonce and authenticated additional data (AAD) that names what
the ciphertext belongs to, so a ciphertext copied onto another row, or a wrapped key onto
another key row, fails to open instead of decrypting as someone else's secret.

Sealed format: ``VERSION (1 byte) || nonce (12 bytes) || ciphertext+tag``.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12  # NIST SP 800-38D §8.2: 96-bit random nonces; a key seals few messages.
KEY_BYTES = 32


class VaultCryptoError(Exception):
    """A sealed blob cannot be opened: wrong key, wrong AAD, or tampered/corrupt bytes."""


def new_key() -> bytes:
    """A fresh random AES-256 key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key``, bound to ``aad``."""
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, VERSION + aad)


def unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of :func:`seal`'s output; raises :class:`VaultCryptoError` if it does not
    authenticate under this key and AAD."""
    sealed = bytes(sealed)
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
        raise VaultCryptoError("not a sealed value of a known version")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, VERSION + aad)
    except InvalidTag as e:
        raise VaultCryptoError("authentication failed (wrong key, wrong row, or tampered)") from e


def value_aad(*, secret_id: int, client_id: int, key_ref: str) -> bytes:
    """AAD of a secret's value: its row, its client and its data key."""
    return f"mamori-vault|value|secret={secret_id}|client={client_id}|key={key_ref}".encode()


def wrap_aad(*, key_ref: str, master_key_id: str) -> bytes:
    """AAD of a wrapped data key: its keystore row and the master key that wraps it."""
    return f"mamori-vault|data-key|key={key_ref}|master={master_key_id}".encode()
