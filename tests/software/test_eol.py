"""End-of-life dates from a kept copy of endoflife.date data (MNT-01): the shipped copy offline,
the refresh against a local HTTP server (never the internet), warnings once per server, product
and cycle."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mamori.notices.models import Notice, NoticeKind
from mamori.software import eol
from mamori.software.models import (
    Collection,
    Component,
    EolProduct,
    EolWarning,
    OperatingSystem,
)

pytestmark = [pytest.mark.django_db, pytest.mark.req("MNT-01")]

# PHP's own schedule: 8.2 has security support until 31 December 2026.
PHP = [
    {"cycle": "8.3", "releaseDate": "2023-11-23", "eol": "2027-12-31", "latest": "8.3.14"},
    {"cycle": "8.2", "releaseDate": "2022-12-08", "eol": "2026-12-31", "latest": "8.2.26"},
]


@pytest.fixture
def eol_api():
    """A local stand-in for https://endoflife.date/api: /php.json answers PHP, /broken.json
    answers junk, anything else 404."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path == "/api/php.json":
                body, status = json.dumps(PHP).encode(), 200
            elif self.path == "/api/broken.json":
                body, status = b"<html>not json", 200
            else:
                body, status = b"{}", 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api", hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def debian_php_server(acme):
    from django.utils import timezone

    from mamori.inventory.models import Server

    server = Server.objects.create(client=acme, name="web1", kind="vps")
    c = Collection.objects.create(server=server, started_at=timezone.now(), state="ok")
    OperatingSystem.objects.create(server=server, os_id="debian", version_id="12", collection=c)
    Component.objects.create(
        server=server, kind="php", name="php", version="8.2.7", path="/usr/bin/php"
    )
    return server


def test_the_shipped_copy_works_offline(debian_php_server, settings):
    settings.MAMORI_EOL_URL = ""
    assert eol.refresh() == {}  # nothing fetched without a URL
    statuses = {s.product: s for s in eol.status_of(debian_php_server, dt.date(2026, 3, 1))}
    # Debian 12 "bookworm": security support until 10 June 2026 (Debian's announcement).
    assert statuses["debian"].cycle == "12"
    assert statuses["debian"].eol == dt.date(2026, 6, 10)
    assert statuses["debian"].days_left(dt.date(2026, 3, 1)) == 101
    assert statuses["php"].cycle == "8.2"
    assert statuses["php"].eol == dt.date(2026, 12, 31)
    assert statuses["php"].source == "shipped"
    assert statuses["php"].fetched_at is not None  # its age is shown


def test_refresh_keeps_what_the_api_answers_and_the_copy_when_it_fails(eol_api, debian_php_server):
    url, hits = eol_api
    assert eol.refresh(["php", "broken", "missing"], base_url=url) == {
        "php": "ok",
        "broken": "the answer is not JSON",
        "missing": "HTTP 404",
    }
    php = EolProduct.objects.get(product="php")
    assert php.source == "fetched"
    assert [c["cycle"] for c in php.cycles] == ["8.3", "8.2"]
    # Fresh copies are not fetched again within a day.
    hits.clear()
    eol.refresh(["php"], base_url=url)
    assert hits == []
    # The products in use are what the servers run.
    assert eol.products_in_use() == {"debian", "php"}


def test_cycle_matching():
    cycles = [{"cycle": "1"}, {"cycle": "1.2"}, {"cycle": "1.24"}, {"cycle": "10"}]
    assert eol.cycle_of(cycles, "1.24.0")["cycle"] == "1.24"
    assert eol.cycle_of(cycles, "1.2.3")["cycle"] == "1.2"
    assert eol.cycle_of(cycles, "10.1")["cycle"] == "10"
    assert eol.cycle_of(cycles, "1.3")["cycle"] == "1"
    assert eol.cycle_of(cycles, "2.0") is None


def test_warnings_ahead_of_the_end_of_life_once(debian_php_server, operator, settings):
    settings.MAMORI_EOL_URL = ""
    settings.MAMORI_EOL_WARN_DAYS = 90
    # 1 March 2026: Debian 12 ends in 101 days (not yet warned), PHP 8.2 in 305.
    assert eol.warn_due(dt.date(2026, 3, 1)) == 0
    # 15 March 2026: 87 days before 10 June.
    assert eol.warn_due(dt.date(2026, 3, 15)) == 1
    assert eol.warn_due(dt.date(2026, 3, 16)) == 0
    warning = EolWarning.objects.get()
    assert (warning.product, warning.cycle, warning.eol) == ("debian", "12", dt.date(2026, 6, 10))
    notice = Notice.objects.get(kind=NoticeKind.SOFTWARE_EOL, recipient=operator.email)
    assert "87" in notice.body_text
