"""Keys derived from ``SECRET_KEY`` for what the access app must not store in the clear.

The TOTP secrets are encrypted with AES-256-GCM under a key derived with HKDF-SHA256 (RFC 5869)
from ``SECRET_KEY``, so a copy of the database alone does not let anyone compute a user's codes.
This deliberately does not depend on the vault (:mod:`mamori.vault`): signing in must keep working
whatever state the vault is in. The consequence: changing ``SECRET_KEY`` makes every enrolled
authenticator and recovery code unusable, and users must enrol again (docs/access.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_VERSION = "v1"
_NONCE_BYTES = 12  # NIST SP 800-38D: 96-bit nonces, random per message


class DecryptionError(Exception):
    """The stored value cannot be decrypted (a changed SECRET_KEY, or a tampered row)."""


def derive_key(purpose: str) -> bytes:
    """A 256-bit key for ``purpose``; distinct purposes give independent keys (RFC 5869 §3.2)."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"mamori access {purpose} {_VERSION}".encode(),
    ).derive(settings.SECRET_KEY.encode())


def encrypt(plain: str, *, purpose: str, bind: str) -> str:
    """Encrypt ``plain``; ``bind`` (e.g. the owner's id) is authenticated with it, so a value
    copied to another row does not decrypt there."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(derive_key(purpose)).encrypt(nonce, plain.encode(), bind.encode())
    return f"{_VERSION}:" + base64.b64encode(nonce + sealed).decode()


def decrypt(stored: str, *, purpose: str, bind: str) -> str:
    """The plain value of :func:`encrypt`'s output; raises :class:`DecryptionError`."""
    version, _sep, payload = stored.partition(":")
    if version != _VERSION:
        raise DecryptionError(f"unknown format {version!r}")
    try:
        raw = base64.b64decode(payload, validate=True)
        plain = AESGCM(derive_key(purpose)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bind.encode()
        )
    except (InvalidTag, ValueError) as e:
        raise DecryptionError("cannot decrypt") from e
    return plain.decode()


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of ``value``: a database copy alone cannot be searched by brute force."""
    return hmac.new(derive_key(purpose), value.encode(), hashlib.sha256).hexdigest()
