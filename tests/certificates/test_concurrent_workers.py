"""Exactly once across concurrent workers: two `mamori runchecks --once` processes at the same
time, on the same database, send each notice once (NOT-02)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from collections import Counter

import pytest
import yaml

from tests.support.smtp import SMTPServer

ENDPOINTS = 20


@pytest.fixture
def mail_server():
    # Slow enough that the workers' deliveries overlap.
    server = SMTPServer(delay=0.05).start()
    yield server
    server.stop()


def mamori(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mamori", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.req("NOT-02")
def test_two_workers_at_once_send_every_notice_exactly_once(
    tmp_path, nginx, test_ca, issuing_ca, mail_server
):
    now = dt.datetime.now(dt.UTC)
    endpoints = []
    port = None
    for i in range(ENDPOINTS):
        name = f"site{i}.sample.example"
        cert = issuing_ca.issue(
            [name], not_before=now - dt.timedelta(days=85), not_after=now + dt.timedelta(days=5)
        )
        port = nginx.add_site(f"site{i}", cert=cert, port=port)
        endpoints.append(
            {"host": "127.0.0.1", "port": port, "sni": name, "trust_bundle": test_ca.cert_pem}
        )
    nginx.start()
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "clients": [
                    {
                        "code": "sample",
                        "name": "株式会社サンプル",
                        "contacts": [
                            {
                                "name": "山田太郎",
                                "email": "yamada@sample.example",
                                "notify": ["certificates"],
                            },
                            {
                                "name": "Jane",
                                "email": "jane@sample.example",
                                "language": "en",
                                "notify": ["certificates"],
                            },
                        ],
                        "endpoints": endpoints,
                    }
                ]
            },
            allow_unicode=True,
        )
    )
    env = {
        **os.environ,
        "MAMORI_DATA_DIR": str(tmp_path / "data"),
        "MAMORI_EMAIL_URL": f"smtp://127.0.0.1:{mail_server.port}",
    }
    env.pop("MAMORI_DATABASE_URL", None)
    for args in (("migrate", "-v", "0"), ("import", str(inventory))):
        done = mamori(env, *args)
        output, _ = done.communicate(timeout=120)
        assert done.returncode == 0, output

    # One pass checks everything and queues the notices while the mail server refuses them
    # for now; then three workers start together on the queued notices, so they must race.
    mail_server.refuse(10**6)
    first = mamori(env, "runchecks", "--once")
    output, _ = first.communicate(timeout=120)
    assert f"{ENDPOINTS * 2} notice(s) queued" in output, output
    mail_server.refuse(0)
    with sqlite3.connect(tmp_path / "data" / "mamori.sqlite3") as db:
        db.execute("update notices_notice set next_attempt_at = '2000-01-01 00:00:00'")
    workers = [mamori(env, "runchecks", "--once") for _ in range(3)]
    outputs = [w.communicate(timeout=120)[0] for w in workers]

    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    # The workers really did share the work (otherwise this test proves nothing).
    assert sum("sent to" in out for out in outputs) >= 2, outputs
    messages = mail_server.messages
    # Each endpoint's certificate: one 7-day notice to each of the two contacts.
    assert len(messages) == ENDPOINTS * 2, outputs
    assert not [k for k, n in Counter((m.to, m.subject) for m in messages).items() if n > 1]
    assert len({m.message["Message-ID"] for m in messages}) == len(messages)
