"""bench/monitor_bench.py still runs end to end at a trivial size (nothing is timed here)."""

import json
import subprocess
import sys
from pathlib import Path

from tests.support.env import require_binary
from tests.support.nginx import find_nginx

ROOT = Path(__file__).resolve().parents[2]


def test_monitor_bench_runs_both_parts_at_a_trivial_size(tmp_path):
    require_binary("nginx", find_nginx() or "/usr/sbin/nginx")
    require_binary("prometheus-blackbox-exporter", "/usr/bin/prometheus-blackbox-exporter")
    output = tmp_path / "report.json"
    command = [
        sys.executable, str(ROOT / "bench" / "monitor_bench.py"), "all",
        "--targets", "6", "--repeat", "1", "--concurrency", "3", "--ports", "2",
        "--checks", "12", "--seconds", "3", "--tick", "1", "--output", str(output),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(output.read_text())
    assert report["throughput"]["correct"]
    assert {run["side"] for run in report["throughput"]["runs"]} == {
        "mamori",
        "1-process",
        "blackbox",
    }
    (row,) = report["capacity"]
    assert row["checks"] == 12
    assert row["runs"] == row["samples"] == row["samples_ok"]
    assert row["runs"] > 0
