"""Fixtures for the probe tests: a test PKI, a real nginx, and small hostile TCP servers.

Rule: under ``CI=true`` a missing nginx binary fails the test that needs it; elsewhere it skips.
Everything listens on loopback only.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mamori.demo.pki import CertificateAuthority
from tests.support.nginx import Nginx, find_nginx


def require_nginx() -> str:
    """Path of nginx, or fail (CI) / skip (elsewhere) with a clear message."""
    found = find_nginx()
    if found:
        return found
    message = "nginx is not installed (apt-get install nginx-light); the TLS probe tests need it"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
    raise AssertionError("unreachable")


@dataclass
class ProbePKI:
    """A root, an issuing intermediate below it, and an unrelated "unknown" root."""

    root: CertificateAuthority
    intermediate: CertificateAuthority
    unknown_root: CertificateAuthority

    @property
    def root_pem(self) -> bytes:
        return self.root.cert_pem.encode()


@pytest.fixture(scope="module")
def pki() -> ProbePKI:
    root = CertificateAuthority.create("Mamori Probe Test Root")
    return ProbePKI(
        root=root,
        intermediate=root.intermediate("Mamori Probe Test Issuing CA"),
        unknown_root=CertificateAuthority.create("Somebody Else's Private Root"),
    )


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """An unstarted nginx for this module: add sites, then ``start()``; stopped at the end."""
    binary = require_nginx()
    server = Nginx(tmp_path_factory.mktemp("nginx"), binary=binary)
    try:
        yield server
    finally:
        server.stop()


# -- hostile servers ------------------------------------------------------------------------------

Behaviour = Callable[[socket.socket], None]


class RawServer:
    """A TCP server on 127.0.0.1 that runs ``behaviour(conn)`` per connection in a thread.

    Connections stay open until the behaviour returns or the server stops, so "stall" servers
    hold them until teardown. ``accept=False`` listens without ever accepting (a full backlog
    then makes new connection attempts hang in the SYN stage).
    """

    def __init__(self, behaviour: Behaviour, *, accept: bool = True, backlog: int = 64) -> None:
        self.behaviour = behaviour
        self.accept = accept
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(backlog)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.connections: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> RawServer:
        if self.accept:
            self._acceptor.start()
        return self

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        while not self.stopping.is_set():
            if not selector.select(timeout=0.05):
                continue
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()
        selector.close()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.behaviour(conn)

    def wait_stop(self, seconds: float) -> None:
        """For behaviours: sleep up to ``seconds`` unless the server is stopping."""
        self.stopping.wait(seconds)

    def stop(self) -> None:
        self.stopping.set()
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.close()
        with contextlib.suppress(OSError):
            self.listener.close()
        if self._acceptor.is_alive():
            self._acceptor.join(timeout=2)
        for thread in self.threads:
            thread.join(timeout=2)


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Factory: ``raw_server(behaviour, accept=True)`` starts a :class:`RawServer`."""
    started: list[RawServer] = []

    def make(behaviour: Behaviour, **kwargs: object) -> RawServer:
        server = RawServer(behaviour, **kwargs).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def closed_port() -> int:
    """A loopback port on which nothing listens (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_some(conn: socket.socket, timeout: float = 2.0) -> bytes:
    conn.settimeout(timeout)
    try:
        return conn.recv(65536)
    except OSError:
        return b""


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def write_file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
