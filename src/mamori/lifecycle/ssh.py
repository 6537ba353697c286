"""Files and commands on a managed server over SSH (asyncssh), for deployments (CERT-09) and for
HTTP-01 webroots on the server (CERT-06).

The server's host key is pinned: a server that presents another key is refused before anything
is sent (:class:`HostKeyMismatch`). The login comes from the vault: an SSH private key
(``SecretKind.SSH_KEY``) or a password (any other kind); its value is never logged or put in an
error message.

    async with ssh.session(host, port, user, secret, host_key) as remote:
        await remote.write_file("/etc/ssl/site.key", key_pem, mode=0o600, owner="root")
        status, output = await remote.run("systemctl reload nginx")

Synchronous callers (Django code) use :func:`sync_session`, which runs the same session on a
private event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import secrets
import shlex
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncssh

CONNECT_TIMEOUT = 20.0


class SSHError(Exception):
    """The server could not be reached, refused the login, or an operation on it failed."""


class HostKeyMismatch(SSHError):
    """The server did not present the pinned host key: nothing was sent to it."""


def parse_host_key(host_key: str) -> asyncssh.SSHKey:
    """The public key in a known_hosts line (``host[,host] ssh-ed25519 AAAA... [comment]``) or
    a bare public key line (``ssh-ed25519 AAAA...``). Raises ValueError if there is none."""
    for line in (host_key or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if fields[0].startswith("@"):  # @cert-authority / @revoked markers: not a pinned key
            continue
        # A known_hosts line starts with the host patterns; a public key line with its type.
        for start in range(min(2, len(fields))):
            try:
                return asyncssh.import_public_key(" ".join(fields[start : start + 2]))
            except (asyncssh.KeyImportError, ValueError):
                continue
    raise ValueError("no SSH public host key found (expected e.g. 'ssh-ed25519 AAAA...')")


class Login:
    """A credential already read from the vault (asyncssh options); never printed."""

    def __init__(self, options: dict[str, Any]):
        self.options = options

    def __repr__(self) -> str:
        return "Login(<hidden>)"


def resolve_login(credential: Any) -> Login:
    """Read ``credential`` (a vault Secret, or private key bytes) into a :class:`Login`. Does
    database work: call it from synchronous code (``session`` does it for you, through
    ``sync_to_async``, when given a Secret)."""
    if isinstance(credential, Login):
        return credential
    return Login(_login(credential))


def _login(credential: Any) -> dict[str, Any]:
    """asyncssh connection options for ``credential``: a vault Secret, or (for tests and
    internal callers) private key bytes."""
    if credential is None:
        raise SSHError("no SSH credential is configured")
    if isinstance(credential, bytes | str):
        value, is_key = (credential.encode() if isinstance(credential, str) else credential), True
    else:
        from mamori.vault import services as vault
        from mamori.vault.models import SecretKind

        value = vault.decrypt_for_export(credential)
        is_key = credential.kind in (SecretKind.SSH_KEY, SecretKind.PRIVATE_KEY)
    if is_key:
        try:
            key = asyncssh.import_private_key(value)
        except (asyncssh.KeyImportError, ValueError):
            # Never include the value in the message.
            raise SSHError("the SSH credential is not a usable private key") from None
        return {"client_keys": [key], "password": None, "preferred_auth": "publickey"}
    return {
        "client_keys": None,
        "password": value.decode(errors="replace"),
        "preferred_auth": "keyboard-interactive,password",
    }


class RemoteSession:
    """An open SSH connection with SFTP: what deployments and webroot challenges need."""

    def __init__(self, conn: asyncssh.SSHClientConnection, sftp: asyncssh.SFTPClient, label: str):
        self.conn = conn
        self.sftp = sftp
        self.label = label

    async def write_file(
        self,
        path: str,
        data: bytes,
        mode: int = 0o644,
        owner: str | None = None,
        group: str | None = None,
    ) -> None:
        """Replace ``path`` atomically: write a temporary file in the same directory, set its
        mode and owner, then rename it over ``path``."""
        directory, name = posixpath.split(path)
        temp = posixpath.join(directory, f".{name}.mamori-{secrets.token_hex(6)}.tmp")
        try:
            async with self.sftp.open(temp, "wb", asyncssh.SFTPAttrs(permissions=0o600)) as f:
                await f.write(data)
            await self.sftp.chmod(temp, mode)
            if owner or group:
                spec = (owner or "") + (f":{group}" if group else "")
                status, output = await self.run(f"chown {shlex.quote(spec)} {shlex.quote(temp)}")
                if status != 0:
                    raise SSHError(f"chown {spec} failed on {self.label}: {output.strip()[:500]}")
            await self.sftp.posix_rename(temp, path)
        except asyncssh.SFTPError as exc:
            with contextlib.suppress(asyncssh.SFTPError):
                await self.sftp.remove(temp)
            raise SSHError(f"cannot write {path} on {self.label}: {exc.reason}") from None
        except BaseException:
            with contextlib.suppress(Exception):
                await self.sftp.remove(temp)
            raise

    async def read_file(self, path: str, limit: int = -1) -> bytes | None:
        """The content of ``path`` (its first ``limit`` bytes if given), or None if it does
        not exist."""
        try:
            async with self.sftp.open(path, "rb") as f:
                return await f.read(limit)
        except asyncssh.SFTPNoSuchFile:
            return None
        except asyncssh.SFTPError as exc:
            raise SSHError(f"cannot read {path} on {self.label}: {exc.reason}") from None

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of ``path`` from byte ``offset`` (fewer at its end)."""
        try:
            async with self.sftp.open(path, "rb") as f:
                await f.seek(offset)
                return await f.read(length)
        except asyncssh.SFTPError as exc:
            raise SSHError(f"cannot read {path} on {self.label}: {exc.reason}") from None

    async def listdir(self, path: str) -> list[tuple[str, bool]] | None:
        """The entries of directory ``path`` as (name, is a directory), sorted by name, without
        ``.`` and ``..``; None if it does not exist. Symbolic links are not followed."""
        try:
            entries = await self.sftp.readdir(path)
        except asyncssh.SFTPNoSuchFile:
            return None
        except asyncssh.SFTPError as exc:
            raise SSHError(f"cannot list {path} on {self.label}: {exc.reason}") from None
        found = [
            (str(e.filename), e.attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY)
            for e in entries
            if str(e.filename) not in (".", "..")
        ]
        return sorted(found)

    async def exists(self, path: str) -> bool:
        try:
            return await self.sftp.exists(path)
        except asyncssh.SFTPError as exc:
            raise SSHError(f"cannot inspect {path} on {self.label}: {exc.reason}") from None

    async def stat(self, path: str) -> asyncssh.SFTPAttrs | None:
        """The attributes of ``path`` (mode, uid, gid), or None if it does not exist."""
        try:
            return await self.sftp.stat(path)
        except asyncssh.SFTPNoSuchFile:
            return None
        except asyncssh.SFTPError as exc:
            raise SSHError(f"cannot inspect {path} on {self.label}: {exc.reason}") from None

    async def rename(self, source: str, destination: str) -> None:
        """Rename ``source`` over ``destination`` (replacing it atomically)."""
        try:
            await self.sftp.posix_rename(source, destination)
        except asyncssh.SFTPError as exc:
            raise SSHError(
                f"cannot rename {source} to {destination} on {self.label}: {exc.reason}"
            ) from None

    async def remove(self, path: str) -> None:
        """Remove ``path``; a missing file is fine."""
        try:
            await self.sftp.remove(path)
        except asyncssh.SFTPNoSuchFile:
            return
        except asyncssh.SFTPError as exc:
            raise SSHError(f"cannot remove {path} on {self.label}: {exc.reason}") from None

    async def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents (existing is fine)."""
        try:
            await self.sftp.makedirs(path, exist_ok=True)
        except asyncssh.SFTPError as exc:
            raise SSHError(f"cannot create {path} on {self.label}: {exc.reason}") from None

    async def run(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """Run ``command`` in the login shell; returns (exit status, stdout and stderr).
        A command still running after ``timeout`` seconds counts as failed (status -1)."""
        try:
            result = await self.conn.run(
                command, check=False, timeout=timeout, stderr=asyncssh.STDOUT
            )
        except asyncssh.TimeoutError as exc:
            output = exc.stdout if isinstance(exc.stdout, str) else ""
            return -1, f"{output}\n(timed out after {timeout:g} s)".strip()
        except (asyncssh.Error, OSError) as exc:
            raise SSHError(f"cannot run a command on {self.label}: {exc}") from None
        output = result.stdout if isinstance(result.stdout, str) else ""
        status = result.exit_status if result.exit_status is not None else -1
        if result.exit_signal:
            output += f"\n(killed by signal {result.exit_signal[0]})"
        return status, output

    async def execute(
        self, command: str, timeout: float = 60, input: str | None = None
    ) -> tuple[int, str, str]:
        """Like :meth:`run`, with stdout and stderr apart: (exit status, stdout, stderr), for
        commands whose output is data (JSON lines) and whose errors are text. ``input`` is
        written to the command's stdin. Timed out: status -1, a note appended to stderr."""
        try:
            result = await self.conn.run(command, check=False, timeout=timeout, input=input)
        except asyncssh.TimeoutError as exc:
            out = exc.stdout if isinstance(exc.stdout, str) else ""
            err = exc.stderr if isinstance(exc.stderr, str) else ""
            return -1, out, f"{err}\n(timed out after {timeout:g} s)".strip()
        except (asyncssh.Error, OSError) as exc:
            raise SSHError(f"cannot run a command on {self.label}: {exc}") from None
        out = result.stdout if isinstance(result.stdout, str) else ""
        err = result.stderr if isinstance(result.stderr, str) else ""
        status = result.exit_status if result.exit_status is not None else -1
        if result.exit_signal:
            err += f"\n(killed by signal {result.exit_signal[0]})"
        return status, out, err


@contextlib.asynccontextmanager
async def session(
    host: str,
    port: int,
    username: str,
    credential: Any,
    host_key: str,
    *,
    timeout: float = CONNECT_TIMEOUT,
) -> AsyncIterator[RemoteSession]:
    """Connect to ``username@host:port``, verifying the pinned ``host_key``, and open SFTP.

    Raises :class:`HostKeyMismatch` if the server presents another key, :class:`SSHError` if it
    cannot be reached or the login is refused (messages never contain the credential)."""
    label = f"{username}@{host}:{port}"
    try:
        pinned = parse_host_key(host_key)
    except ValueError as exc:
        raise SSHError(f"{label}: {exc}") from None
    if isinstance(credential, Login | bytes | str) or credential is None:
        options = resolve_login(credential).options
    else:  # a vault Secret: reading it is database work
        from asgiref.sync import sync_to_async

        options = (await sync_to_async(resolve_login)(credential)).options
    try:
        conn = await asyncio.wait_for(
            asyncssh.connect(
                host,
                port=port,
                username=username,
                known_hosts=([pinned], [], []),
                agent_path=None,
                config=[],
                **options,
            ),
            timeout,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise HostKeyMismatch(
            f"{label} did not present the pinned host key "
            f"({pinned.get_algorithm()} {pinned.get_fingerprint()}): refused, nothing was sent. "
            "If the server's key was changed on purpose, update the target's host key."
        ) from None
    except asyncssh.PermissionDenied:
        raise SSHError(f"{label} refused the login (check the user and the credential)") from None
    except TimeoutError:
        raise SSHError(f"{label}: no SSH connection within {timeout:g} s") from None
    except (asyncssh.Error, OSError) as exc:
        raise SSHError(f"cannot connect to {label}: {exc}") from None
    try:
        async with conn:
            try:
                sftp = await conn.start_sftp_client()
            except (asyncssh.Error, OSError) as exc:
                raise SSHError(f"{label}: SFTP is not available: {exc}") from None
            async with sftp:
                yield RemoteSession(conn, sftp, label)
    finally:
        conn.close()


class SyncSession:
    """:class:`RemoteSession` for synchronous code: every method runs on a private event loop."""

    def __init__(self, remote: RemoteSession, loop: asyncio.AbstractEventLoop):
        self._remote = remote
        self._loop = loop
        self.label = remote.label

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._remote, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(method(*args, **kwargs))

        return call


@contextlib.contextmanager
def sync_session(
    host: str, port: int, username: str, credential: Any, host_key: str, **kwargs: Any
) -> Iterator[SyncSession]:
    """:func:`session` for synchronous callers (not from inside a running event loop)."""
    login = resolve_login(credential)  # before the event loop: the vault is database work
    loop = asyncio.new_event_loop()
    manager = session(host, port, username, login, host_key, **kwargs)
    try:
        remote = loop.run_until_complete(manager.__aenter__())
        try:
            yield SyncSession(remote, loop)
        except BaseException as exc:
            if not loop.run_until_complete(manager.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            loop.run_until_complete(manager.__aexit__(None, None, None))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
