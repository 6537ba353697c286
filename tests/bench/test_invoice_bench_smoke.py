"""bench/invoice_bench.py still runs end to end at a trivial size (nothing is timed here), and
the invoice run's queries grow by a fixed number per invoice (BIL-01)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.req("BIL-01")
def test_invoice_bench_runs_at_a_trivial_size(tmp_path):
    output = tmp_path / "report.json"
    command = [sys.executable, str(ROOT / "bench" / "invoice_bench.py"), "--small"]
    command += ["--output", str(output)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(output.read_text())
    small, large = report["results"]
    assert (small["invoices"], large["invoices"]) == (3 * 2, 10 * 2)
    # Linear: every further invoice costs the same whole number of queries.
    assert report["marginal_queries_per_invoice"] == int(report["marginal_queries_per_invoice"])
    assert large["queries_per_invoice"] < small["queries_per_invoice"]
