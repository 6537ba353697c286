"""Envelope encryption and the master keyring (VLT-01)."""

from __future__ import annotations

import base64

import pytest

from mamori.vault import crypto, keys

pytestmark = pytest.mark.req("VLT-01")


def test_it_opens_what_it_sealed_and_uses_a_fresh_nonce_each_time():
    key = crypto.new_key()
    first = crypto.seal(key, b"hunter2", b"row 1")
    second = crypto.seal(key, b"hunter2", b"row 1")
    assert first != second
    assert crypto.unseal(key, first, b"row 1") == b"hunter2"
    assert crypto.unseal(key, second, b"row 1") == b"hunter2"


def test_it_refuses_a_ciphertext_moved_to_another_row():
    key = crypto.new_key()
    aad_a = crypto.value_aad(secret_id=1, client_id=1, key_ref="k")
    aad_b = crypto.value_aad(secret_id=2, client_id=1, key_ref="k")
    aad_c = crypto.value_aad(secret_id=1, client_id=2, key_ref="k")
    sealed = crypto.seal(key, b"value", aad_a)
    for other in (aad_b, aad_c):
        with pytest.raises(crypto.VaultCryptoError):
            crypto.unseal(key, sealed, other)


def test_it_refuses_tampered_bytes_and_the_wrong_key():
    key = crypto.new_key()
    sealed = bytearray(crypto.seal(key, b"value", b"aad"))
    with pytest.raises(crypto.VaultCryptoError):
        crypto.unseal(crypto.new_key(), bytes(sealed), b"aad")
    sealed[-1] ^= 1
    with pytest.raises(crypto.VaultCryptoError):
        crypto.unseal(key, bytes(sealed), b"aad")


def test_it_reads_a_keyring_with_several_keys_the_first_active():
    a, b = keys.MasterKey.generate(), keys.MasterKey.generate()
    ring = keys.parse(keys.render([a, b]), source="test")
    assert ring.active == a
    assert ring.get(b.id) == b
    assert a.id != b.id and a.id.startswith("mk-")
    bare = keys.parse(
        f"{base64.b64encode(a.key).decode()}, {base64.b64encode(b.key).decode()}", source="env"
    )
    assert bare.ids == [a.id, b.id]


@pytest.mark.parametrize(
    "text", ["", "# only a comment\n", "not base64!", base64.b64encode(b"short").decode()]
)
def test_it_rejects_an_unusable_keyring_without_showing_it(text):
    with pytest.raises(keys.KeyringError) as error:
        keys.parse(text, source="the-file")
    assert "the-file" in str(error.value)
    assert text.strip() == "" or text not in str(error.value) or text.startswith("#")


def test_it_creates_the_keyring_file_once_with_private_permissions(tmp_path):
    path = tmp_path / "sub" / "master_key"
    assert keys.create_keyring_file(path)
    content = path.read_text()
    assert not keys.create_keyring_file(path)
    assert path.read_text() == content
    assert path.stat().st_mode & 0o777 == 0o600


def test_it_prefers_the_variable_over_the_file(monkeypatch):
    key = keys.MasterKey.generate()
    monkeypatch.setenv("MAMORI_MASTER_KEY", base64.b64encode(key.key).decode())
    assert keys.keyring_file() is None
    assert keys.load().active == key
