"""`mamori serve`: one command from an empty data directory to a running Mamori, and back."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mamori exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def start(tmp_path, port: int, **extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "MAMORI_DATA_DIR": str(tmp_path / "data"),
        "MAMORI_LISTEN": f"127.0.0.1:{port}",
        "MAMORI_EMAIL_URL": "console://",
        **extra,
    }
    env.pop("MAMORI_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "mamori", "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_it_starts_from_nothing_serves_and_stops_cleanly(tmp_path, stop_signal):
    port = free_port()
    process = start(tmp_path, port)
    try:
        status = wait_for_http(f"http://127.0.0.1:{port}/login/", process)
        assert status == 200
    finally:
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=40)
    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert "Created the first administrator: user 'admin', password '" in output
    assert "Stopped." in output
    # The embedded database was created and migrated in the data directory.
    db = sqlite3.connect(tmp_path / "data" / "mamori.sqlite3")
    assert db.execute("select role from core_user").fetchall() == [("provider_admin",)]
    assert db.execute("pragma journal_mode").fetchone() == ("wal",)
    # The secret key was generated once, readable only by its owner.
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_creates_the_first_administrator_only_once(tmp_path):
    port = free_port()
    for _ in range(2):
        process = start(tmp_path, port)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/login/", process)
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=40)
    assert "Created the first administrator" not in output


def test_it_says_clearly_when_the_port_is_taken(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = start(tmp_path, port)
        output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in output
    assert "Traceback" not in output


def test_it_serves_the_metrics_without_a_token_on_their_own_address(tmp_path):
    port, metrics_port = free_port(), free_port()
    process = start(tmp_path, port, MAMORI_METRICS_LISTEN=f"127.0.0.1:{metrics_port}")
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/login/", process) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
            assert r.status == 200
            text = r.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["mamori_checks"].type == "gauge"
        assert families["mamori_certificates"].samples
        # Nothing else is served there, and the web UI's /metrics still wants a token.
        assert wait_for_http(f"http://127.0.0.1:{metrics_port}/", process) == 404
        assert wait_for_http(f"http://127.0.0.1:{port}/metrics", process) == 401
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=40)
    assert process.returncode == 0, output
    assert f"Metrics for Prometheus at http://127.0.0.1:{metrics_port}/metrics" in output
    assert "Traceback" not in output


def test_it_says_clearly_when_the_metrics_port_is_taken(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        process = start(tmp_path, free_port(), MAMORI_METRICS_LISTEN=f"127.0.0.1:{taken}")
        output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert f"cannot listen on 127.0.0.1:{taken} for metrics" in output
    assert "Traceback" not in output
