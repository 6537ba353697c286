"""Benchmark: the invoice run (BIL-01) over a provider's year — time and queries per invoice, so
that the run stays linear in the number of clients.

One command::

    python bench/invoice_bench.py [--clients 1000] [--compare 100] [--months 12] [--small]

For each size (``--compare`` clients, then ``--clients``) a fresh SQLite database in a temporary
data directory is filled in bulk: every client has a contract from December 2025 with a monthly
fee and an annual fee, one one-off charge each month, and every tenth client a finalized SLA
credit each month. Then each month of 2026 is run in turn (``run_month``, not a dry run), as an
operator would, and the wall time and the number of SQL queries of each run are measured.
Printed, and written to ``bench/results/invoice-latest.json`` (git-ignored): per size, the
invoices issued, seconds and queries per invoice. Linear means the queries per invoice are the
same at both sizes (the run reads everything it needs in a fixed number of queries, then
writes each invoice in a fixed number), and the time per invoice about the same.
``--small`` runs 3 and 10 clients over 2 months (the smoke test does).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"


def setup_django(data_dir: str) -> None:
    os.environ["MAMORI_DATA_DIR"] = data_dir
    os.environ["MAMORI_DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    os.environ["MAMORI_LANGUAGE"] = "en"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    import django

    django.setup()


def fill(clients: int, months: int) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from mamori.billing.models import Charge, Fee, IssuerProfile
    from mamori.clients.models import Client, Contact, Contract
    from mamori.monitoring.models import SlaCredit, SlaPolicy

    call_command("migrate", verbosity=0)
    IssuerProfile.objects.update_or_create(
        pk=1, defaults={"name": "Bench provider", "registration_number": "T1234567890123"}
    )
    rows = Client.objects.bulk_create(
        Client(code=f"c{i:05d}", name=f"顧客 {i}") for i in range(clients)
    )
    Contact.objects.bulk_create(
        Contact(client=c, name="経理", email=f"billing@{c.code}.example", notify=["billing"])
        for c in rows
    )
    contracts = Contract.objects.bulk_create(
        Contract(client=c, type="operations_support", start=dt.date(2025, 12, 1)) for c in rows
    )
    Fee.objects.bulk_create(
        [Fee(contract=k, kind="monthly", amount=Decimal(50000)) for k in contracts]
        + [Fee(contract=k, kind="annual", amount=Decimal(120000)) for k in contracts]
    )
    Charge.objects.bulk_create(
        Charge(
            client=c,
            source="manual",
            description="作業",
            occurred_on=dt.date(2026, m, 10),
            unit_price=Decimal(3000 + m),
        )
        for c in rows
        for m in range(1, months + 1)
    )
    policies = SlaPolicy.objects.bulk_create(
        SlaPolicy(client=c, name="SLA", monthly_fee=Decimal(50000)) for c in rows[::10]
    )
    now = timezone.now()
    SlaCredit.objects.bulk_create(
        SlaCredit(
            policy=p,
            month=dt.date(2025 + (m == 0), 12 if m == 0 else m, 1),
            minutes_in_month=43200,
            maintenance_minutes=0,
            downtime_minutes=100,
            excluded_minutes=0,
            longest_outage_minutes=100,
            availability_percent=Decimal("99.7"),
            credit_percent=Decimal(10),
            credit_amount=Decimal(5000),
            finalized_at=now,
        )
        for p in policies
        for m in range(0, months)
    )


class Counter:
    """Counts the SQL statements run through the connection (no limit, unlike Django's log)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measure(clients: int, months: int) -> dict:
    from django.db import connection

    from mamori.billing.run import run_month

    fill(clients, months)
    runs = []
    for m in range(1, months + 1):
        month = dt.date(2026, m, 1)
        queries = Counter()
        with connection.execute_wrapper(queries):
            started = time.perf_counter()
            report = run_month(month, today=dt.date(2026, m, 28))
            seconds = time.perf_counter() - started
        issued = len(report.by_status("issued"))
        runs.append(
            {
                "month": f"{month:%Y-%m}",
                "invoices": issued,
                "seconds": seconds,
                "queries": queries.count,
            }
        )
    invoices = sum(r["invoices"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    queries = sum(r["queries"] for r in runs)
    return {
        "clients": clients,
        "months": months,
        "invoices": invoices,
        "seconds": round(seconds, 3),
        "ms_per_invoice": round(1000 * seconds / max(invoices, 1), 3),
        "queries": queries,
        "queries_per_invoice": round(queries / max(invoices, 1), 2),
        "max_queries_per_invoice_in_a_month": max(
            round(r["queries"] / max(r["invoices"], 1), 2) for r in runs
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--compare", type=int, default=100, help="the smaller size")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--small", action="store_true", help="trivial sizes, for the smoke test")
    parser.add_argument("--output", type=Path, default=RESULTS / "invoice-latest.json")
    args = parser.parse_args()
    sizes, months = [args.compare, args.clients], args.months
    if args.small:
        sizes, months = [3, 10], 2
    results = []
    for size in sizes:
        # A fresh database per size: Django is set up once, so each size gets its own process.
        results.append(run_size(size, months))
        row = results[-1]
        print(
            f"{row['clients']:>6} clients × {months} months: {row['invoices']:>6} invoices in "
            f"{row['seconds']:8.2f} s = {row['ms_per_invoice']:7.2f} ms and "
            f"{row['queries_per_invoice']:6.2f} queries per invoice",
            flush=True,
        )
    small, large = results[0], results[-1]
    # What one more invoice costs: the difference between the sizes over the invoices added.
    marginal = (large["queries"] - small["queries"]) / max(large["invoices"] - small["invoices"], 1)
    growth = large["ms_per_invoice"] / max(small["ms_per_invoice"], 0.001)
    print(
        f"each further invoice: {marginal:.2f} queries; time per invoice at the larger size: "
        f"{growth:.2f} × the smaller",
        flush=True,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "machine": platform.machine()}
    summary = {"marginal_queries_per_invoice": round(marginal, 2), "time_growth": round(growth, 2)}
    args.output.write_text(
        json.dumps({"machine": machine, "results": results, **summary}, indent=2)
    )


def run_size(clients: int, months: int) -> dict:
    """One size in a child process of its own (its own database and Django setup)."""
    import subprocess

    with tempfile.TemporaryDirectory() as data_dir:
        out = Path(data_dir) / "size.json"
        command = [sys.executable, __file__, "--one", str(clients), str(months), str(out)]
        subprocess.run(command, check=True, env={**os.environ, "MAMORI_DATA_DIR": data_dir})
        return json.loads(out.read_text())


def one(clients: int, months: int, out: Path) -> None:
    setup_django(os.environ["MAMORI_DATA_DIR"])
    out.write_text(json.dumps(measure(clients, months)))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        one(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
