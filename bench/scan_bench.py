"""Benchmark ``mamori scan`` against sslyze and a plain ``openssl s_client`` loop.

One command::

    python bench/scan_bench.py [--endpoints 1000]

It starts one local nginx (tests/support/nginx.py) serving N SNI names on a few ports of
127.0.0.1, each name with its own EC P-256 certificate from a private test CA (leaf +
intermediate served), then measures, in the same run:

1. ``mamori scan -f targets.txt --json`` as a subprocess (default options, including the legacy
   protocol check), wall time from process start to exit, median of ``--repeat`` runs after
   one untimed warm-up pass; all N results must be OK;
2. sslyze (its certificate-info scan only, similar concurrency), through its Python API in a
   separate virtualenv (``bench/results/sslyze-venv``, created on first use with pip, because
   sslyze pins an older ``cryptography`` than Mamori); ``--no-peer`` skips it;
3. the floor: ``openssl s_client`` run sequentially for a sample of endpoints, extrapolated.

Everything stays on loopback. Results are printed and written to ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support.*

from tests.support.nginx import Nginx  # noqa: E402

from mamori.demo.pki import CertificateAuthority  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SSLYZE_VENV = RESULTS / "sslyze-venv"


def log(message: str) -> None:
    print(message, flush=True)


def make_endpoints(n: int, ports: int, workdir: Path) -> tuple[Nginx, list[str], Path]:
    """Start nginx with ``n`` names spread over ``ports`` ports; return targets and CA file."""
    started = time.perf_counter()
    root = CertificateAuthority.create("Mamori Bench Root")
    issuing = root.intermediate("Mamori Bench Issuing CA")
    server = Nginx(workdir / "nginx", worker_connections=8192)
    port_list: list[int] = []
    targets = []
    for index in range(n):
        name = f"site-{index:05d}.bench.mamori.test"
        cert = issuing.issue([name])
        slot = index % ports
        if slot < len(port_list):
            server.add_site(name, cert=cert, port=port_list[slot], server_names=[name])
        else:
            port_list.append(server.add_site(name, cert=cert, server_names=[name]))
        targets.append(f"{name}:{port_list[slot]}{{127.0.0.1}}")
    log(f"  {n} certificates issued in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    server.start(timeout=120)
    log(f"  nginx started on ports {port_list} in {time.perf_counter() - started:.1f} s")
    ca_file = workdir / "ca.pem"
    ca_file.write_text(root.cert_pem)
    return server, targets, ca_file


def run_mamori(targets_file: Path, ca_file: Path, extra: list[str]) -> tuple[float, list[dict]]:
    """One ``mamori scan --json`` subprocess: (wall seconds, parsed results)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("MAMORI_CA_BUNDLE", None)
    env.pop("MAMORI_CA_BUNDLE_FILE", None)
    command = [
        sys.executable, "-m", "mamori.probe.scan_cli",
        "-f", str(targets_file), "--json", "--ca-file", str(ca_file), *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise SystemExit(f"mamori scan failed: {completed.stderr.decode()[-2000:]}")
    return seconds, json.loads(completed.stdout)


def bench_mamori(targets_file: Path, ca_file: Path, n: int, extra: list[str], repeat: int) -> dict:
    """``repeat`` timed runs; the median is the figure, every run must be correct."""
    runs = [run_mamori(targets_file, ca_file, extra) for _ in range(repeat)]
    times = sorted(seconds for seconds, _ in runs)
    median = statistics.median(times)
    correct = True
    problems: dict[str, int] = {}
    for _, results in runs:
        correct &= len(results) == n and all(r["ok"] for r in results)
        for result in results:
            for code in result["problems"]:
                problems[code] = problems.get(code, 0) + 1
    return {
        "command": "mamori scan -f targets.txt --json --ca-file ca.pem " + " ".join(extra),
        "endpoints": len(runs[-1][1]),
        "ok": sum(1 for r in runs[-1][1] if r["ok"]),
        "problems": problems,
        "runs_seconds": [round(t, 3) for t in times],
        "seconds": round(median, 3),
        "endpoints_per_second": round(n / median, 1),
        "best_endpoints_per_second": round(n / times[0], 1),
        "correct": correct,
    }


def ensure_sslyze(explicit: str | None) -> Path | None:
    """Python interpreter that can import sslyze ≥ 6 (creating the venv if needed)."""
    if explicit:
        return Path(explicit)
    python = SSLYZE_VENV / "bin" / "python"
    if not python.exists():
        log("  creating bench/results/sslyze-venv with sslyze>=6 (one-time)…")
        subprocess.run([sys.executable, "-m", "venv", str(SSLYZE_VENV)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "sslyze>=6"],
            capture_output=True,
            check=False,
        )
        if install.returncode != 0:
            log(f"  could not install sslyze: {install.stderr.decode()[-500:]}")
            return None
    return python


def bench_sslyze(python: Path, targets_file: Path, ca_file: Path, n: int, conc: int) -> dict:
    driver = ROOT / "bench" / "sslyze_driver.py"
    started = time.perf_counter()
    completed = subprocess.run(
        [str(python), str(driver), str(targets_file), str(ca_file), str(conc)],
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"sslyze failed: {completed.stderr.decode()[-2000:]}")
    report = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    version = subprocess.run(
        [str(python), "-c", "from sslyze.__version__ import __version__; print(__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "command": f"sslyze {version} certificate_info, concurrent_server_scans_limit={conc}",
        "endpoints": report["completed"],
        "ok": report["trusted"],
        "seconds": round(seconds, 3),
        "endpoints_per_second": round(n / seconds, 1),
        "correct": report["completed"] == n and report["trusted"] == n,
    }


def bench_openssl(targets: list[str], ca_file: Path, sample: int) -> dict:
    openssl = shutil.which("openssl")
    if openssl is None:
        return {"skipped": "openssl not found"}
    step = max(1, len(targets) // sample)
    chosen = targets[::step][:sample]
    verified = 0
    started = time.perf_counter()
    for target in chosen:
        host_port = target.split("{")[0]
        name, _, port = host_port.rpartition(":")
        result = subprocess.run(
            [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", name,
             "-CAfile", str(ca_file), "-verify_return_error", "-brief"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )  # fmt: skip
        verified += result.returncode == 0
    seconds = time.perf_counter() - started
    return {
        "command": "openssl s_client -brief -verify_return_error (sequential loop)",
        "endpoints": len(chosen),
        "ok": verified,
        "seconds": round(seconds, 3),
        "endpoints_per_second": round(len(chosen) / seconds, 1),
        "extrapolated_seconds_for_all": round(seconds * len(targets) / len(chosen), 1),
        "correct": verified == len(chosen),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoints", type=int, default=1000, help="number of SNI names")
    parser.add_argument("--ports", type=int, default=4, help="nginx ports to spread them over")
    parser.add_argument("--sample", type=int, default=100, help="openssl s_client sample size")
    parser.add_argument("--repeat", type=int, default=3, help="timed mamori runs (median)")
    parser.add_argument("--peer-concurrency", type=int, default=100,
                        help="sslyze concurrent_server_scans_limit")  # fmt: skip
    parser.add_argument("--sslyze-python", help="interpreter with sslyze>=6 installed")
    parser.add_argument("--no-peer", action="store_true", help="skip sslyze")
    parser.add_argument("--also-no-legacy", action="store_true",
                        help="also time mamori scan --no-legacy-check")  # fmt: skip
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mamori-bench-"))
    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.platform()}",
        "endpoints": args.endpoints,
    }
    log(f"Setting up {args.endpoints} endpoints…")
    server, targets, ca_file = make_endpoints(args.endpoints, args.ports, workdir)
    try:
        targets_file = workdir / "targets.txt"
        targets_file.write_text("\n".join(targets) + "\n")

        # Warm-up, untimed: nginx's worker touches each site's TLS context for the first time
        # (copy-on-write page faults), which would otherwise penalise whichever tool runs first.
        log("warm-up pass…")
        run_mamori(targets_file, ca_file, ["--no-legacy-check"])

        log(f"mamori scan ×{args.repeat}…")
        report["mamori"] = bench_mamori(targets_file, ca_file, args.endpoints, [], args.repeat)
        log(f"  {report['mamori']}")
        if args.also_no_legacy:
            report["mamori_no_legacy"] = bench_mamori(
                targets_file, ca_file, args.endpoints, ["--no-legacy-check"], args.repeat
            )
            log(f"  {report['mamori_no_legacy']}")

        if not args.no_peer:
            python = ensure_sslyze(args.sslyze_python)
            if python is not None:
                log("sslyze…")
                report["sslyze"] = bench_sslyze(
                    python, targets_file, ca_file, args.endpoints, args.peer_concurrency
                )
                log(f"  {report['sslyze']}")

        log(f"openssl s_client loop over {args.sample} endpoints…")
        report["openssl"] = bench_openssl(targets, ca_file, args.sample)
        log(f"  {report['openssl']}")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    mamori_eps = report["mamori"]["endpoints_per_second"]
    log("")
    log(f"{'tool':<28}{'endpoints/s':>12}{'seconds':>10}{'correct':>9}")
    for key in ("mamori", "mamori_no_legacy", "sslyze", "openssl"):
        entry = report.get(key)
        if not entry or "skipped" in entry:
            continue
        log(f"{key:<28}{entry['endpoints_per_second']:>12}{entry['seconds']:>10}"
            f"{entry['correct']!s:>9}")  # fmt: skip
    for key in ("sslyze", "openssl"):
        entry = report.get(key)
        if entry and "endpoints_per_second" in entry:
            ratio = mamori_eps / entry["endpoints_per_second"]
            report[f"ratio_mamori_{key}"] = round(ratio, 1)
            log(f"mamori / {key}: {ratio:.1f}×")
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["mamori"]["correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
