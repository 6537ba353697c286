import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mamori.inventory.models import Server, Site
from mamori.monitoring.models import Check
from tests.support.env import require_binary
from tests.support.nginx import Nginx, find_nginx
from tests.support.website import website  # noqa: F401 - a client's site on loopback


@pytest.fixture
def nginx(tmp_path):
    require_binary("nginx", find_nginx() or "/usr/sbin/nginx")
    server = Nginx(tmp_path / "nginx")
    yield server
    server.stop()


@pytest.fixture
def web(nginx) -> str:
    """A running nginx serving a page over plain HTTP on loopback; its URL."""
    port = nginx.add_files("web", {"index.html": b"<h1>Welcome to ACME</h1>\n"})
    nginx.start()
    return f"http://127.0.0.1:{port}/index.html"


@pytest.fixture
def acme_site(acme) -> Site:
    server = Server.objects.create(client=acme, name="web1", kind="vps")
    return Site.objects.create(
        client=acme, name="www", url="https://www.acme.example/", server=server
    )


# --- incidents: a webhook receiver and checks on fixed times -------------------------------------


@dataclass
class Hook:
    path: str
    body: dict


@dataclass
class Hooks:
    """A JSON webhook receiver on loopback (a client's chat channel, the operators' channel)."""

    port: int = 0
    received: list[Hook] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Hook]:
        return [hook for hook in self.received if hook.path == path]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    state = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            state.received.append(Hook(self.path, json.loads(self.rfile.read(length) or b"{}")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_check():
    """Save a valid check, due at ``next_run_at`` (default 2026-11-20 01:00 UTC)."""

    def make(client, kind: str, settings: dict, **extra) -> Check:
        check = Check(
            client=client,
            name=extra.pop("name", f"{kind} check"),
            kind=kind,
            settings=settings,
            next_run_at=extra.pop("next_run_at", dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)),
            timeout_seconds=extra.pop("timeout_seconds", 3),
            **extra,
        )
        check.full_clean()
        check.save()
        return check

    return make
