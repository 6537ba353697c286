"""Run a real OpenSSH server on loopback for SSH tests (deployments, HTTP-01 over SSH).

``/usr/sbin/sshd -D -e -f <config>`` on ``127.0.0.1:<free port>``, with its own generated
ed25519 host key, and an authorised client key generated for the test: everything lives in the
given directory, nothing is read from ``/etc/ssh``. The login user is the one running the tests
(root in the test container: ``PermitRootLogin prohibit-password`` allows it by key only).

Example::

    with Sshd(tmp_path) as server:
        server.host, server.port, server.username
        server.host_key          # "ssh-ed25519 AAAA..." (pin this)
        server.client_key_pem    # OpenSSH private key, bytes (store it in the vault)

No pytest in here.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import asyncssh

from tests.support.nginx import free_port

DEFAULT_BINARY = "/usr/sbin/sshd"


class SshdError(RuntimeError):
    """sshd could not be started."""


def _host_key_pair(directory: Path, name: str) -> tuple[Path, str]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = directory / name
    path.write_bytes(key.export_private_key("openssh"))
    path.chmod(0o600)
    public = key.export_public_key("openssh").decode().strip()
    (directory / f"{name}.pub").write_text(public + "\n")
    return path, public


class Sshd:
    """A private sshd rooted in ``directory`` (created if missing)."""

    def __init__(self, directory: str | os.PathLike[str], *, binary: str = DEFAULT_BINARY) -> None:
        self.dir = Path(directory).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = 0
        self.username = getpass.getuser()
        self.host_key_path, self.host_key = _host_key_pair(self.dir, "ssh_host_ed25519_key")
        client = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_pem: bytes = client.export_private_key("openssh")
        self.client_public_key = client.export_public_key("openssh").decode().strip()
        self.authorized_keys = self.dir / "authorized_keys"
        self.authorized_keys.write_text(self.client_public_key + "\n")
        self.authorized_keys.chmod(0o600)
        self.config_path = self.dir / "sshd_config"
        self.log_path = self.dir / "sshd.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def known_hosts_line(self) -> str:
        return f"[{self.host}]:{self.port} {self.host_key}"

    def config_text(self) -> str:
        return "\n".join(
            [
                f"ListenAddress {self.host}:{self.port}",
                f"HostKey {self.host_key_path}",
                f"PidFile {self.dir / 'sshd.pid'}",
                f"AuthorizedKeysFile {self.authorized_keys}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "LogLevel VERBOSE",
                "",
            ]
        )

    def start(self, timeout: float = 10.0) -> None:
        if not os.access(self.binary, os.X_OK):
            raise SshdError(f"sshd not found at {self.binary}")
        # The privilege separation directory must exist (Debian creates it at boot only).
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.port = free_port(self.host)
        self.config_path.write_text(self.config_text())
        check = subprocess.run(
            [self.binary, "-t", "-f", str(self.config_path)],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if check.returncode != 0:
            raise SshdError(f"sshd rejected its configuration: {check.stderr.decode()[-1000:]}")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                output = self.log_path.read_text(errors="replace")[-2000:]
                self._process = None
                raise SshdError(f"sshd exited at start: {output}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise SshdError(f"sshd is not listening on {self.host}:{self.port}") from None
                time.sleep(0.02)

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)

    def __enter__(self) -> Sshd:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=2)
