"""Run a real IMAP server (Debian's dovecot-imapd) on loopback for the desk's mailbox tests.

``dovecot -F -c <config>`` on ``127.0.0.1:<free port>``, plain IMAP (``ssl = no``; the desk allows
plain IMAP to loopback only), with its own configuration, users (a passwd-file: no system
accounts, no PAM), maildirs, runtime directory and log, all in the given directory. Nothing is
read from ``/etc/dovecot``. The server runs as the user running the tests.

Example::

    with Dovecot(tmp_path) as server:
        server.url                     # imap://desk%40example.jp@127.0.0.1:PORT/INBOX
        server.password
        server.append(raw_bytes)       # deliver a message by IMAP APPEND

No pytest in here.
"""

from __future__ import annotations

import contextlib
import getpass
import grp
import os
import pwd
import secrets
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from imapclient import IMAPClient

from tests.support.nginx import free_port

DEFAULT_BINARY = "/usr/sbin/dovecot"


class DovecotError(RuntimeError):
    """dovecot could not be started."""


class Dovecot:
    """A private dovecot rooted in ``directory`` (created if missing), with one mailbox user."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        binary: str = DEFAULT_BINARY,
        user: str = "desk@example.jp",
    ) -> None:
        self.dir = Path(directory).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = 0
        self.user = user
        self.password = secrets.token_urlsafe(12)
        self.config_path = self.dir / "dovecot.conf"
        self.log_path = self.dir / "dovecot.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"imap://{quote(self.user, safe='')}@{self.host}:{self.port}/INBOX"

    def _accounts(self) -> tuple[str, str, str, int, int]:
        """(internal user, its group, login user, mail uid, mail gid). Dovecot runs its login
        and internal processes unprivileged: as root (the test container) they are the
        package's own ``dovecot`` and ``dovenull`` users, otherwise the user running the tests."""
        if os.getuid() == 0:
            internal = pwd.getpwnam("dovecot")
            login = pwd.getpwnam("dovenull")
            group = grp.getgrgid(internal.pw_gid).gr_name
            return internal.pw_name, group, login.pw_name, internal.pw_uid, internal.pw_gid
        name = getpass.getuser()
        return name, grp.getgrgid(os.getgid()).gr_name, name, os.getuid(), os.getgid()

    def config_text(self) -> str:
        internal, group, login, uid, gid = self._accounts()
        home = self.dir / "home"
        return "\n".join(
            [
                f"base_dir = {self.dir / 'run'}",
                f"state_dir = {self.dir / 'state'}",
                f"log_path = {self.log_path}",
                f"info_log_path = {self.log_path}",
                "protocols = imap",
                f"listen = {self.host}",
                "ssl = no",
                "disable_plaintext_auth = no",
                "auth_mechanisms = plain login",
                f"default_internal_user = {internal}",
                f"default_internal_group = {group}",
                f"default_login_user = {login}",
                f"first_valid_uid = {uid}",
                f"first_valid_gid = {gid}",
                "mail_location = maildir:~/Maildir",
                "passdb {",
                "  driver = passwd-file",
                f"  args = scheme=PLAIN username_format=%u {self.dir / 'passwd'}",
                "}",
                "userdb {",
                "  driver = static",
                f"  args = uid={uid} gid={gid} home={home}/%u",
                "}",
                "service imap-login {",
                "  inet_listener imap {",
                f"    address = {self.host}",
                f"    port = {self.port}",
                "  }",
                "  inet_listener imaps {",
                "    port = 0",
                "  }",
                "}",
                "service anvil {",
                "  chroot =",
                "}",
                "service imap-login {",
                "  chroot =",
                "}",
                "",
            ]
        )

    def start(self, timeout: float = 20.0) -> Dovecot:
        self.port = free_port()
        (self.dir / "run").mkdir(exist_ok=True)
        (self.dir / "state").mkdir(exist_ok=True)
        (self.dir / "home").mkdir(exist_ok=True)
        _internal, _group, _login, uid, gid = self._accounts()
        # The unprivileged processes must reach the runtime directory and the maildirs.
        self.dir.chmod(0o755)
        if os.getuid() == 0:
            os.chown(self.dir / "home", uid, gid)
        (self.dir / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        self.config_path.write_text(self.config_text())
        self._process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise DovecotError(f"dovecot exited: {err.strip()} {self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.5) as s,
            ):
                s.settimeout(2)
                if s.recv(100).startswith(b"* OK"):
                    return self
            time.sleep(0.05)
        self.stop()
        raise DovecotError(f"dovecot did not accept within {timeout} s: {self.log()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the mailbox, as a mail client sees it ---------------------------------------------

    def connect(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, message: bytes | str, folder: str = "INBOX") -> int:
        """Deliver ``message`` (unseen) and return its UID."""
        data = message.encode() if isinstance(message, str) else message
        client = self.connect()
        try:
            answer = client.append(folder, data)
        finally:
            client.logout()
        # "[APPENDUID <validity> <uid>] Append completed."
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return int(text.split("]")[0].split()[-1])

    def flags(self, folder: str = "INBOX") -> dict[int, set[bytes]]:
        """Each message's flags, by UID."""
        client = self.connect()
        try:
            client.select_folder(folder, readonly=True)
            return {uid: set(f) for uid, f in client.get_flags(client.search("ALL")).items()}
        finally:
            client.logout()

    def count(self, folder: str = "INBOX") -> int:
        client = self.connect()
        try:
            return client.select_folder(folder, readonly=True)[b"EXISTS"]
        finally:
            client.logout()
