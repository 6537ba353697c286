"""bench/weblog_bench.py still runs end to end at a trivial size (nothing is timed here), with
its peer: GoAccess reads the same generated log and accepts the same lines as Mamori."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.env import require_binary

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("MNT-06")
def test_weblog_bench_runs_at_a_trivial_size_with_goaccess(tmp_path):
    require_binary("goaccess")
    output = tmp_path / "result.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "weblog_bench.py"),
        "--size",
        "200K",
        "--output",
        str(output),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["lines"] > 500
    assert result["mamori_rejected"] == 0
    assert result["mamori_hits"] == result["goaccess_valid_requests"] == result["lines"]
    assert result["mamori_lines_per_second"] > 0 and result["goaccess_lines_per_second"] > 0
