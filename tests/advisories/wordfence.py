"""A WordPress vulnerability feed in Wordfence Intelligence's JSON format, served by a local
HTTP server (never the internet): records for the test site's WordPress 6.4.2, Contact Form 7
5.8.4 and Akismet 5.3 (tests/software/conftest.py)."""

from __future__ import annotations

import http.server
import json
import threading

KEY = "wf-test-key-0123456789"

FEED = {
    "0a1b2c3d-0000-4000-8000-000000000001": {
        "id": "0a1b2c3d-0000-4000-8000-000000000001",
        "title": "Contact Form 7 <= 5.8.4 - Reflected Cross-Site Scripting",
        "software": [
            {
                "type": "plugin",
                "name": "Contact Form 7",
                "slug": "contact-form-7",
                "affected_versions": {
                    "* - 5.8.4": {
                        "from_version": "*",
                        "from_inclusive": True,
                        "to_version": "5.8.4",
                        "to_inclusive": True,
                    }
                },
                "patched": True,
                "patched_versions": ["5.8.5"],
                "remediation": "Update to version 5.8.5, or a newer patched version",
            }
        ],
        "informational": False,
        "description": "A test record.",
        "references": [],
        "cwe": {"id": 79, "name": "Cross-site Scripting"},
        "cvss": {
            "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
            "score": 6.1,
            "rating": "Medium",
        },
        "cve": "CVE-2099-3001",
        "published": "2026-10-01 12:00:00",
        "updated": "2026-10-02 08:30:00",
    },
    "0a1b2c3d-0000-4000-8000-000000000002": {
        "id": "0a1b2c3d-0000-4000-8000-000000000002",
        "title": "Akismet <= 5.0.1 - test",
        "software": [
            {
                "type": "plugin",
                "slug": "akismet",
                "affected_versions": {
                    "* - 5.0.1": {
                        "from_version": "*",
                        "from_inclusive": True,
                        "to_version": "5.0.1",
                        "to_inclusive": True,
                    }
                },
                "patched": True,
                "patched_versions": ["5.0.2"],
            }
        ],
        "cvss": {"vector": "", "score": None, "rating": "High"},
        "cve": None,
        "published": "2026-09-01 00:00:00",
        "updated": "2026-09-01 00:00:00",
    },
    "0a1b2c3d-0000-4000-8000-000000000003": {
        "id": "0a1b2c3d-0000-4000-8000-000000000003",
        "title": "WordPress Core 6.4 - 6.4.2 - test",
        "software": [
            {
                "type": "core",
                "slug": "wordpress",
                "affected_versions": {
                    "6.4 - 6.4.3": {
                        "from_version": "6.4",
                        "from_inclusive": True,
                        "to_version": "6.4.3",
                        "to_inclusive": False,
                    }
                },
                "patched": True,
                "patched_versions": ["6.4.3"],
            }
        ],
        "cvss": {
            "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "score": 9.8,
            "rating": "Critical",
        },
        "cve": "CVE-2099-3003",
        "published": "2026-10-05 00:00:00",
        "updated": "2026-10-05 00:00:00",
    },
    "0a1b2c3d-0000-4000-8000-000000000004": {
        "id": "0a1b2c3d-0000-4000-8000-000000000004",
        "title": "A theme - test",
        "software": [
            {
                "type": "theme",
                "slug": "twentytwenty",
                "affected_versions": {
                    "* - 9.9": {
                        "from_version": "*",
                        "from_inclusive": True,
                        "to_version": "9.9",
                        "to_inclusive": True,
                    }
                },
                "patched_versions": [],
            }
        ],
        "published": "2026-10-05 00:00:00",
        "updated": "2026-10-05 00:00:00",
    },
}


class FeedServer:
    """Serves ``feed`` at ``/feed.json`` to requests bearing :data:`KEY` (401 otherwise), with
    an ETag (304 to a matching If-None-Match); records what it was asked."""

    def __init__(self, feed: dict) -> None:
        self.body = json.dumps(feed).encode()
        self.requests: list[tuple[str, str | None]] = []
        self.downloads = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append((self.path, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    self.send_response(401)
                    self.end_headers()
                    return
                etag = f'"{len(owner.body):x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                owner.downloads += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
