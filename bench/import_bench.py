"""Benchmark: how long ``import_file`` takes on files no inventory looks like, and how large
its report is (security review, issue 13: a CSV of 10,000 columns took 10 s, 100,000 more
than 3 minutes).

One command::

    python bench/import_bench.py [--small]

Each file is imported as a dry run by the system user into a temporary data directory (its
own SQLite database, migrated first, with one client ``acme``), in this process; the wall time
of ``import_file``, the number of problems found, the number listed and the size of the listed
problems as text are printed and written to ``bench/results/import-latest.json`` (git-ignored).
``--small`` runs every file at a trivial size (the smoke test does).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"


def wide_csv(columns: int) -> bytes:
    header = "client,host," + ",".join(f"extra{i}" for i in range(columns))
    return f"{header}\nacme,www.acme.example\n".encode()


def unknown_keys_yaml(keys: int) -> bytes:
    return ("clients:\n  - code: acme\n" + "".join(f"    k{i}: 1\n" for i in range(keys))).encode()


def rows_csv(rows: int, port: str = "") -> bytes:
    lines = "".join(f"acme,h{i}.acme.example,{port}\n" for i in range(rows))
    return ("client,host,port\n" + lines).encode()


def short_rows_csv(rows: int) -> bytes:
    """Rows as short as a CSV row can be, so that a million fit in the 10 MB limit."""
    return b"client,host\n" + b"".join(b"a,%d\n" % i for i in range(rows))


def files(small: bool) -> list[tuple[str, Callable[[], bytes]]]:
    scale = 100 if small else 1
    return [
        ("csv, 10,000 unknown columns", lambda: wide_csv(10_000 // scale)),
        ("csv, 100,000 unknown columns", lambda: wide_csv(100_000 // scale)),
        ("csv, 90 unknown columns", lambda: wide_csv(90)),
        ("yaml, 100,000 unknown keys in one record", lambda: unknown_keys_yaml(100_000 // scale)),
        ("csv, 10,000 rows with a bad port", lambda: rows_csv(10_000 // scale, "https")),
        ("csv, 1,000,000 rows (7.9 MB)", lambda: short_rows_csv(1_000_000 // scale)),
        ("csv, 2,000 valid rows", lambda: rows_csv(2_000 // scale)),
    ]


def setup_django(data_dir: str) -> None:
    os.environ["MAMORI_DATA_DIR"] = data_dir
    os.environ["MAMORI_DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    os.environ["MAMORI_LANGUAGE"] = "en"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from mamori.clients.models import Client

    Client.objects.create(code="acme", name="株式会社アクメ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="trivial sizes, for the smoke test")
    parser.add_argument("--output", type=Path, default=RESULTS / "import-latest.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        setup_django(data_dir)
        from mamori.inventory.transfer import import_file

        results = []
        for label, make in files(args.small):
            data = make()
            name = "bench.yaml" if label.startswith("yaml") else "bench.csv"
            started = time.perf_counter()
            report = import_file(data, filename=name, dry_run=True)
            seconds = time.perf_counter() - started
            row = {
                "file": label,
                "bytes": len(data),
                "seconds": round(seconds, 3),
                "problems": report.error_count,
                "listed": len(report.errors),
                "listed_chars": sum(len(str(e)) for e in report.errors),
                "first": str(report.errors[0]) if report.errors else "",
            }
            results.append(row)
            print(
                f"{label:44} {seconds:8.2f} s  {row['problems']:>7} problems, "
                f"{row['listed']} listed ({row['listed_chars']:,} characters)",
                flush=True,
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "machine": platform.machine()}
    args.output.write_text(json.dumps({"machine": machine, "results": results}, indent=2))


if __name__ == "__main__":
    main()
