"""Real PostgreSQL and Redis servers for the scaled-out mode, and `mamori` processes against them.

The servers start once per session (on first use). The database schema is migrated once into a
template database; each test gets fresh copies of it (``CREATE DATABASE … TEMPLATE``), a
flushed Redis and a data directory of its own (:func:`scaled_env`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.env import require_binary
from tests.support.postgres import Postgres, find_bin_dir
from tests.support.redis import Redis, find_redis

TEMPLATE = "mamori_template"
KEYSTORE_TEMPLATE = "keystore_template"
_names = itertools.count(1)


def _base_env(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "MAMORI_DATA_DIR": str(data_dir),
        "MAMORI_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",  # the tests read the processes' logs as they go
    }
    for name in ("MAMORI_DATABASE_URL", "MAMORI_KEYSTORE_URL", "MAMORI_BROKER_URL"):
        env.pop(name, None)
    return env


def run(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``mamori ARGS`` to the end; its output. Fails the test if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "mamori", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"mamori {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def postgres():
    bin_dir = find_bin_dir()
    require_binary("postgres", str(bin_dir / "postgres") if bin_dir else "/usr/bin/postgres")
    server = Postgres(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    require_binary("redis-server", find_redis() or "/usr/bin/redis-server")
    server = Redis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_template(postgres, tmp_path_factory):
    """Template databases with every migration applied (main and keystore)."""
    env = _base_env(tmp_path_factory.mktemp("template-data"))
    env["MAMORI_DATABASE_URL"] = postgres.create_database(TEMPLATE)
    env["MAMORI_KEYSTORE_URL"] = postgres.create_database(KEYSTORE_TEMPLATE)
    run(env, "migrate", "-v", "0")
    run(env, "migrate", "--database", "keystore", "-v", "0")
    return TEMPLATE


@dataclass
class Scaled:
    env: dict[str, str]
    postgres: Postgres
    redis: Redis
    database: str
    logs: Path

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Rows of ``query`` on this test's database (read from outside any mamori process)."""
        with self.postgres.connect(self.database) as conn:
            return conn.execute(query, params).fetchall()

    def start(self, name: str, *args: str) -> Process:
        """Start ``mamori ARGS`` in the background, its output in ``logs/<name>.log``."""
        log_path = self.logs / f"{name}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "mamori", *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Process(name, popen, log_path)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 30.0, count: int = 1) -> None:
        """Wait until ``text`` appears ``count`` times in the output (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return
            if self.popen.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.popen.returncode}):\n{self.log()}")
            time.sleep(0.05)
        pytest.fail(f"{self.name} never said {text!r} within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: like pulling the plug on that machine."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode


@pytest.fixture
def scaled(postgres, redis_server, migrated_template, tmp_path):
    """Fresh copies of the migrated databases, an empty Redis, and the environment of the
    ``mamori`` processes of one scaled-out deployment."""
    number = next(_names)
    database, keystore = f"mamori_{number}", f"keystore_{number}"
    with postgres.connect() as conn:
        for name, template in ((database, TEMPLATE), (keystore, KEYSTORE_TEMPLATE)):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    redis_server.client().flushall()
    env = _base_env(tmp_path / "data")
    env["MAMORI_DATABASE_URL"] = postgres.url(database)
    env["MAMORI_KEYSTORE_URL"] = postgres.url(keystore)
    env["MAMORI_BROKER_URL"] = redis_server.url(0)
    logs = tmp_path / "logs"
    logs.mkdir()
    yield Scaled(env, postgres, redis_server, database, logs)


class _Slow(BaseHTTPRequestHandler):
    delay = 1.0

    def do_GET(self):
        time.sleep(self.delay)  # long enough to kill a worker while its batch waits for us
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


@pytest.fixture
def slow_web():
    """A loopback HTTP server that answers every request after one second; its port."""
    server = _Server(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
