"""bench/advisory_bench.py still runs end to end at a trivial size (nothing is timed here)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("MNT-02")
def test_advisory_bench_runs_at_a_trivial_size(tmp_path):
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
        "--output",
        str(output),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(output.read_text())["results"]
    assert [r["servers"] for r in results] == [2, 4]
    assert all(r["findings"] > 0 for r in results)
