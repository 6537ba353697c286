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
    # Debian 12 "bookworm": security support until 11 July 2026 (endoflife.date, products/
    # debian.md: the date Debian announced in May 2026).
    assert statuses["debian"].cycle == "12"
    assert statuses["debian"].eol == dt.date(2026, 7, 11)
    assert statuses["debian"].days_left(dt.date(2026, 3, 1)) == 132
    assert statuses["php"].cycle == "8.2"
    assert statuses["php"].eol == dt.date(2026, 12, 31)
    assert statuses["php"].source == "shipped"
    # Its age is shown: the date of the endoflife.date snapshot it was taken from.
    assert statuses["php"].fetched_at == dt.datetime(2026, 8, 22, 8, 52, 34, tzinfo=dt.UTC)


# Known dates, each checked against endoflife.date's products/<product>.md (the snapshot's
# commit a70eca3, 22 August 2026): product, version as Mamori collects it, cycle, end of life
# (for PHP: end of security support; for Ubuntu: end of standard support).
KNOWN = [
    ("debian", "11", "11", dt.date(2024, 8, 14)),
    ("debian", "13", "13", dt.date(2028, 8, 9)),
    ("ubuntu", "22.04", "22.04", dt.date(2027, 4, 1)),
    ("ubuntu", "24.04", "24.04", dt.date(2029, 5, 31)),
    ("rhel", "9.4", "9", dt.date(2032, 5, 31)),
    ("php", "8.1.31", "8.1", dt.date(2025, 12, 31)),
    ("php", "8.3.6", "8.3", dt.date(2027, 12, 31)),
    ("postgresql", "13.18", "13", dt.date(2025, 11, 13)),
    ("postgresql", "16.4", "16", dt.date(2028, 11, 9)),
    ("mysql", "8.0.36", "8.0", dt.date(2026, 4, 30)),
    ("mariadb", "10.11.6", "10.11", dt.date(2028, 2, 16)),
    ("nginx", "1.22.1", "1.22", dt.date(2023, 4, 11)),
    ("apache-http-server", "2.2.34", "2.2", dt.date(2017, 7, 11)),
    ("wordpress", "6.4.2", "6.4", dt.date(2024, 4, 2)),
]


@pytest.mark.parametrize(("product", "version", "cycle", "end"), KNOWN)
def test_the_shipped_copy_knows_the_usual_stack(product, version, cycle, end):
    eol.load_shipped()
    item = eol.cycle_of(EolProduct.objects.get(product=product).cycles, version)
    assert item is not None and item["cycle"] == cycle
    assert dt.date.fromisoformat(item["eol"]) == end


def test_what_is_still_supported_has_no_end_date(acme):
    """Apache 2.4 and the newest nginx have no end of life set ("eol": false): not ended, and
    no date to warn about."""
    from django.utils import timezone

    from mamori.inventory.models import Server

    server = Server.objects.create(client=acme, name="web2", kind="vps")
    Component.objects.create(
        server=server, kind="web_server", name="apache", version="2.4.62", path="/usr/sbin/apache2"
    )
    Collection.objects.create(server=server, started_at=timezone.now(), state="ok")
    (status,) = eol.status_of(server, dt.date(2026, 9, 1))
    assert (status.product, status.cycle, status.eol, status.ended) == (
        "apache-http-server",
        "2.4",
        None,
        False,
    )


def test_a_newer_shipped_snapshot_replaces_an_older_shipped_copy_not_a_fetched_one():
    from mamori.software.models import EolSource

    old = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    EolProduct.objects.create(
        product="debian",
        cycles=[{"cycle": "12", "eol": "2026-06-10"}],
        source=EolSource.SHIPPED,
        fetched_at=old,
    )
    EolProduct.objects.create(product="php", cycles=PHP, source=EolSource.FETCHED, fetched_at=old)
    eol.load_shipped()
    debian = EolProduct.objects.get(product="debian")
    assert eol.cycle_of(debian.cycles, "12")["eol"] == "2026-07-11"
    assert debian.fetched_at > old
    php = EolProduct.objects.get(product="php")
    assert (php.source, php.cycles, php.fetched_at) == ("fetched", PHP, old)


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
    # 1 April 2026: Debian 12 ends (11 July) in 101 days (not yet warned), PHP 8.2 in 274.
    assert eol.warn_due(dt.date(2026, 4, 1)) == 0
    # 15 April 2026: 87 days before 11 July.
    assert eol.warn_due(dt.date(2026, 4, 15)) == 1
    assert eol.warn_due(dt.date(2026, 4, 16)) == 0
    warning = EolWarning.objects.get()
    assert (warning.product, warning.cycle, warning.eol) == ("debian", "12", dt.date(2026, 7, 11))
    notice = Notice.objects.get(kind=NoticeKind.SOFTWARE_EOL, recipient=operator.email)
    assert "87" in notice.body_text
