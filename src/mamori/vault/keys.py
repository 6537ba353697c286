"""The master keyring: the keys that wrap every data key, kept outside every database.

Where it comes from, first match wins:

1. ``MAMORI_MASTER_KEY``: one or more base64 keys separated by commas or white space;
2. the file named by ``MAMORI_MASTER_KEY_FILE``;
3. ``$MAMORI_DATA_DIR/master_key``, which ``mamori serve`` or the first ``mamori`` command on
   the data creates (mode 0600, :func:`ensure_keyring`).

A keyring file holds one base64-encoded 32-byte key per line (``#`` starts a comment). The
first key is the *active* one and wraps new data keys; the others only unwrap, while
``mamori vault rotate-master-key`` moves their data keys to the active one. A key's id is
derived from the key itself, so an id can never be paired with the wrong key, and the keystore
records which id wraps each data key.

Processes re-read the file when it changes (checked by ``stat`` on every use), so a rotation
run from another process is picked up without a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from mamori import conf
from mamori.vault import crypto

FILE_HEADER = (
    "# Mamori vault master keyring. Keep it secret, and keep it out of database backups.\n"
    "# One base64 key per line; the first wraps new data keys, the others only unwrap\n"
    "# until `mamori vault rotate-master-key` has finished.\n"
)


class KeyringError(Exception):
    """No usable master keyring; the message says where Mamori looked (never a key)."""


@dataclass(frozen=True)
class MasterKey:
    id: str
    key: bytes = field(repr=False)

    @classmethod
    def from_bytes(cls, key: bytes) -> MasterKey:
        if len(key) != crypto.KEY_BYTES:
            raise KeyringError(f"a master key must be {crypto.KEY_BYTES} bytes, not {len(key)}")
        digest = hashlib.sha256(b"mamori-master-key-id\0" + key).hexdigest()
        return cls(id=f"mk-{digest[:16]}", key=key)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls.from_bytes(crypto.new_key())


@dataclass(frozen=True)
class Keyring:
    keys: tuple[MasterKey, ...]
    source: str

    @property
    def active(self) -> MasterKey:
        return self.keys[0]

    def get(self, key_id: str) -> MasterKey | None:
        return next((k for k in self.keys if k.id == key_id), None)

    @property
    def ids(self) -> list[str]:
        return [k.id for k in self.keys]


def parse(text: str, *, source: str) -> Keyring:
    """The keyring in ``text``; raises :class:`KeyringError` naming ``source`` if it is empty
    or holds something that is not a base64 32-byte key."""
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        entries += [e for e in re.split(r"[\s,]+", line) if e]
    if not entries:
        raise KeyringError(f"{source}: holds no master key")
    keys: list[MasterKey] = []
    for number, entry in enumerate(entries, 1):
        try:
            raw = base64.b64decode(entry, validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(f"{source}: key {number} is not base64") from None
        try:
            key = MasterKey.from_bytes(raw)
        except KeyringError as e:
            raise KeyringError(f"{source}: key {number}: {e}") from None
        if key.id not in {k.id for k in keys}:
            keys.append(key)
    return Keyring(tuple(keys), source)


def render(keys: list[MasterKey] | tuple[MasterKey, ...]) -> str:
    """The text of a keyring file holding ``keys`` (the first one active)."""
    return FILE_HEADER + "".join(base64.b64encode(k.key).decode() + "\n" for k in keys)


def keyring_file() -> Path | None:
    """The keyring file in use, or ``None`` when the keys come from ``MAMORI_MASTER_KEY``."""
    if os.environ.get("MAMORI_MASTER_KEY"):
        return None
    named = os.environ.get("MAMORI_MASTER_KEY_FILE")
    return Path(named).expanduser() if named else Path(settings.DATA_DIR) / "master_key"


_lock = threading.Lock()
_cached: tuple[tuple, Keyring] | None = None


def load(*, force: bool = False) -> Keyring:
    """The current keyring, re-read when its file or variable changed (or ``force``).

    Raises :class:`KeyringError` when there is none or it cannot be used.
    """
    global _cached
    path = keyring_file()
    if path is None:
        value = conf.env("MASTER_KEY") or ""
        signature: tuple = ("env", hashlib.sha256(value.encode()).digest())
    else:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise KeyringError(
                f"no vault master key at {path}: run `mamori serve` once to create it, or set "
                "MAMORI_MASTER_KEY_FILE"
            ) from None
        except OSError as e:
            raise KeyringError(f"{path}: cannot read the master keyring ({e.strerror})") from e
        signature = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
    with _lock:
        if not force and _cached is not None and _cached[0] == signature:
            return _cached[1]
        if path is None:
            ring = parse(value, source="MAMORI_MASTER_KEY")
        else:
            try:
                ring = parse(path.read_text(encoding="ascii"), source=str(path))
            except (OSError, UnicodeDecodeError) as e:
                raise KeyringError(f"{path}: cannot read the master keyring ({e})") from e
        _cached = (signature, ring)
        return ring


def find(key_id: str) -> MasterKey:
    """The master key with this id, re-reading the keyring once if it is not known yet (another
    process may have just rotated). Raises :class:`KeyringError` if no key has that id."""
    key = load().get(key_id)
    if key is None:
        key = load(force=True).get(key_id)
    if key is None:
        raise KeyringError(f"the master keyring has no key {key_id}")
    return key


def _write_private(path: Path, text: str, *, exclusive: bool) -> None:
    """Write ``text`` to ``path`` with mode 0600, durably: through a temporary file and a rename,
    so that a crash leaves either the old keyring or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            # link() fails if the target exists: two processes starting at once keep one key.
            os.link(tmp, path)
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def create_keyring_file(path: Path) -> bool:
    """Create ``path`` with one new master key, unless it exists. Returns whether it created it."""
    if path.exists():
        return False
    try:
        _write_private(path, render([MasterKey.generate()]), exclusive=True)
    except FileExistsError:
        return False
    return True


def write_keyring_file(path: Path, keys: list[MasterKey]) -> None:
    """Replace the keyring file with ``keys`` (the first one active)."""
    if not keys:
        raise KeyringError("refusing to write an empty keyring")
    _write_private(path, render(keys), exclusive=False)


def ensure_keyring() -> Path | None:
    """What every start of Mamori does for the vault (``mamori serve`` and, before a command
    that works on the data, ``mamori``): keep a SQLite keystore readable by its owner only, and
    create the master keyring file on first need (mode 0600) unless the keys are configured
    otherwise. Returns the file's path if it was created now, so that the caller can say so."""
    from django.db import connections

    keystore = connections["keystore"].settings_dict
    if keystore["ENGINE"].endswith("sqlite3"):
        # The keystore holds wrapped keys only, but nobody else needs to read it either.
        name = Path(keystore["NAME"])
        for file in name.parent.glob(name.name + "*"):
            file.chmod(0o600)
    path = keyring_file()
    if path is not None and create_keyring_file(path):
        return path
    return None


def created_notice(path: Path) -> str:
    """The one warning shown when :func:`ensure_keyring` created the keyring file."""
    from django.utils.translation import gettext as _

    return _(
        "Created the vault master key in %(path)s (mode 0600). Back it up apart from the "
        "database: without it no stored secret can be read."
    ) % {"path": path}
