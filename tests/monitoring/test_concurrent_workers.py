"""Several workers on one database never run the same check twice in one slot (MON-01):
three `mamori checks run --once` processes at once against a slow local HTTP server."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CHECKS = 40


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.2)  # long enough that the workers' batches overlap
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def mamori(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mamori", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


SETUP = """
from mamori.clients.models import Client
from mamori.monitoring.models import Check
client = Client.objects.create(code="sample", name="Sample")
Check.objects.bulk_create(
    Check(client=client, name=f"c{i}", kind="http", timeout_seconds=5,
          settings={"url": f"http://127.0.0.1:%d/{i}"})
    for i in range(%d)
)
"""


@pytest.mark.req("MON-01")
def test_three_workers_at_once_run_each_check_exactly_once(tmp_path, slow_server):
    env = {**os.environ, "MAMORI_DATA_DIR": str(tmp_path / "data")}
    env.pop("MAMORI_DATABASE_URL", None)
    env.pop("MAMORI_KEYSTORE_URL", None)
    for args in (("migrate", "-v", "0"), ("shell", "-c", SETUP % (slow_server, CHECKS))):
        done = mamori(env, *args)
        output, _ = done.communicate(timeout=120)
        assert done.returncode == 0, output

    workers = [mamori(env, "checks", "run", "--once", "--batch", "4") for _ in range(3)]
    outputs = [w.communicate(timeout=120)[0] for w in workers]

    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    ran = [int(re.search(r"ran (\d+) check", out).group(1)) for out in outputs]
    assert sum(ran) == CHECKS, outputs
    assert sum(n > 0 for n in ran) >= 2, outputs  # they really shared the work
    with sqlite3.connect(tmp_path / "data" / "mamori.sqlite3") as db:
        per_check = db.execute(
            "select count(*) from monitoring_sample group by uptime_check_id"
        ).fetchall()
        leases = db.execute(
            "select count(*) from monitoring_check where lease_until is not null"
        ).fetchone()
    assert sorted(n for (n,) in per_check) == [1] * CHECKS
    assert leases == (0,)

    listing = mamori({**env, "MAMORI_LANGUAGE": "en"}, "checks", "list", "--client", "sample")
    output, _ = listing.communicate(timeout=60)
    assert listing.returncode == 0 and output.count(" Up ") == CHECKS, output
