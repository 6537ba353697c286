"""bench/import_bench.py still runs end to end at a trivial size (nothing is timed here)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_bench_runs_every_file_at_a_trivial_size(tmp_path):
    output = tmp_path / "report.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "import_bench.py"),
        "--small",
        "--output",
        str(output),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(output.read_text())["results"]
    assert len(results) == 7
    assert all(row["listed"] <= 100 for row in results)
    assert results[-1]["problems"] == 0  # the valid rows import
