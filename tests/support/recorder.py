"""A real HTTP server on loopback that records every connection and request made to it, to
prove that the address guard kept Mamori away from it (``connections == 0``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler, recorder: Recorder) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.recorder = recorder
        super().__init__(address, handler)

    def verify_request(self, request, client_address) -> bool:
        self.recorder.connections += 1  # every accepted connection, before any byte is read
        return True


class Recorder:
    """Answers GET and POST with ``body`` (or a redirect to ``redirect_to``) and records the
    paths asked for. ``host`` is where it listens: 127.0.0.1, ::1, 127.0.0.2…"""

    def __init__(self, host: str = "127.0.0.1", body: bytes = b"{}") -> None:
        self.body = body
        self.redirect_to = ""
        self.connections = 0
        self.hits: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.hits.append(self.path)
                if recorder.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", recorder.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(recorder.body)))
                self.end_headers()
                self.wfile.write(recorder.body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server((host, 0), Handler, self)
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, path: str = "/", *, scheme: str = "http", host: str = "") -> str:
        """A URL of this server; ``host`` replaces the address (e.g. ``localhost``)."""
        netloc = f"{host}:{self.port}" if host else self.netloc
        return f"{scheme}://{netloc}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def recorder(host: str = "127.0.0.1", body: bytes = b"{}") -> Iterator[Recorder]:
    server = Recorder(host, body)
    try:
        yield server
    finally:
        server.stop()


def fake_dns(monkeypatch, answers: dict[str, str]) -> dict[str, str]:
    """Make ``socket.getaddrinfo`` answer ``answers`` (name → address) and leave every other
    name to the real resolver. It stands in for the public DNS, which tests may not reach; the
    returned dict can be changed later (a DNS answer that changes: rebinding)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.lower().rstrip(".") in answers:
            return real(answers[name.lower().rstrip(".")], port, family, type, proto, flags)
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers
