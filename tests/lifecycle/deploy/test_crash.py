"""A deployment killed mid-way (kill -9 during the reload) is resumed by the next pass without
losing the previous files (CERT-09, exactly once)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def worker(env, mode: str, args: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lifecycle.deploy.crash_worker", mode, json.dumps(args)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: kill -9 takes its reload command too
    )


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _group_commands(pid: int) -> list[str]:
    """Command names of the processes in ``pid``'s process group (the worker and its reload)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(fields[2]) == pid:  # process group id
            found.append(comm)
    return found


def served(port: int, sni: str) -> str | None:
    import asyncio

    from mamori.probe import Target, TrustStore, probe_tls

    result = asyncio.run(
        probe_tls(
            Target(host="127.0.0.1", port=port, sni=sni),
            trust=TrustStore.system(),
            check_legacy_protocols=False,
            fetch_aia=False,
        )
    )
    return result.certificate.fingerprint_sha256 if result.certificate else None


@pytest.mark.req("CERT-09")
def test_a_deployment_killed_during_the_reload_is_resumed_without_losing_the_backup(
    tmp_path, nginx, deploy_ca
):
    sni = "crash.acme.example"
    first = deploy_ca.issue([sni])
    port = nginx.add_site("www", cert=first)
    nginx.start()
    cert_file = nginx.prefix / "certs" / "www.crt"
    key_file = nginx.prefix / "certs" / "www.key"
    original = cert_file.read_bytes()
    env = {**os.environ, "MAMORI_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    for name in ("MAMORI_DATABASE_URL", "DATABASE_URL", "KEYSTORE_URL"):
        env.pop(name, None)
    slow = tmp_path / "slow-reload"
    slow.touch()
    # What the Mamori host allows: writing under nginx's directory, and this one reload command.
    env["MAMORI_DEPLOY_ROOTS"] = str(nginx.prefix)
    env["MAMORI_DEPLOY_COMMANDS"] = shlex.join(
        ["sh", "-c", f"if [ -e {slow} ]; then sleep 60; fi; kill -HUP {nginx.pid}"]
    )
    setup = finish(
        worker(
            env,
            "setup",
            {
                "sni": sni,
                "port": port,
                "cert_file": str(cert_file),
                "key_file": str(key_file),
                "nginx_pid": nginx.pid,
                "slow_flag": str(slow),
            },
        )
    )
    deployment_id = setup["deployment"]
    database = tmp_path / "data" / "mamori.sqlite3"

    def row() -> tuple[str, dict, list]:
        with sqlite3.connect(database) as db:
            state, backup, log = db.execute(
                "select state, backup, log from lifecycle_deployment where id = ?",
                (deployment_id,),
            ).fetchone()
        return state, json.loads(backup), json.loads(log)

    # Kill the worker (and its reload command) once the files are written and it reloads.
    running = worker(env, "run", {"deployment": deployment_id})
    deadline = time.monotonic() + 30
    while [e["step"] for e in row()[2]].count("write") < 2:
        assert running.poll() is None, running.communicate()[1][-3000:]
        assert time.monotonic() < deadline, row()
        time.sleep(0.02)
    while "sleep" not in _group_commands(running.pid):
        assert time.monotonic() < deadline, "the reload command did not start"
        time.sleep(0.02)
    os.killpg(running.pid, signal.SIGKILL)
    running.wait(timeout=10)
    slow.unlink()  # the next reload is quick

    state, backup, _log = row()
    assert state == "installing"
    kept = Path(backup[str(cert_file)])
    assert kept.read_bytes() == original
    assert cert_file.read_bytes() != original  # the new file was written...
    assert served(port, sni) == first.fingerprint_sha256  # ...but never loaded

    resumed = finish(worker(env, "resume", {"deployment": deployment_id}))

    assert resumed["state"] == "succeeded", resumed["error"]
    assert "resume" in [e["step"] for e in resumed["log"]]
    assert resumed["backup"] == backup
    assert kept.read_bytes() == original  # the resumed run did not overwrite the backup
    assert served(port, sni) == setup["fingerprint"]
