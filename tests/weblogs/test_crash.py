"""An import killed halfway (SIGKILL) resumes where its last committed chunk ended: every line
counted exactly once (MNT-06)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def worker(env, mode: str, args: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.weblogs.crash_worker", mode, json.dumps(args)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.req("MNT-06")
def test_an_import_killed_halfway_resumes_without_counting_twice(tmp_path):
    lines = 200_000  # every line a page view of a person: hits and page views are known
    log = tmp_path / "access.log"
    with log.open("w") as f:
        for i in range(lines):
            f.write(
                f"10.0.{i // 256 % 256}.{i % 256} - - [1{i % 3}/Nov/2026:08:00:00 +0900] "
                f'"GET /page/{i % 50} HTTP/1.1" 200 1000 "-" "Mozilla/5.0 Firefox/{i % 7}"\n'
            )
    data = tmp_path / "mamori"
    env = {**os.environ, "MAMORI_DATA_DIR": str(data), "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    for name in ("MAMORI_DATABASE_URL", "DATABASE_URL", "KEYSTORE_URL"):
        env.pop(name, None)
    site = finish(worker(env, "setup", {}))
    databases = [p for p in data.rglob("*.sqlite3") if "keystore" not in p.name]
    assert databases, list(data.rglob("*"))

    args = {**site, "file": str(log), "chunk": 64 << 10}
    running = worker(env, "import", args)
    deadline = time.monotonic() + 120
    offset = 0
    while offset == 0:  # until some chunks are committed
        assert running.poll() is None, running.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the import never committed a chunk"
        time.sleep(0.05)
        try:
            with sqlite3.connect(f"file:{databases[0]}?mode=ro", uri=True, timeout=5) as db:
                row = db.execute("SELECT offset FROM weblogs_logfile").fetchone()
            offset = row[0] if row else 0
        except sqlite3.OperationalError:
            offset = 0
    os.kill(running.pid, signal.SIGKILL)
    running.wait(timeout=30)
    halfway = finish(worker(env, "figures", site))
    assert 0 < halfway["offset"] < log.stat().st_size, "killed after the end: no test"
    assert halfway["hits"] == halfway["lines"]  # counts and offset moved together

    resumed = finish(worker(env, "import", args))
    assert resumed["lines"] == lines - halfway["lines"]
    final = finish(worker(env, "figures", site))
    assert final == {
        "hits": lines,
        "page_views": lines,
        "offset": log.stat().st_size,
        "lines": lines,
    }
