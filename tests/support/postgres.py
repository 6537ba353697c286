"""Run a real PostgreSQL cluster in a temporary directory for the scaled-out tests.

The cluster is Debian's stock server (``initdb`` and ``postgres`` from
``/usr/lib/postgresql/<v>/bin`` or ``PATH``), initialised in a fresh directory under the system
temp dir, listening on loopback only on a free port, with ``trust`` authentication and durability
switched off (``fsync=off``: these databases live for one test run). It runs in the foreground as
a child of the test process, in its own process group.

PostgreSQL refuses to run as root: when the tests run as root (CI containers), the cluster runs as
the ``postgres`` user that the Debian package creates, and its directory is handed to that user.

Example::

    with Postgres() as pg:
        url = pg.create_database("mamori")    # postgres://postgres@127.0.0.1:<port>/mamori
        ...

No pytest in here.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "postgres"


class PostgresError(RuntimeError):
    """The cluster could not be found, initialised or started."""


def find_bin_dir() -> Path | None:
    """Directory holding ``initdb`` and ``postgres`` (the newest Debian version), or None."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if versions:
        return Path(versions[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, bin_dir: Path | None = None) -> None:
        found = bin_dir or find_bin_dir()
        if found is None or not (found / "postgres").is_file():
            raise PostgresError("PostgreSQL (initdb, postgres) is not installed")
        self.bin_dir = found
        self.port = _free_port()
        self.root: Path | None = None
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    # --- running as someone other than root -------------------------------------------------

    @property
    def _user(self) -> str | None:
        """The account the server runs as: ``postgres`` when we are root, else ourselves."""
        return SUPERUSER if os.geteuid() == 0 else None

    def _hand_over(self, path: Path) -> None:
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> Postgres:
        # Not under pytest's tmp_path: that is private to root, and the server may not be root.
        self.root = Path(tempfile.mkdtemp(prefix="mamori-pg-"))
        self._hand_over(self.root)
        data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        initdb = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            user=self._user,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        if initdb.returncode != 0:
            raise PostgresError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the server's lifetime
        self._hand_over(self.log_path)
        self.process = subprocess.Popen(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            user=self._user,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PostgresError(f"postgres exited at start-up:\n{self.log()}")
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise PostgresError(f"postgres did not accept connections within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown: disconnect clients, stop.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- databases --------------------------------------------------------------------------

    def url(self, name: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def connect(self, name: str = "postgres"):
        import psycopg

        return psycopg.connect(self.url(name), autocommit=True)

    def create_database(self, name: str) -> str:
        """Create an empty database (dropping one of that name first); its URL."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
