"""Access log parsing: Mamori's parser (mamori.weblogs.parse) against GoAccess, on the same
generated combined log in the same run (MNT-06).

    python bench/weblog_bench.py                 # a 1 GB log in a temporary directory
    python bench/weblog_bench.py --size 50M      # smaller
    python bench/weblog_bench.py --log FILE      # an existing combined log

Both read the whole file once: Mamori's parser counting hits, page views, visitors, statuses,
pages, referrers and bots as the collection does (without the database), GoAccess
(``goaccess FILE --log-format=COMBINED -o report.json``) building its report. Prints lines/s of
each and the ratio. Needs ``goaccess`` on PATH (Debian package ``goaccess``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mamori.weblogs import parse

CHUNK = 8 << 20

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{v} Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
]
PATHS = ["/", "/about/", "/news/", "/contact/", "/products/a", "/products/b", "/blog/?p=1"]
ASSETS = ["/style.css", "/app.js", "/logo.png", "/favicon.ico"]
REFERRERS = ["-", "-", "https://www.google.com/", "https://www.bing.com/", "https://t.co/x"]
STATUSES = ["200"] * 14 + ["304", "301", "404", "500"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def generate(path: Path, size: int, seed: int = 19) -> int:
    """Write a combined log of about ``size`` bytes to ``path``; returns its lines."""
    rng = random.Random(seed)
    agents = [b.format(v=v) for b in BROWSERS for v in range(100, 140)] + BOTS * 5
    written = lines = 0
    day = 1
    with path.open("w") as f:
        while written < size:
            block = []
            stamp = f"{day % 28 + 1:02d}/{MONTHS[(day // 28) % 12]}/2026"
            for _ in range(5000):
                a, b, c = rng.randrange(1, 224), rng.randrange(256), rng.randrange(256)
                ip = f"{a}.{b}.{c}.{rng.randrange(1, 255)}"
                target = rng.choice(PATHS) if rng.random() < 0.6 else rng.choice(ASSETS)
                status = rng.choice(STATUSES)
                hour = rng.randrange(24)
                block.append(
                    f"{ip} - - [{stamp}:{hour:02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
                    f' +0900] "GET {target} HTTP/1.1" {status} {rng.randrange(200, 60000)} '
                    f'"{rng.choice(REFERRERS)}" "{rng.choice(agents)}"\n'
                )
            text = "".join(block)
            f.write(text)
            written += len(text)
            lines += len(block)
            day += 1
    return lines


def run_mamori(path: Path) -> tuple[parse.Tally, float]:
    classify = parse.Classifier()
    t = parse.Tally()
    started = time.perf_counter()
    with path.open("rb") as f:
        rest = b""
        while True:
            data = f.read(CHUNK)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            parse.tally(data[:cut], "combined", classify, frozenset({"www.example.jp"}), into=t)
            rest = data[cut:]
        if rest:
            parse.tally(rest, "combined", classify, into=t)
    return t, time.perf_counter() - started


def run_goaccess(path: Path, binary: str, workdir: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    subprocess.run(
        [
            binary,
            str(path),
            "--log-format=COMBINED",
            "--no-global-config",
            "-o",
            str(workdir / "report.json"),
        ],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seconds = time.perf_counter() - started
    report = json.loads((workdir / "report.json").read_text())
    return report.get("general", {}), seconds


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1G", help="size of the generated log (default 1G)")
    parser.add_argument("--log", help="an existing combined log instead of a generated one")
    parser.add_argument("--output", help="write the results as JSON here")
    parser.add_argument("--goaccess", default=shutil.which("goaccess") or "goaccess")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="weblog-bench-") as tmp:
        workdir = Path(tmp)
        if args.log:
            log = Path(args.log)
        else:
            log = workdir / "access.log"
            generate(log, parse_size(args.size))
        size = os.path.getsize(log)
        tally, mamori_seconds = run_mamori(log)
        general, goaccess_seconds = run_goaccess(log, args.goaccess, workdir)
    lines = tally.lines
    mamori_rate = lines / mamori_seconds
    goaccess_rate = lines / goaccess_seconds
    result = {
        "bytes": size,
        "lines": lines,
        "mamori_lines_per_second": round(mamori_rate),
        "goaccess_lines_per_second": round(goaccess_rate),
        "ratio": round(mamori_rate / goaccess_rate, 2),
        # The same file read by both: the lines each accepted must agree.
        "mamori_hits": tally.hits,
        "mamori_rejected": tally.rejected,
        "goaccess_valid_requests": general.get("valid_requests"),
        "goaccess_failed_requests": general.get("failed_requests"),
    }
    print(f"log: {size} bytes, {lines} lines")
    print(f"mamori:   {mamori_seconds:8.2f} s  {mamori_rate:12,.0f} lines/s")
    print(f"goaccess: {goaccess_seconds:8.2f} s  {goaccess_rate:12,.0f} lines/s")
    print(f"ratio (mamori / goaccess): {result['ratio']:.2f}")
    print(
        f"lines accepted: mamori {tally.hits} (rejected {tally.rejected}), goaccess "
        f"{result['goaccess_valid_requests']} (failed {result['goaccess_failed_requests']})"
    )
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
