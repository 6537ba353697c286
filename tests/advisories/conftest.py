"""Fixtures of the advisory tests: the hand-written OSV records, served as OSV serves its
dumps (``/<ecosystem>/all.zip``) by a local HTTP server, never the internet."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "osv"


def make_zip(paths: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.writestr(path.name, path.read_bytes())
    return buffer.getvalue()


class DumpServer:
    """Serves ``dumps[ecosystem]`` (bytes) at ``/<ecosystem>/all.zip`` with an ETag, answering
    304 to a matching If-None-Match; counts the full downloads."""

    def __init__(self) -> None:
        self.dumps: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                from urllib.parse import unquote

                owner.requests.append(self.path)
                parts = unquote(self.path).strip("/").split("/")
                data = owner.dumps.get(parts[0]) if len(parts) == 2 else None
                if data is None or parts[1] != "all.zip":
                    self.send_response(404)
                    self.end_headers()
                    return
                etag = f'"{hash(data) & 0xFFFFFFFF:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                owner.downloads.append(parts[0])
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def dump_server(settings):
    server = DumpServer()
    settings.MAMORI_ADVISORY_SOURCE_URL = server.url
    yield server
    server.stop()


@pytest.fixture
def osv_records(db):
    """Every valid hand-written record imported."""
    from mamori.advisories import feeds

    paths = sorted(p for p in FIXTURES.glob("*.json") if p.name != "broken.json")
    return feeds.import_records(
        ((p.name, __import__("json").loads(p.read_text())) for p in paths), source="test"
    )
