"""bench/advisory_bench.py still runs end to end at a trivial size (nothing is timed here), with
its peer: debsecan runs on every server and must name the same vulnerable pairs as Mamori."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.env import require_binary

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("MNT-02")
def test_advisory_bench_runs_at_a_trivial_size_with_debsecan(tmp_path):
    require_binary("debsecan")
    output = tmp_path / "report.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "advisory_bench.py"),
        "--servers",
        "2",
        "4",
        "--packages",
        "50",
        "--advisories",
        "300",
        "--peer-sample",
        "0",
        "--output",
        str(output),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(output.read_text())
    results = report["results"]
    assert [r["servers"] for r in results] == [2, 4]
    assert all(r["findings"] > 0 for r in results)
    # The peer ran on every server, and both tools named the same (advisory, package) pairs,
    # by source package and by the binary packages installed from it.
    assert report["peer_agrees"] is True
    for row in results:
        peer = row["peer"]
        assert peer["tool"] == "debsecan"
        assert peer["sample"] == row["servers"]
        check = peer["cross_check"]
        assert check["servers"] == row["servers"]
        assert check["differences"] == 0, check["examples"]
        assert check["source_pairs"] > 0
        # One source package in three installs two binaries: more binary pairs than source.
        assert check["binary_pairs"] > check["source_pairs"]
        assert all(s["debsecan_ms"] > 0 for s in peer["servers"])
    assert "Mamori and debsecan agree" in completed.stdout
