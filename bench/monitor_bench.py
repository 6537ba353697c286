"""Benchmark Mamori's uptime checks: probe throughput against Prometheus blackbox_exporter, and
how many 60-second checks one machine keeps on schedule.

One command::

    python bench/monitor_bench.py                         # both parts, default sizes
    python bench/monitor_bench.py throughput --targets 2000
    python bench/monitor_bench.py capacity --checks 5000,10000,20000 --seconds 130

**throughput**: one local nginx (tests/support/nginx.py) serves HTTPS on a few ports of
127.0.0.1 with a certificate from a private test CA (IP address SAN). N targets
``https://127.0.0.1:<port>/t/<i>`` are checked, in the same run,

1. by Mamori's executor, the call built by ``monitoring.kinds.probe_call`` for each URL (the
   CA given as ``ca_bundle_pem``) run by the probe workers (see below);
2. by ``prometheus-blackbox-exporter`` (module ``http_2xx`` trusting the same CA file), driven
   through ``/probe?target=…&module=http_2xx`` by a raw asyncio HTTP/1.1 client with the same
   concurrency.

Neither tool reuses target connections (Mamori's check clients keep no keep-alive
connections; blackbox_exporter opens a connection per probe), so every check is a TCP + TLS
handshake and a GET. Every check must succeed (``ok`` / ``probe_success 1``).

**capacity**: in a subprocess with a temporary ``MAMORI_DATA_DIR`` (embedded SQLite), K HTTPS
checks at interval 60 s are created, up (the steady state of a running Mamori), with
``next_run_at`` staggered evenly over one minute. Then the uptime runner of ``mamori serve``
(``monitoring.uptime.UptimeRunner`` with its probe worker processes, ``--processes``, default one
per core) ticks every ``--tick`` seconds for ``--seconds`` of wall time. For each run, the
scheduling delay is the run's start (``Sample.at``) minus the slot it was due; the slot is taken
from the claim itself (``claim_due`` is wrapped to note ``check.slot``). Slots that were due
before the end but never claimed count as missed. A K fits when p99 < 2 s and nothing is missed.

The **throughput** part runs Mamori's checks twice: through a running ``ProbePool`` (the
workers ``mamori serve`` uses; the row that counts) and in this one process with ``run_checks``
(for reference); total checks in flight are the same as the exporter's.

Results are printed and written to ``bench/results/monitor-latest.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support.*
sys.path.insert(0, str(ROOT / "src"))

RESULTS = ROOT / "bench" / "results"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"


def log(message: str) -> None:
    print(message, flush=True)


# --- targets -------------------------------------------------------------------------------------


def start_targets(workdir: Path, ports: int):
    """nginx serving HTTPS on ``ports`` ports of 127.0.0.1; (server, port list, CA file)."""
    from tests.support.nginx import Nginx

    from mamori.demo.pki import CertificateAuthority

    root = CertificateAuthority.create("Mamori Bench Root")
    issuing = root.intermediate("Mamori Bench Issuing CA")
    cert = issuing.issue(["127.0.0.1"])
    server = Nginx(workdir / "nginx", worker_connections=8192)
    port_list = [
        server.add_site(f"site-{i}", cert=cert, server_names=["127.0.0.1"]) for i in range(ports)
    ]
    server.start(timeout=60)
    ca_file = workdir / "ca.pem"
    ca_file.write_text(root.cert_pem)
    return server, port_list, ca_file


def target_urls(n: int, ports: list[int]) -> list[str]:
    return [f"https://127.0.0.1:{ports[i % len(ports)]}/t/{i}" for i in range(n)]


# --- throughput ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary(tool: str, results: list, seconds: float, cpu: float) -> dict:
    ok = sum(r.ok for r in results)
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            errors[r.error_code] = errors.get(r.error_code, 0) + 1
    return {
        "tool": tool,
        "checks": len(results),
        "ok": ok,
        "errors": errors,
        "seconds": round(seconds, 3),
        "checks_per_second": round(len(results) / seconds, 1),
        "cpu_seconds": round(cpu, 2),
        "correct": ok == len(results),
    }


def http_specs(urls: list[str], ca_pem: str) -> list:
    from mamori.monitoring.kinds import probe_call

    return [probe_call("http", {"url": url, "ca_bundle_pem": ca_pem}, 10) for url in urls]


def bench_in_process(urls: list[str], ca_pem: str, concurrency: int) -> dict:
    """``run_checks`` in this process: one asyncio loop, one core."""
    from mamori.probe.checks import run_checks

    specs = http_specs(urls, ca_pem)
    cpu = time.process_time()
    started = time.perf_counter()
    results = asyncio.run(run_checks(specs, concurrency=concurrency))
    seconds = time.perf_counter() - started
    return _summary("mamori run_checks, 1 process", results, seconds, time.process_time() - cpu)


def bench_pool(pool, urls: list[str], ca_pem: str) -> dict:
    """The executor of ``mamori serve``: the probe worker processes of a running
    :class:`~mamori.monitoring.probing.ProbePool` (started before the clock starts, as in
    a running Mamori), fed all jobs at once; CPU is the workers' and this process's."""
    specs = http_specs(urls, ca_pem)
    pids = pool.pids()
    cpu = sum(cpu_seconds(pid) for pid in pids) + time.process_time()
    started = time.perf_counter()
    pool.submit((index, kind, kwargs) for index, (kind, kwargs) in enumerate(specs))
    results: dict = {}
    while len(results) < len(specs):
        results.update(pool.collect(time.monotonic() + 0.05))
    seconds = time.perf_counter() - started
    cpu = sum(cpu_seconds(pid) for pid in pids) + time.process_time() - cpu
    ordered = [results[index] for index in range(len(specs))]
    tool = f"mamori probe workers, {pool.processes} processes"
    return _summary(tool, ordered, seconds, cpu)


def start_blackbox(workdir: Path, ca_file: Path) -> tuple[subprocess.Popen, int]:
    from tests.support.nginx import free_port

    config = workdir / "blackbox.yml"
    config.write_text(
        "modules:\n"
        "  http_2xx:\n"
        "    prober: http\n"
        "    timeout: 10s\n"
        "    http:\n"
        "      preferred_ip_protocol: ip4\n"
        "      tls_config:\n"
        f"        ca_file: {ca_file}\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [BLACKBOX, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "blackbox.log").open("wb"),
    )
    import httpx

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/-/healthy", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"blackbox_exporter did not start: {(workdir / 'blackbox.log').read_text()}")


async def _drive_blackbox(port: int, urls: list[str], concurrency: int) -> list[bool]:
    """``concurrency`` keep-alive HTTP/1.1 connections to the exporter, raw asyncio streams
    (httpx cost ~17 ms of client CPU per request here, more than the exporter itself)."""
    from urllib.parse import quote

    queue = list(enumerate(urls))
    queue.reverse()
    oks = [False] * len(urls)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                index, url = queue.pop()
                path = f"/probe?module=http_2xx&target={quote(url, safe='')}"
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = None
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length is not None:
                    body = await reader.readexactly(length)
                else:  # Transfer-Encoding: chunked
                    body = b""
                    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                        body += (await reader.readexactly(size + 2))[:-2]
                    await reader.readuntil(b"\r\n")
                oks[index] = head.startswith(b"HTTP/1.1 200") and b"\nprobe_success 1\n" in body
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(urls))))))
    return oks


def bench_blackbox(workdir: Path, ca_file: Path, urls: list[str], concurrency: int) -> dict:
    process, port = start_blackbox(workdir, ca_file)
    try:
        version = subprocess.run(
            [BLACKBOX, "--version"], capture_output=True, text=True, check=False
        )
        version_line = (version.stdout or version.stderr).splitlines()[0]
        asyncio.run(_drive_blackbox(port, urls[: min(50, len(urls))], concurrency))  # warm-up
        exporter_cpu = cpu_seconds(process.pid)
        cpu = time.process_time()
        started = time.perf_counter()
        oks = asyncio.run(_drive_blackbox(port, urls, concurrency))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        exporter_cpu = cpu_seconds(process.pid) - exporter_cpu
    finally:
        process.terminate()
        process.wait(10)
    ok = sum(oks)
    return {
        "tool": version_line,
        "checks": len(urls),
        "ok": ok,
        "seconds": round(seconds, 3),
        "checks_per_second": round(len(urls) / seconds, 1),
        "exporter_cpu_seconds": round(exporter_cpu, 2),
        "driver_cpu_seconds": round(cpu, 2),
        "correct": ok == len(urls),
    }


def throughput(args: argparse.Namespace, workdir: Path) -> dict:
    log(f"throughput: {args.targets} HTTPS targets on {args.ports} nginx ports")
    server, ports, ca_file = start_targets(workdir, args.ports)
    try:
        urls = target_urls(args.targets, ports)
        ca_pem = ca_file.read_text()
        from mamori.monitoring.probing import ProbePool

        processes = args.processes if args.processes is not None else os.cpu_count() or 1
        # The same number of checks in flight as the exporter gets, spread over the workers.
        share = -(-args.concurrency // max(1, processes))
        rows = []
        with ProbePool(processes, concurrency=share) as pool:
            bench_pool(pool, urls[: min(200, len(urls))], ca_pem)  # warm-up
            bench_in_process(urls[: min(50, len(urls))], ca_pem, args.concurrency)
            for _ in range(args.repeat):
                rows.append(("mamori", bench_pool(pool, urls, ca_pem)))
                rows.append(("1-process", bench_in_process(urls, ca_pem, args.concurrency)))
                rows.append(("blackbox", bench_blackbox(workdir, ca_file, urls, args.concurrency)))
    finally:
        server.stop()
    best = {}
    for name, row in rows:
        log(
            f"  {name:9} {row['checks']:6d} checks  {row['seconds']:7.2f} s  "
            f"{row['checks_per_second']:8.1f} checks/s  ok {row['ok']}/{row['checks']}"
        )
        best.setdefault(name, []).append(row)
    mamori = statistics.median(r["checks_per_second"] for r in best["mamori"])
    single = statistics.median(r["checks_per_second"] for r in best["1-process"])
    blackbox = statistics.median(r["checks_per_second"] for r in best["blackbox"])
    correct = all(r["correct"] for _, r in rows)
    log(
        f"  median: mamori {mamori:.1f} checks/s ({processes} probe processes; "
        f"{single:.1f} in one process), blackbox_exporter {blackbox:.1f} checks/s"
    )
    log(f"  ratio mamori / blackbox_exporter: {mamori / blackbox:.2f}×  all correct: {correct}")
    return {
        "targets": args.targets,
        "concurrency": args.concurrency,
        "runs": [dict(r, side=name) for name, r in rows],
        "mamori_processes": processes,
        "mamori_checks_per_second": mamori,
        "mamori_one_process_checks_per_second": single,
        "blackbox_checks_per_second": blackbox,
        "ratio": round(mamori / blackbox, 2),
        "correct": correct,
    }


# --- capacity ------------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def capacity_worker(
    k: int, seconds: float, tick: float, urls: list[str], processes: int | None
) -> dict:
    """In a fresh process with MAMORI_DATA_DIR set: create, run, measure."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")
    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from mamori.clients.models import Client
    from mamori.monitoring import services
    from mamori.monitoring.models import Check
    from mamori.monitoring.probing import ProbePool
    from mamori.monitoring.uptime import UptimeRunner

    call_command("migrate", verbosity=0, interactive=False)
    client = Client.objects.create(name="Bench")
    start = timezone.now() + dt.timedelta(seconds=2)
    step = 60.0 / k
    Check.objects.bulk_create(
        [
            Check(
                client=client,
                name=f"bench {i}",
                kind="http",
                settings={"url": urls[i % len(urls)]},
                interval_seconds=60,
                timeout_seconds=10,
                next_run_at=start + dt.timedelta(seconds=i * step),
                # The steady state of a running Mamori: every check has run and is up. (The
                # first run of a new check confirms its state, written one by one.)
                state="up",
            )
            for i in range(k)
        ],
        batch_size=2000,
    )
    claims: list[tuple[dt.datetime, dt.datetime]] = []
    calls: list[dt.datetime] = []
    original = services.claim_due
    deadline = time.monotonic() + seconds

    def noting_claim_due(now, limit, **kwargs):
        # Stop claiming at the deadline: what is due later is not this run's business.
        if time.monotonic() >= deadline:
            return []
        calls.append(now)
        claimed = original(now, limit, **kwargs)
        claims.extend((now, check.slot) for check in claimed)
        return claimed

    services.claim_due = noting_claim_due
    pool = ProbePool(processes)
    runner = UptimeRunner(pool)
    busy = {"record": 0.0, "claim": 0.0}
    for part in ("record", "claim"):
        original_part = getattr(runner, f"_{part}")

        def timed(*args, _part=part, _original=original_part):
            began = time.monotonic()
            try:
                return _original(*args)
            finally:
                busy[_part] += time.monotonic() - began

        setattr(runner, f"_{part}", timed)
    ticks = overruns = 0
    errors = 0
    next_tick = time.monotonic()
    while time.monotonic() < deadline:
        next_tick += tick
        if next_tick < time.monotonic():
            overruns += 1
            next_tick = time.monotonic() + tick
        errors += runner.tick(next_tick).errors
        ticks += 1
    runner.close(drain=15)
    worker_cpu = sum(cpu_seconds(pid) for pid in pool.pids())
    pool.close()
    if errors:
        log(f"    {errors} result(s) could not be recorded")
    delays = [(at - slot).total_seconds() for at, slot in claims]
    # Slots due by the last claim (the last moment the runner looked); unclaimed ones are missed.
    horizon = (max(calls) - start).total_seconds() if calls else 0.0
    due = sum(int(max(0.0, horizon - i * step) // 60) + (i * step <= horizon) for i in range(k))
    from mamori.monitoring.models import Sample

    samples = Sample.objects.count()
    ok = Sample.objects.filter(ok=True).count()
    return {
        "checks": k,
        "seconds": seconds,
        "tick": tick,
        "processes": pool.processes,
        "ticks": ticks,
        "overruns": overruns,
        "record_seconds": round(busy["record"], 1),
        "claim_seconds": round(busy["claim"], 1),
        "runner_cpu_seconds": round(time.process_time(), 1),
        "worker_cpu_seconds": round(worker_cpu, 1),
        "runs": len(claims),
        "samples": samples,
        "samples_ok": ok,
        "slots_due": due,
        "missed": max(0, due - len(claims)),
        "p50": round(_percentile(delays, 0.50), 2),
        "p99": round(_percentile(delays, 0.99), 2),
        "max": round(max(delays), 2) if delays else None,
    }


def capacity(args: argparse.Namespace, workdir: Path) -> list[dict]:
    ks = [int(k) for k in args.checks.split(",")]
    log(f"capacity: K = {ks}, {args.seconds:.0f} s each, runner tick {args.tick} s")
    server, ports, ca_file = start_targets(workdir, args.ports)
    rows = []
    try:
        urls = target_urls(max(ks), ports)
        bundle = workdir / "bundle.pem"
        system = Path("/etc/ssl/certs/ca-certificates.crt")
        bundle.write_text((system.read_text() if system.exists() else "") + ca_file.read_text())
        for k in ks:
            data = workdir / f"data-{k}"
            data.mkdir()
            env = dict(os.environ, MAMORI_DATA_DIR=str(data), PYTHONPATH=str(ROOT / "src"))
            # Stored HTTP check settings have no CA field and MAMORI_CA_BUNDLE reaches only the
            # TLS kind: trust the test CA through OpenSSL's default store, as an operator would.
            env["SSL_CERT_FILE"] = str(bundle)
            env.pop("DATABASE_URL", None)
            env.pop("MAMORI_DATABASE_URL", None)
            spec = json.dumps(
                {"k": k, "seconds": args.seconds, "tick": args.tick, "processes": args.processes}
            )
            (workdir / "urls.json").write_text(json.dumps(urls))
            completed = subprocess.run(
                [sys.executable, __file__, "_capacity-worker", spec, str(workdir / "urls.json")],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if completed.returncode != 0:
                raise SystemExit(f"capacity worker failed:\n{completed.stderr[-3000:]}")
            row = json.loads(completed.stdout.strip().splitlines()[-1])
            row["fits"] = row["p99"] < 2.0 and row["missed"] == 0
            rows.append(row)
            log(
                f"  K={k:6d}  runs {row['runs']:6d}  ok {row['samples_ok']}/{row['samples']}  "
                f"missed {row['missed']}  p50 {row['p50']:.2f} s  p99 {row['p99']:.2f} s  "
                f"max {row['max']} s  record {row['record_seconds']} s  "
                f"claim {row['claim_seconds']} s  overruns {row['overruns']}  "
                f"{'fits' if row['fits'] else 'does not fit'}"
            )
    finally:
        server.stop()
    return rows


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_capacity-worker":
        spec = json.loads(sys.argv[2])
        urls = json.loads(Path(sys.argv[3]).read_text())
        row = capacity_worker(spec["k"], spec["seconds"], spec["tick"], urls, spec["processes"])
        print(json.dumps(row), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", nargs="?", choices=["throughput", "capacity", "all"], default="all")
    parser.add_argument("--targets", type=int, default=2000, help="throughput: checks per run")
    parser.add_argument("--concurrency", type=int, default=500, help="throughput: in flight")
    parser.add_argument("--repeat", type=int, default=3, help="throughput: runs of each tool")
    parser.add_argument("--ports", type=int, default=8, help="nginx ports")
    parser.add_argument("--checks", default="5000,10000,20000", help="capacity: K values")
    parser.add_argument("--seconds", type=float, default=130.0, help="capacity: wall time per K")
    parser.add_argument("--tick", type=float, default=1.0, help="capacity: runner tick (s)")
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="probe worker processes for Mamori (default: one per CPU core, as mamori serve)",
    )
    parser.add_argument("--output", default=str(RESULTS / "monitor-latest.json"))
    args = parser.parse_args()
    report: dict = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(prefix="mamori-monbench-") as tmp:
        workdir = Path(tmp)
        if args.part in ("throughput", "all"):
            if not Path(BLACKBOX).exists():
                raise SystemExit(f"{BLACKBOX} not found (apt install prometheus-blackbox-exporter)")
            report["throughput"] = throughput(args, workdir / "tp")
        if args.part in ("capacity", "all"):
            report["capacity"] = capacity(args, workdir / "cap")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    log(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
