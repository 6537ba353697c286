"""A backup killed halfway (kill -9 of the process running it, restic with it) is found by the
next pass, recorded failed, and retried to success (BKP-02)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def worker(env, mode: str, args: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.backups.crash_worker", mode, json.dumps(args)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                found.append((int(entry.name), cmdline))
    return found


@pytest.mark.req("BKP-02")
def test_a_backup_killed_halfway_is_recorded_failed_and_retried(tmp_path, restic_binary):
    source = tmp_path / "data"
    source.mkdir()
    for index in range(6):  # 192 MiB that do not compress or deduplicate: seconds of work
        (source / f"blob{index}.bin").write_bytes(os.urandom(32 << 20))
    env = {
        **os.environ,
        "MAMORI_DATA_DIR": str(tmp_path / "mamori"),
        "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
        "MAMORI_BACKUP_ROOTS": str(tmp_path),
    }
    for name in ("MAMORI_DATABASE_URL", "DATABASE_URL", "KEYSTORE_URL"):
        env.pop(name, None)
    job = finish(worker(env, "setup", {"source": str(source), "repo": str(tmp_path / "repo")}))

    running = worker(env, "run", job)
    deadline = time.monotonic() + 120
    while True:  # until restic is backing up
        backups = [c for c in children(running.pid) if " backup " in c[1]]
        if backups:
            break
        assert running.poll() is None, running.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "restic backup never started"
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(running.pid, signal.SIGKILL)
    running.wait(timeout=30)
    restic_pid = backups[0][0]
    for _ in range(100):  # restic dies with the process that started it
        if not Path(f"/proc/{restic_pid}").exists():
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{restic_pid}").exists()
    assert not list((tmp_path / "repo" / "snapshots").iterdir())  # no snapshot was saved

    result = finish(worker(env, "pass", job))
    assert result["started_early"] == [] and 240 < result["retry_in"] <= 300
    first, retry = result["runs"]
    assert (first["state"], first["failure"], first["attempt"]) == ("failed", "died", 1)
    assert (retry["state"], retry["attempt"], retry["files_new"]) == ("succeeded", 2, 6)
    assert result["incidents"] == ["recovered"]  # opened by the dead run, recovered by the retry
