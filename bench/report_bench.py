"""Benchmark: the monthly report (RPT-01) for many clients in one run — time per report and
peak memory, so that the month's run stays linear in time and bounded in memory.

One command::

    python bench/report_bench.py [--clients 500] [--pdf 5] [--small]

A fresh SQLite database in a temporary data directory is filled in bulk: every client has a
website-maintenance contract, a site with an uptime check (a daily roll-up for each day of
November 2026, one day with failures), an SLA policy, an incident, a maintenance window and a
day of visitors. Then each client's November report is built (``services.build_report``, as the
periodic job does) and timed; ``--pdf`` of them are also rendered as PDFs in both languages.
Peak memory is measured with ``tracemalloc`` over the whole run (Python allocations). Printed,
and written to ``bench/results/report-latest.json`` (git-ignored). ``--small`` builds 3 reports
and renders 1 PDF (the smoke test does).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"
NOVEMBER = dt.date(2026, 11, 1)


def setup_django(data_dir: str) -> None:
    os.environ["MAMORI_DATA_DIR"] = data_dir
    os.environ["MAMORI_DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    import django

    django.setup()


def fill(clients: int) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from mamori.clients.models import Client, Contact, Contract
    from mamori.inventory.models import Site
    from mamori.monitoring.models import Check, Incident, MaintenanceWindow, Rollup, SlaPolicy
    from mamori.weblogs.models import DayFigures

    call_command("migrate", verbosity=0)
    tz = timezone.get_default_timezone()
    rows = Client.objects.bulk_create(
        Client(code=f"c{i:05d}", name=f"顧客 {i}") for i in range(clients)
    )
    Contact.objects.bulk_create(
        Contact(client=c, name="担当", email=f"ops@{c.code}.example", notify=["reports"])
        for c in rows
    )
    Contract.objects.bulk_create(
        Contract(client=c, type="site_maintenance", start=dt.date(2026, 1, 1)) for c in rows
    )
    sites = Site.objects.bulk_create(
        Site(client=c, name=f"www.{c.code}.example", url=f"https://www.{c.code}.example/")
        for c in rows
    )
    checks = Check.objects.bulk_create(
        Check(client_id=s.client_id, site=s, name="www", kind="http", settings={"url": s.url})
        for s in sites
    )
    Rollup.objects.bulk_create(
        Rollup(
            uptime_check=k,
            resolution="1d",
            start=dt.datetime(2026, 11, day, tzinfo=tz),
            count=1440,
            up_count=1400 if day == 10 else 1440,
            sum_ms=144000,
            min_ms=50,
            max_ms=900,
        )
        for k in checks
        for day in range(1, 31)
    )
    SlaPolicy.objects.bulk_create(
        SlaPolicy(client=c, name="SLA", monthly_fee=Decimal(50000), tiers=[]) for c in rows
    )
    Incident.objects.bulk_create(
        Incident(
            client_id=k.client_id,
            uptime_check=k,
            site_id=k.site_id,
            title="www down",
            state="closed",
            total_outage=True,
            started_at=dt.datetime(2026, 11, 10, 3, tzinfo=tz),
            confirmed_at=dt.datetime(2026, 11, 10, 3, tzinfo=tz),
            recovered_at=dt.datetime(2026, 11, 10, 3, 40, tzinfo=tz),
            cause="provider",
        )
        for k in checks
    )
    MaintenanceWindow.objects.bulk_create(
        MaintenanceWindow(
            client=c,
            title="OS updates",
            starts_at=dt.datetime(2026, 11, 20, 1, tzinfo=tz),
            ends_at=dt.datetime(2026, 11, 20, 3, tzinfo=tz),
        )
        for c in rows
    )
    DayFigures.objects.bulk_create(
        DayFigures(site=s, day=dt.date(2026, 11, 1), hits=500, page_views=300, visitors=120)
        for s in sites
    )


def run(clients: int, pdfs: int) -> dict:
    from mamori.clients.models import Client
    from mamori.reports import pdf, services

    tracemalloc.start()
    times = []
    built = 0
    started = time.perf_counter()
    for client in Client.objects.order_by("code").iterator():
        t0 = time.perf_counter()
        report = services.build_report(client, NOVEMBER)
        times.append(time.perf_counter() - t0)
        built += "availability" in report.figures["sections"]
    total = time.perf_counter() - started
    _current, peak_build = tracemalloc.get_traced_memory()
    pdf_times = []
    for report in services.Report.objects.order_by("pk")[:pdfs]:
        for language in ("ja", "en"):
            t0 = time.perf_counter()
            content = pdf.render(report, language)
            pdf_times.append(time.perf_counter() - t0)
            assert content.startswith(b"%PDF")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "clients": clients,
        "reports": len(times),
        "with_availability": built,
        "seconds_total": round(total, 3),
        "ms_per_report_mean": round(1000 * statistics.mean(times), 2),
        "ms_per_report_p95": round(1000 * sorted(times)[int(0.95 * (len(times) - 1))], 2),
        "ms_per_report_max": round(1000 * max(times), 2),
        "peak_mib_building": round(peak_build / 2**20, 2),
        "pdfs": len(pdf_times),
        "ms_per_pdf_mean": round(1000 * statistics.mean(pdf_times), 1) if pdf_times else None,
        "peak_mib_with_pdfs": round(peak / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--pdf", type=int, default=5, help="reports also rendered as PDFs")
    parser.add_argument("--small", action="store_true", help="3 clients, 1 PDF")
    parser.add_argument("--output", default=str(RESULTS / "report-latest.json"))
    args = parser.parse_args()
    clients, pdfs = (3, 1) if args.small else (args.clients, args.pdf)
    with tempfile.TemporaryDirectory() as data_dir:
        setup_django(data_dir)
        from django.test.utils import override_settings

        with override_settings(TIME_ZONE="Asia/Tokyo"):
            fill(clients)
            result = run(clients, pdfs)
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "result": result,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2))
    r = result
    print(
        f"{r['reports']} reports in {r['seconds_total']} s: {r['ms_per_report_mean']} ms each "
        f"(p95 {r['ms_per_report_p95']} ms), peak {r['peak_mib_building']} MiB; "
        f"{r['pdfs']} PDFs at {r['ms_per_pdf_mean']} ms, peak {r['peak_mib_with_pdfs']} MiB"
    )


if __name__ == "__main__":
    main()
