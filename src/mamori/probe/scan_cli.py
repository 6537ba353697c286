"""``mamori scan``: check TLS endpoints from the command line, without Django or a database.

Usage::

    mamori scan [--json] [--sni NAME] [--ca-file PEM] [--warn-days N] [--concurrency N]
                [--timeout SECONDS] [--no-legacy-check] [--no-aia] [--workers N]
                [-f FILE] TARGET...

Targets are written as :func:`mamori.probe.parse_target` accepts them; ``-f FILE`` reads one per
line (blank lines and ``#`` comments ignored, ``-`` is standard input). Extra trust anchors come
from ``--ca-file`` and from the PEM file named by ``MAMORI_CA_BUNDLE`` (or
``MAMORI_CA_BUNDLE_FILE``), on top of the operating system's bundle.

Large scans are CPU-bound on this side (handshake cryptography, chain verification), so they
are spread over forked worker processes, one per 250 targets and at most one per CPU
(``--workers``); ``--no-legacy-check`` saves the extra TLS 1.0/1.1 handshake per target.

Exit status: 0 when every target is OK, 1 when any has a problem, 2 for usage errors (bad
option, bad target, unreadable file), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from mamori.probe.targets import Target, TargetError, parse_target
from mamori.probe.tls import TLSResult, probe_many
from mamori.probe.trust import TrustStore

PROG = "mamori scan"
DEFAULT_CONCURRENCY = 200
TARGETS_PER_WORKER = 250
CA_BUNDLE_VARIABLES = ("MAMORI_CA_BUNDLE", "MAMORI_CA_BUNDLE_FILE")
_TRAILING_COMMENT = re.compile(r"\s+#")


class UsageError(Exception):
    """Bad command line or input; reported on one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Check the TLS installation of endpoints: chain, trust, names, dates, "
        "key and signature strength, protocol versions.",
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="host, host:port, [v6]:port, https://host/… or host:port{ip}",
    )
    parser.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        metavar="FILE",
        help="read targets from FILE, one per line ('-' for stdin)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array of results")
    parser.add_argument(
        "--sni", metavar="NAME", help="server name to send and check instead of each target's host"
    )
    parser.add_argument(
        "--ca-file",
        action="append",
        default=[],
        metavar="PEM",
        help="extra trust anchors (PEM); may be repeated",
    )
    parser.add_argument(
        "--warn-days",
        type=_non_negative_int,
        default=30,
        metavar="N",
        help="report expiring_soon within N days (default 30)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"probes in flight at once (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="per-target limit for connecting and the handshake (default 10)",
    )
    parser.add_argument(
        "--no-legacy-check",
        action="store_true",
        help="skip the extra handshake that detects TLS 1.0/1.1 support",
    )
    parser.add_argument(
        "--no-aia",
        action="store_true",
        help="do not fetch missing intermediates from AIA caIssuers URLs",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"processes to spread the scan over (default: one per {TARGETS_PER_WORKER} "
        "targets, at most one per CPU)",
    )
    return parser


def read_target_lines(stream: TextIO, source: str) -> list[tuple[str, str]]:
    """(text, where) for each target line of ``stream``; comments and blanks are skipped."""
    lines = []
    for number, raw in enumerate(stream, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        # A trailing comment needs whitespace before '#', so URL fragments stay intact.
        text = _TRAILING_COMMENT.split(text, maxsplit=1)[0]
        lines.append((text, f"{source}:{number}"))
    return lines


def collect_targets(args: argparse.Namespace, stdin: TextIO) -> list[Target]:
    """Parse command-line and file targets; raise :class:`UsageError` on the first bad one."""
    entries = [(text, "argument") for text in args.targets]
    for path in args.file:
        if path == "-":
            entries += read_target_lines(stdin, "<stdin>")
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                entries += read_target_lines(handle, path)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"cannot read {path}: not UTF-8 text") from None
    if not entries:
        raise UsageError("no targets given (pass TARGET arguments or -f FILE)")
    targets = []
    for text, where in entries:
        try:
            targets.append(parse_target(text, sni=args.sni))
        except TargetError as exc:
            prefix = "" if where == "argument" else f"{where}: "
            raise UsageError(f"{prefix}{exc}") from None
    return targets


def load_trust(ca_files: Sequence[str], environ: dict[str, str] | os._Environ[str]) -> TrustStore:
    """The OS trust store plus PEM anchors from ``--ca-file`` and the environment."""
    paths = [environ[name] for name in CA_BUNDLE_VARIABLES if environ.get(name)]
    paths += list(ca_files)
    extra = b""
    for path in paths:
        try:
            with open(path, "rb") as handle:
                extra += handle.read() + b"\n"
        except OSError as exc:
            raise UsageError(f"cannot read CA bundle {path}: {exc.strerror or exc}") from None
    try:
        return TrustStore.system(extra or None)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# -- output --------------------------------------------------------------------------------------


def _status(result: TLSResult) -> str:
    return "OK" if result.ok else ",".join(problem.value for problem in result.problems)


def _row(result: TLSResult) -> list[str]:
    cert = result.certificate
    if cert is None:
        return [result.target, _status(result), "-", "-", "-", result.tls_version or "-"]
    return [
        result.target,
        _status(result),
        str(int(cert.days_left)),  # whole days, truncated toward zero like the details text
        cert.not_after.date().isoformat(),
        cert.issuer_cn or cert.issuer or "-",
        result.tls_version or "-",
    ]


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(results: Sequence[TLSResult]) -> str:
    """The human report: an aligned table, then one explanation line per problem."""
    header = ["TARGET", "STATUS", "DAYS", "EXPIRES", "ISSUER", "TLS"]
    rows = [_row(result) for result in results]
    limits = [60, 48, 6, 10, 36, 8]
    rows = [
        [_truncate(cell, limit) for cell, limit in zip(row, limits, strict=True)] for row in rows
    ]
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    right_aligned = {2}

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right_aligned else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    out = [line(header), *(line(row) for row in rows)]
    explanations = []
    for result in results:
        for problem in result.problems:
            detail = result.details.get(problem.value, "")
            sentence = problem.description.rstrip(".")
            explanations.append(
                f"{result.target}: {sentence}: {detail}"
                if detail
                else f"{result.target}: {sentence}."
            )
    if explanations:
        out += ["", *explanations]
    failed = sum(1 for result in results if not result.ok)
    out += [
        "",
        f"{len(results)} target{'s' if len(results) != 1 else ''}: "
        f"{len(results) - failed} OK, {failed} with problems",
    ]
    return "\n".join(out)


def render_json(results: Sequence[TLSResult]) -> str:
    """A JSON array with one target's object per line (greppable, and json's fast C encoder
    only runs without ``indent``)."""
    if not results:
        return "[]"
    lines = (json.dumps(result.to_json(), ensure_ascii=False) for result in results)
    return "[\n" + ",\n".join(lines) + "\n]"


# -- entry point ---------------------------------------------------------------------------------


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it is installed (faster I/O for large scans), else asyncio's default."""
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def worker_count(requested: int | None, targets: int) -> int:
    """Processes for a scan: as requested, else one per TARGETS_PER_WORKER, at most one per CPU.

    A probe is CPU-bound on the client side (handshake cryptography, chain verification,
    certificate decoding), so a large scan on one event loop saturates one core; forking
    workers uses the others. Small scans stay in one process: forking costs more than it saves.
    """
    if requested:
        return requested
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, targets // TARGETS_PER_WORKER))


# What forked workers inherit: (targets, trust store, probe_many keyword arguments). Passing
# them through fork avoids pickling the trust store, which wraps OpenSSL objects.
_inherited: tuple[list[Target], TrustStore, dict[str, Any]] | None = None


def _run_here(targets: list[Target], trust: TrustStore, options: dict[str, Any]) -> list[TLSResult]:
    with asyncio.Runner(loop_factory=_new_event_loop) as runner:
        return runner.run(probe_many(targets, trust=trust, **options))


def _ignore_interrupts() -> None:
    """In workers: leave Ctrl-C to the parent, which terminates the pool (no worker tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_slice(slice_spec: tuple[int, int]) -> list[TLSResult]:
    """Worker process body: probe every ``step``-th target starting at ``start``."""
    assert _inherited is not None
    start, step = slice_spec
    targets, trust, options = _inherited
    results = _run_here(targets[start::step], trust, options)
    # cryptography's certificate objects cannot be pickled; the report needs none of them.
    for result in results:
        result.chain = [dataclasses.replace(info, cert=None) for info in result.chain]
        result.certificate = result.chain[0] if result.chain else None
    return results


def run(args: argparse.Namespace, targets: list[Target], trust: TrustStore) -> list[TLSResult]:
    """Probe ``targets`` as the command-line options say; results in target order."""
    global _inherited
    workers = min(worker_count(args.workers, len(targets)), len(targets))
    options: dict[str, Any] = {
        "concurrency": max(1, -(-args.concurrency // workers)),  # the total stays as asked
        "timeout": args.timeout,
        "warn_days": args.warn_days,
        "check_legacy_protocols": not args.no_legacy_check,
        "fetch_aia": not args.no_aia,
    }
    if workers <= 1:
        return _run_here(targets, trust, options)
    _inherited = (targets, trust, options)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_ignore_interrupts) as pool:
            parts = pool.map(_run_slice, [(index, workers) for index in range(workers)])
    finally:
        _inherited = None
    results: list[TLSResult] = [None] * len(targets)  # type: ignore[list-item]
    for index, part in enumerate(parts):
        results[index::workers] = part
    return results


def main(argv: list[str] | None = None) -> int:
    """Run ``mamori scan`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        targets = collect_targets(args, sys.stdin)
        trust = load_trust(args.ca_file, os.environ)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        results = run(args, targets, trust)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    print(render_json(results) if args.json else render_table(results))
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
