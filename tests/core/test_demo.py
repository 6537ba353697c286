"""`mamori demo`: real results from its own local endpoints within a minute."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from tests.core.test_serve import free_port, wait_for_http

EXPECTED = {
    "www.sample.example": [],
    "shop.sample.example": ["expiring_soon"],
    "api.sample.example": ["incomplete_chain"],
    "old.hosting.example": ["expired"],
    "mail.hosting.example": ["hostname_mismatch"],
    "admin.hosting.example": ["self_signed"],
}


def test_it_shows_every_demo_situation_within_a_minute(tmp_path):
    port = free_port()
    env = {**os.environ, "MAMORI_DATA_DIR": str(tmp_path), "MAMORI_LISTEN": f"127.0.0.1:{port}"}
    # Even with a real database configured, the demo must use its own.
    env["MAMORI_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/real"
    # Nor does it need loopback allowed for everything: its endpoints are allowed one by one.
    env["MAMORI_ALLOW_PRIVATE_NETWORKS"] = ""
    process = subprocess.Popen(
        [sys.executable, "-m", "mamori", "demo"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/login/", process) == 200
        db_path = tmp_path / "demo" / "mamori.sqlite3"
        deadline = time.monotonic() + 60
        seen: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            with sqlite3.connect(db_path) as db:
                rows = db.execute(
                    "select sni, problems from inventory_endpoint where last_checked_at is not null"
                ).fetchall()
            seen = {sni: json.loads(problems) for sni, problems in rows}
            if len(seen) == len(EXPECTED):
                break
            time.sleep(0.5)
        assert seen == EXPECTED
        with sqlite3.connect(db_path) as db:
            names = sorted(n for (n,) in db.execute("select name from vault_secret"))
        assert names == [
            "WordPress 管理画面",
            "old.hosting.example AuthCode",
            "shop.sample.example (2026)",  # the managed shop certificate's private key
            "web01 SSH",
        ]
        # Last month's report of the sample client waits for review, with the outage in it.
        with sqlite3.connect(db_path) as db:
            reports = db.execute(
                "select r.state, r.figures from reports_report r"
                " join clients_client c on c.id = r.client_id where c.code = 'sample'"
            ).fetchall()
        assert [state for state, _figures in reports] == ["draft"]
        sections = json.loads(reports[0][1])["sections"]
        assert {"availability", "incidents", "sla"} <= set(sections)
        # Notices were written to files, not sent to anyone.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list((tmp_path / "demo" / "mail").glob("*")):
            time.sleep(0.5)
        assert list((tmp_path / "demo" / "mail").glob("*.log"))
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=40)
    assert process.returncode == 0, output
    assert "Log in as 'admin'" in output
    assert "Traceback" not in output
