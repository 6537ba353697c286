"""bench/report_bench.py still runs end to end at a trivial size (nothing is timed here)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("RPT-01")
def test_report_bench_runs_at_a_trivial_size(tmp_path):
    output = tmp_path / "report.json"
    command = [sys.executable, str(ROOT / "bench" / "report_bench.py"), "--small"]
    command += ["--output", str(output)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(output.read_text())["result"]
    assert (result["reports"], result["with_availability"], result["pdfs"]) == (3, 3, 2)
    assert result["peak_mib_building"] > 0 and result["ms_per_report_mean"] > 0
