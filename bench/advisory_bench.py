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

4. The peer, ``debsecan`` (Debian's own per-server checker, the one a provider runs from cron on
   each server), on the SAME data: the Debian records are written as the file debsecan
   downloads for a suite (``<source>/bookworm``: zlib-compressed, ``VERSION 1``, then the
   vulnerability names, the (package, vulnerability, flags, fixed version) lines and the source
   to binary map), served from a local directory through a ``file://`` URL (``--source``); each
   server's Debian packages are written as a dpkg status file (binary packages with their
   ``Source:`` field), and ``debsecan --suite bookworm --status <file> --format simple`` runs
   once per server, as a separate process, as it does on a real server. An OSV record
   ``introduced 0, fixed V`` becomes a source-package line whose fixed version is V (debsecan:
   affected when the source version is below it); a record without a fix, an empty fixed
   version (debsecan: always affected).
5. Cross-check, for every server debsecan ran on: debsecan names (vulnerability, *binary*
   package) pairs, Mamori's findings (advisory, *source* package) with the binaries installed
   from it; both are compared, at the source level (debsecan's binaries mapped back to their
   source through the status file) and at the binary level. Any difference is printed and makes
   the command exit 1.

debsecan runs on a fixed sample of each count's servers (``--peer-sample``, default the first
50 by id; 0 = all): one process per server costs about a tenth of a second of start-up and data
parsing, which would double the default run. Nothing leaves the machine. ``osv-scanner`` (Go)
cannot be installed here (no Go toolchain, and it is not packaged for PyPI, npm or Debian 12),
and ``pip-audit`` asks the OSV web API per package, which is neither offline nor the same job.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
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


#: The Debian suite of the servers (Debian 12), as debsecan names it.
SUITE = "bookworm"


def binaries_of(package: int) -> tuple[str, ...]:
    """The binary packages built from source package ``src<package>``: one in three also builds
    a binary of the source's own name (dpkg then writes no ``Source:`` field)."""
    if package % 3 == 0:
        return (f"lib{package}", f"src{package}")
    return (f"lib{package}",)


def package_list(size: int, rng: random.Random) -> list[tuple]:
    """A server's installed software: Debian items are (ecosystem, source package, source
    version, binary packages), as ``matching.inventory_of`` gives them."""
    debian = int(size * 0.8)
    chosen = rng.sample(range(DEBIAN_PACKAGES), debian)
    result: list[tuple] = [
        ("Debian:12", f"src{p}", debian_version(p, rng.randrange(4, 9)), binaries_of(p))
        for p in chosen
    ]
    for i in range(size - debian):
        if i % 2:
            result.append(("PyPI", f"py-lib{rng.randrange(600)}", f"2.{rng.randrange(10)}.1"))
        else:
            result.append(("npm", f"js-lib{rng.randrange(600)}", f"3.{rng.randrange(10)}.1"))
    return result


def debsecan_data(data: list[tuple[str, dict]], directory: Path) -> None:
    """Write the Debian records as the per-suite file debsecan downloads from its ``--source``
    URL (``<source>/<suite>``): zlib-compressed text, ``VERSION 1``, then three sections each
    ended by an empty line: ``name,flags,description`` per vulnerability;
    ``package,vulnerability number,flags,fixed version,other fixed versions`` per affected
    package (flags: ``S`` source package, no urgency, remote unknown, ``F`` when fixed);
    ``source,binary binary ...``."""
    names: list[str] = []
    lines: list[str] = []
    sources: set[int] = set()
    for ident, record in data:
        for affected in record["affected"]:
            if affected["package"]["ecosystem"] != "Debian:12":
                continue
            package = affected["package"]["name"]
            fixed = ""
            for events in affected["ranges"]:
                for event in events["events"]:
                    fixed = event.get("fixed", fixed)
            number = len(names)
            names.append(f"{ident},,{record['summary']}")
            flags = "S ?" + ("F" if fixed else " ")
            lines.append(f"{package},{number},{flags},{fixed},")
            sources.add(int(package.removeprefix("src")))
    binaries = [f"src{p},{' '.join(binaries_of(p))}" for p in sorted(sources)]
    text = "\n".join(["VERSION 1", *names, "", *lines, "", *binaries, ""]) + "\n"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SUITE).write_bytes(zlib.compress(text.encode()))


def status_file(installed: list[tuple], path: Path) -> dict[str, str]:
    """Write a server's Debian packages as dpkg's status file; returns {binary: source}.
    One source package in five has been rebuilt (a binNMU): its binaries' version is the
    source's plus ``+b1``, and their ``Source:`` field names the source version."""
    records = []
    source_of: dict[str, str] = {}
    for ecosystem, source, version, binaries in (i for i in installed if len(i) == 4):
        assert ecosystem == "Debian:12"
        rebuilt = int(source.removeprefix("src")) % 5 == 0
        for binary in binaries:
            source_of[binary] = source
            fields = [f"Package: {binary}", "Status: install ok installed"]
            fields.append(f"Version: {version}+b1" if rebuilt else f"Version: {version}")
            if rebuilt:
                fields.append(f"Source: {source} ({version})")
            elif binary != source:
                fields.append(f"Source: {source}")
            fields.append("Architecture: amd64")
            records.append("\n".join(fields) + "\n")
    # A package removed with its configuration kept: dpkg lists it, nobody scans it.
    records.append(
        "Package: removed-tool\nStatus: deinstall ok config-files\nVersion: 0.1-1\n"
        "Architecture: amd64\n"
    )
    path.write_text("\n".join(records))
    return source_of


def run_debsecan(debsecan: str, source_dir: Path, status: Path, work: Path) -> tuple[float, str]:
    """One debsecan run on one server's status file; (wall seconds, its output)."""
    command = [
        debsecan,
        "--suite",
        SUITE,
        "--source",
        source_dir.as_uri() + "/",
        "--status",
        str(status),
        "--format",
        "simple",
        # Neither the machine's /etc/default/debsecan nor its whitelist may change the answer.
        "--config",
        str(work / "no-config"),
        "--whitelist",
        str(work / "no-whitelist"),
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0 or completed.stderr:
        raise SystemExit(f"debsecan failed ({completed.returncode}): {completed.stderr.strip()}")
    return seconds, completed.stdout


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


def timed_provider(lists: dict, marks: list):
    """The bench's provider for ``rescan_all``, noting when each server's scan starts: the
    difference between two marks is one server's scan (match, findings, audit, alert)."""

    def provide(server):
        marks.append((server.pk, time.perf_counter()))
        return lists[server.pk]

    return provide


def per_server(marks: list, finished: float) -> dict[int, float]:
    ends = [t for _, t in marks[1:]] + [finished]
    return {pk: end - start for (pk, start), end in zip(marks, ends, strict=True)}


def cross_check(server, output: str, source_of: dict[str, str]) -> dict:
    """Compare debsecan's (vulnerability, binary) lines with the server's open Debian
    findings, at the source and the binary level; returns counts and up to 5 differences."""
    from mamori.advisories.models import Finding

    debsecan_binary = set()
    for line in output.splitlines():
        ident, binary = line.split()
        debsecan_binary.add((ident, binary))
    debsecan_source = {(ident, source_of[binary]) for ident, binary in debsecan_binary}
    findings = Finding.objects.open().filter(server=server, ecosystem="Debian:12")
    mamori_source, mamori_binary = set(), set()
    for ident, package, binaries in findings.values_list("advisory__osv_id", "package", "binaries"):
        mamori_source.add((ident, package))
        mamori_binary.update((ident, binary) for binary in binaries)
    differences = [
        f"{server.name}: only debsecan: {ident} {name}"
        for ident, name in sorted(debsecan_source - mamori_source)
    ] + [
        f"{server.name}: only Mamori: {ident} {name}"
        for ident, name in sorted(mamori_source - debsecan_source)
    ]
    differences += [
        f"{server.name}: binary level, only debsecan: {ident} {name}"
        for ident, name in sorted(debsecan_binary - mamori_binary)
    ] + [
        f"{server.name}: binary level, only Mamori: {ident} {name}"
        for ident, name in sorted(mamori_binary - debsecan_binary)
    ]
    return {
        "source_pairs": len(mamori_source),
        "binary_pairs": len(mamori_binary),
        "differences": len(differences),
        "examples": differences[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--packages", type=int, default=1000, help="installed per server")
    parser.add_argument("--advisories", type=int, default=20000)
    parser.add_argument(
        "--peer-sample",
        type=int,
        default=50,
        help="servers of each count debsecan runs on (the first by id); 0: all",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "advisory-latest.json")
    args = parser.parse_args()
    debsecan = shutil.which("debsecan")
    if debsecan is None:
        parser.error("debsecan is not installed (apt-get install debsecan)")
    rng = random.Random(18)
    global DEBIAN_PACKAGES
    DEBIAN_PACKAGES = max(args.advisories, 2 * args.packages)
    agree = True
    with tempfile.TemporaryDirectory() as data_dir:
        setup_django(data_dir)
        from mamori.advisories import feeds, matching
        from mamori.advisories.models import Finding
        from mamori.clients.models import Client
        from mamori.inventory.models import Server
        from mamori.notices.models import Notice

        work = Path(data_dir)
        data = list(records(args.advisories, rng))
        started = time.perf_counter()
        report = feeds.import_records(data, source="bench")
        import_seconds = time.perf_counter() - started
        print(f"import: {report.added} records in {import_seconds:.2f} s", flush=True)
        source_dir = work / "debsecan-data"
        debsecan_data(data, source_dir)
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

            def scan_all(servers=servers, lists=lists, marks=None):
                # As the refresh job does (matching.rescan_all): one index, one server at a
                # time, nothing of a server kept once it is done.
                marks = [] if marks is None else marks
                return matching.rescan_all(timed_provider(lists, marks))

            first_marks: list = []
            started = time.perf_counter()
            reports = scan_all(marks=first_marks)
            finished = time.perf_counter()
            first_seconds = finished - started
            first_each = per_server(first_marks, finished)
            opened = sum(o for o, _ in reports.values())
            again_marks: list = []
            started = time.perf_counter()
            reports = scan_all(marks=again_marks)
            finished = time.perf_counter()
            again_seconds = finished - started
            again_each = per_server(again_marks, finished)
            assert sum(o for o, _ in reports.values()) == 0

            # The peer on a fixed sample, and the cross-check against Mamori's open findings.
            sample = servers if args.peer_sample == 0 else servers[: args.peer_sample]
            peer_rows, checks = [], []
            for server in sample:
                status = work / f"status-{server.name}"
                source_of = status_file(lists[server.pk], status)
                seconds, output = run_debsecan(debsecan, source_dir, status, work)
                check = cross_check(server, output, source_of)
                checks.append(check)
                peer_rows.append(
                    {
                        "server": server.name,
                        "debsecan_ms": round(seconds * 1000, 1),
                        "mamori_first_ms": round(first_each[server.pk] * 1000, 1),
                        "mamori_again_ms": round(again_each[server.pk] * 1000, 1),
                        "source_pairs": check["source_pairs"],
                        "differences": check["differences"],
                    }
                )
            differences = sum(c["differences"] for c in checks)
            agree = agree and differences == 0

            # The heap's peak of a first pass, measured apart (tracemalloc slows Python down).
            Finding.objects.all().delete()
            Notice.objects.all().delete()
            _, _, first_peak = measure(scan_all)
            debsecan_ms = statistics.median(r["debsecan_ms"] for r in peer_rows)
            mamori_first_ms = statistics.median(r["mamori_first_ms"] for r in peer_rows)
            mamori_again_ms = statistics.median(r["mamori_again_ms"] for r in peer_rows)
            row = {
                "servers": count,
                "packages": count * args.packages,
                "findings": opened,
                "first_seconds": round(first_seconds, 2),
                "first_ms_per_server": round(first_seconds * 1000 / count, 1),
                "first_peak_mib": round(first_peak / 2**20, 1),
                "again_seconds": round(again_seconds, 2),
                "again_ms_per_server": round(again_seconds * 1000 / count, 1),
                "peer": {
                    "tool": "debsecan",
                    "sample": len(peer_rows),
                    "median_ms": {
                        "debsecan": debsecan_ms,
                        "mamori_first": mamori_first_ms,
                        "mamori_again": mamori_again_ms,
                    },
                    "ratio_mamori_over_debsecan": {
                        "first": round(mamori_first_ms / debsecan_ms, 3),
                        "again": round(mamori_again_ms / debsecan_ms, 3),
                    },
                    "cross_check": {
                        "servers": len(checks),
                        "source_pairs": sum(c["source_pairs"] for c in checks),
                        "binary_pairs": sum(c["binary_pairs"] for c in checks),
                        "differences": differences,
                        "examples": [e for c in checks for e in c["examples"]][:20],
                    },
                    "servers": peer_rows,
                },
            }
            results.append(row)
            print(
                f"{count:5} servers, {row['packages']:8,} packages, {opened:7,} findings: "
                f"first {first_seconds:6.2f} s ({row['first_ms_per_server']} ms/server, "
                f"peak {row['first_peak_mib']} MiB); "
                f"again {again_seconds:6.2f} s ({row['again_ms_per_server']} ms/server)",
                flush=True,
            )
            print(
                f"      debsecan on {len(peer_rows)} of {count} servers (the first by id), "
                "time per server in ms:",
                flush=True,
            )
            print(
                "        server   Mamori first  Mamori again  debsecan  "
                "Mamori/debsecan (first, again)  pairs  differences"
            )
            shown = peer_rows if len(peer_rows) <= 6 else peer_rows[:3] + peer_rows[-3:]
            for r in shown:
                print(
                    f"        {r['server']:>6} {r['mamori_first_ms']:14.1f}"
                    f"{r['mamori_again_ms']:14.1f}{r['debsecan_ms']:10.1f}"
                    f"  {r['mamori_first_ms'] / r['debsecan_ms']:14.3f}"
                    f"{r['mamori_again_ms'] / r['debsecan_ms']:8.3f}"
                    f"{r['source_pairs']:15}{r['differences']:13}"
                )
            print(
                f"        median {mamori_first_ms:14.1f}{mamori_again_ms:14.1f}{debsecan_ms:10.1f}"
                f"  {row['peer']['ratio_mamori_over_debsecan']['first']:14.3f}"
                f"{row['peer']['ratio_mamori_over_debsecan']['again']:8.3f}",
                flush=True,
            )
            check = row["peer"]["cross_check"]
            verdict = "agree" if differences == 0 else f"DISAGREE on {differences} pairs"
            print(
                f"      cross-check, {check['servers']} servers: {check['source_pairs']:,} "
                f"(advisory, source package) and {check['binary_pairs']:,} (advisory, binary "
                f"package) pairs: Mamori and debsecan {verdict}",
                flush=True,
            )
            for example in check["examples"]:
                print(f"        {example}")
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
                "peer_agrees": agree,
                "results": results,
            },
            indent=2,
        )
    )
    if not agree:
        sys.exit("Mamori and debsecan disagree: see the differences above")


if __name__ == "__main__":
    main()
