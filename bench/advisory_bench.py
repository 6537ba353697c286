"""Benchmark: matching servers' package lists against the vulnerability data (MNT-02), time and
memory, for a growing number of servers: the work must grow linearly with the servers.

One command::

    python bench/advisory_bench.py                       # 100, 250, 500 servers
    python bench/advisory_bench.py --servers 50 100 --packages 200 --advisories 2000  # quick

What it does, in a temporary data directory (its own SQLite database, migrated first):

1. Makes synthetic OSV records, as OSV's Debian dump has them: ``--advisories`` records (default
   20,000) over as many Debian 12 source packages (``introduced 0`` / ``fixed`` a
   ``-1~deb12uN`` version; one in ten without a fix), plus PyPI and npm records. They are
   imported through ``feeds.import_records`` (the same path as ``mamori advisories import``);
   the import is timed too.
2. Gives every server ``--packages`` installed packages (default 1,000: about what ``dpkg -l``
   shows on a Debian web server, as source package names), 80 % Debian and the rest PyPI / npm,
   versions drawn so that about one package in four is below its fix.
3. For each count of servers: creates the servers, loads the index once
   (``matching.Index.load``) and runs ``matching.scan_server`` for every server (match, open the
   findings, one operator alert per server), on fresh findings; then again on the same lists
   (the steady state of the hourly job: nothing new). Wall time per pass and per server is
   reported, and the Python heap's peak (``tracemalloc``) of a first pass, measured apart.

Nothing leaves the machine. No peer tool is run: ``osv-scanner`` (Go) cannot be installed here
(no Go toolchain, and it is not packaged for PyPI, npm or Debian 12), and ``pip-audit`` asks the
OSV web API per package, which is neither offline nor the same job.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"

#: Debian source packages the records are spread over: as many as records (set by main).
DEBIAN_PACKAGES = 20000


def debian_version(package: int, level: int) -> str:
    return f"{1 + package % 7}.{package % 13}.{level}-1~deb12u{1 + package % 3}"


def records(count: int, rng: random.Random):
    """Synthetic OSV records (where, data) for import_records."""
    for n in range(count):
        kind = n % 10
        modified = f"2026-0{1 + n % 9}-1{n % 10}T00:00:00Z"
        if kind < 8:  # Debian 12
            package = rng.randrange(DEBIAN_PACKAGES)
            events = [{"introduced": "0"}]
            if n % 10 != 7:  # one in ten Debian records without a fix
                events.append({"fixed": debian_version(package, 5 + rng.randrange(3))})
            affected = {
                "package": {"ecosystem": "Debian:12", "name": f"src{package}"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
            ident = f"DEBIAN-CVE-2099-{n:06d}"
        elif kind == 8:
            package = rng.randrange(600)
            affected = {
                "package": {"ecosystem": "PyPI", "name": f"py-lib{package}"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": f"2.{rng.randrange(8)}.0"}],
                    }
                ],
            }
            ident = f"PYSEC-2099-{n}"
        else:
            package = rng.randrange(600)
            affected = {
                "package": {"ecosystem": "npm", "name": f"js-lib{package}"},
                "ranges": [
                    {
                        "type": "SEMVER",
                        "events": [{"introduced": "1.0.0"}, {"fixed": f"3.{rng.randrange(8)}.0"}],
                    }
                ],
            }
            ident = f"GHSA-bench-{n:06d}"
        yield (
            ident,
            {
                "id": ident,
                "modified": modified,
                "summary": f"synthetic {ident}",
                "severity": [
                    {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}
                ],
                "affected": [affected],
            },
        )


def package_list(size: int, rng: random.Random) -> list[tuple[str, str, str]]:
    debian = int(size * 0.8)
    chosen = rng.sample(range(DEBIAN_PACKAGES), debian)
    result = [("Debian:12", f"src{p}", debian_version(p, rng.randrange(4, 9))) for p in chosen]
    for i in range(size - debian):
        if i % 2:
            result.append(("PyPI", f"py-lib{rng.randrange(600)}", f"2.{rng.randrange(10)}.1"))
        else:
            result.append(("npm", f"js-lib{rng.randrange(600)}", f"3.{rng.randrange(10)}.1"))
    return result


def setup_django(data_dir: str) -> None:
    os.environ["MAMORI_DATA_DIR"] = data_dir
    os.environ["MAMORI_DATABASE_URL"] = f"sqlite:///{data_dir}/bench.sqlite3"
    os.environ["MAMORI_LANGUAGE"] = "en"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def measure(function):
    tracemalloc.start()
    started = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--packages", type=int, default=1000, help="installed per server")
    parser.add_argument("--advisories", type=int, default=20000)
    parser.add_argument("--output", type=Path, default=RESULTS / "advisory-latest.json")
    args = parser.parse_args()
    rng = random.Random(18)
    global DEBIAN_PACKAGES
    DEBIAN_PACKAGES = max(args.advisories, 2 * args.packages)
    with tempfile.TemporaryDirectory() as data_dir:
        setup_django(data_dir)
        from mamori.advisories import feeds, matching
        from mamori.advisories.models import Finding
        from mamori.clients.models import Client
        from mamori.inventory.models import Server
        from mamori.notices.models import Notice

        data = list(records(args.advisories, rng))
        started = time.perf_counter()
        report = feeds.import_records(data, source="bench")
        import_seconds = time.perf_counter() - started
        print(f"import: {report.added} records in {import_seconds:.2f} s", flush=True)
        client = Client.objects.create(code="bench", name="Bench")
        results = []
        for count in args.servers:
            Finding.objects.all().delete()
            Notice.objects.all().delete()
            Server.objects.all().delete()
            servers = [
                Server.objects.create(client=client, name=f"s{i:04d}", kind="vps")
                for i in range(count)
            ]
            lists = {s.pk: package_list(args.packages, rng) for s in servers}

            def scan_all(servers=servers, lists=lists):
                # As the refresh job does (matching.rescan_all): one index, one server at a
                # time, nothing of a server kept once it is done.
                return matching.rescan_all(lambda server: lists[server.pk])

            started = time.perf_counter()
            reports = scan_all()
            first_seconds = time.perf_counter() - started
            opened = sum(o for o, _ in reports.values())
            started = time.perf_counter()
            reports = scan_all()
            again_seconds = time.perf_counter() - started
            assert sum(o for o, _ in reports.values()) == 0
            # The heap's peak of a first pass, measured apart (tracemalloc slows Python down).
            Finding.objects.all().delete()
            Notice.objects.all().delete()
            _, _, first_peak = measure(scan_all)
            row = {
                "servers": count,
                "packages": count * args.packages,
                "findings": opened,
                "first_seconds": round(first_seconds, 2),
                "first_ms_per_server": round(first_seconds * 1000 / count, 1),
                "first_peak_mib": round(first_peak / 2**20, 1),
                "again_seconds": round(again_seconds, 2),
                "again_ms_per_server": round(again_seconds * 1000 / count, 1),
            }
            results.append(row)
            print(
                f"{count:5} servers, {row['packages']:8,} packages, {opened:7,} findings: "
                f"first {first_seconds:6.2f} s ({row['first_ms_per_server']} ms/server, "
                f"peak {row['first_peak_mib']} MiB); "
                f"again {again_seconds:6.2f} s ({row['again_ms_per_server']} ms/server)",
                flush=True,
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    machine = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    args.output.write_text(
        json.dumps(
            {
                "machine": machine,
                "advisories": args.advisories,
                "import_seconds": round(import_seconds, 2),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
