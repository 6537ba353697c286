"""Uptime checks (MON-01): HTTP(S), TCP port, DNS records, ICMP, domain expiry through RDAP.

Each check is a coroutine with plain arguments that returns a :class:`CheckResult`, bounds its
work with ``timeout`` and never raises for a network problem::

    from mamori.probe.checks import check_http, run_checks

    result = await check_http("https://www.example.jp/", keyword="Welcome", timeout=5)
    results = await run_checks([
        ("http", {"url": "https://www.example.jp/", "max_response_ms": 2000}),
        ("tcp", {"host": "mail.example.jp", "port": 25}),
        ("dns", {"name": "example.jp", "rdtype": "MX"}),
        ("icmp", {"host": "192.0.2.1"}),
        ("rdap", {"domain": "example.jp", "warn_days": 30}),
    ])

The TLS installation check is :func:`mamori.probe.probe_tls` (its own result type).
HTTP and RDAP live in :mod:`mamori.probe.checks_http`, ICMP in :mod:`mamori.probe.checks_icmp`,
the result and its codes in :mod:`mamori.probe.checks_result`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mamori.probe.checks_http import ClientPool, check_http, check_rdap
from mamori.probe.checks_icmp import check_icmp
from mamori.probe.checks_result import (
    CheckError,
    CheckResult,
    Stopwatch,
    connection_failure,
    seconds,
)
from mamori.probe.targets import format_hostport

__all__ = [
    "CHECKS",
    "CheckError",
    "CheckResult",
    "check_dns",
    "check_http",
    "check_icmp",
    "check_rdap",
    "check_tcp",
    "run_checks",
    "run_one",
]


# -- TCP -----------------------------------------------------------------------------------------


async def check_tcp(host: str, port: int, *, timeout: float = 10.0) -> CheckResult:
    """Open a TCP connection to ``host:port`` and close it again.

    Up when the connection is established within ``timeout`` (which includes resolving
    ``host``). Down with ``connection_refused``, ``timeout``, ``dns_failure`` or
    ``unreachable``. ``data``: ``address`` connected to. Never raises for network problems.
    """
    watch = Stopwatch()
    label = format_hostport(host, port)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return CheckResult.down(
            watch.ms, CheckError.TIMEOUT, f"no connection to {label} within {seconds(timeout)}"
        )
    except (OSError, UnicodeError) as exc:
        code, message = connection_failure(label, exc)
        return CheckResult.down(watch.ms, code, message)
    elapsed = watch.ms
    peer = writer.get_extra_info("peername")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    address = peer[0] if peer else None
    return CheckResult.up(
        elapsed, f"connected to {label} in {elapsed:.0f} ms", {"address": address}
    )


# -- DNS -----------------------------------------------------------------------------------------


def _nameserver(text: str) -> dns.nameserver.Do53Nameserver:
    """``"192.0.2.53"``, ``"192.0.2.53:5353"``, ``"[2001:db8::53]:53"`` or a bare IPv6."""
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest.lstrip(":") or 53)
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = int(number)
    ipaddress.ip_address(host)  # ValueError for a name: nameservers are addresses
    return dns.nameserver.Do53Nameserver(host, port)


@functools.cache
def _system_resolver() -> dns.asyncresolver.Resolver:
    """The resolvers of /etc/resolv.conf, read once (``resolve`` leaves the object unchanged)."""
    return dns.asyncresolver.Resolver(configure=True)


def _normalise(rdtype: dns.rdatatype.RdataType, text: str) -> str:
    """One comparable spelling of a record: canonical addresses, names without the final dot
    and in lower case; TXT as its unquoted string (case kept)."""
    text = text.strip()
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(text))
        return text
    if rdtype == dns.rdatatype.TXT:
        if len(text) >= 2 and text[0] == text[-1] == '"':
            return text[1:-1]
        return text
    return " ".join(token.rstrip(".") for token in text.lower().split())


def _rdata_text(rdtype: dns.rdatatype.RdataType, rdata: Any) -> str:
    if rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    return _normalise(rdtype, rdata.to_text())


async def check_dns(
    name: str,
    rdtype: str = "A",
    *,
    expected: Iterable[str] | None = None,
    nameservers: Sequence[str] | None = None,
    timeout: float = 5.0,
) -> CheckResult:
    """Resolve ``name``/``rdtype`` and compare the answer with ``expected``.

    ``expected=None`` accepts any non-empty answer; otherwise the answer must equal the set
    exactly (records compared as :func:`_normalise` spells them, so ``Mail.Example.`` equals
    ``mail.example`` and ``::1`` equals ``0::1``). ``nameservers`` (``"127.0.0.1:5353"``)
    replaces the system's resolvers; ``name`` is always taken as absolute (no search list).
    ``timeout`` bounds the whole lookup, retries included.

    Down with ``nxdomain``, ``no_answer``, ``unexpected_records``, ``timeout``, ``dns_failure``
    (SERVFAIL, REFUSED, unusable answers) or ``invalid_target``. ``data``: ``records``
    (sorted), ``missing``/``unexpected`` when they differ. Never raises for network problems.
    """
    watch = Stopwatch()
    try:
        qtype = dns.rdatatype.from_text(rdtype)
        qname = dns.name.from_text(name)
        if nameservers is None:
            resolver = _system_resolver()
        else:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [_nameserver(server) for server in nameservers]
    except (ValueError, dns.exception.DNSException) as exc:
        return CheckResult.down(
            watch.ms, CheckError.INVALID_TARGET, f"cannot look up {name} {rdtype}: {exc}"
        )
    shown = f"{qname.to_text(omit_final_dot=True)} {dns.rdatatype.to_text(qtype)}"
    try:
        answer = await resolver.resolve(
            qname, qtype, search=False, lifetime=timeout, raise_on_no_answer=True
        )
    except dns.resolver.NXDOMAIN:
        return CheckResult.down(watch.ms, CheckError.NXDOMAIN, f"{shown}: the name does not exist")
    except dns.resolver.NoAnswer:
        return CheckResult.down(watch.ms, CheckError.NO_ANSWER, f"{shown}: no records of this type")
    except dns.resolver.LifetimeTimeout:
        return CheckResult.down(
            watch.ms, CheckError.TIMEOUT, f"{shown}: no DNS answer within {seconds(timeout)}"
        )
    except dns.resolver.NoNameservers as exc:
        return CheckResult.down(watch.ms, CheckError.DNS_FAILURE, f"{shown}: {_servers_said(exc)}")
    except dns.exception.DNSException as exc:
        return CheckResult.down(watch.ms, CheckError.DNS_FAILURE, f"{shown}: {exc}")
    elapsed = watch.ms
    records = sorted({_rdata_text(qtype, rdata) for rdata in answer})
    data: dict[str, Any] = {"records": records}
    listed = ", ".join(records)
    if expected is not None:
        wanted = {_normalise(qtype, text) for text in expected}
        missing = sorted(wanted - set(records))
        unexpected = sorted(set(records) - wanted)
        if missing or unexpected:
            data.update(missing=missing, unexpected=unexpected)
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected {', '.join(unexpected)}")
            return CheckResult.down(
                elapsed, CheckError.UNEXPECTED_RECORDS, f"{shown}: {'; '.join(parts)}", data
            )
    return CheckResult.up(elapsed, f"{shown}: {listed} in {elapsed:.0f} ms", data)


def _servers_said(exc: dns.resolver.NoNameservers) -> str:
    """'127.0.0.1:53 answered SERVFAIL' from dnspython's error list."""
    errors = exc.kwargs.get("errors") or []
    said = []
    for server, _tcp, port, error, *_ in errors:
        said.append(f"{format_hostport(str(server), int(port))} {error}")
    return "no usable answer: " + "; ".join(said) if said else "no nameserver gave an answer"


# -- many checks ---------------------------------------------------------------------------------

CheckFunction = Callable[..., Awaitable[CheckResult]]

#: The kinds ``run_checks`` accepts, with the function behind each.
CHECKS: dict[str, CheckFunction] = {
    "http": check_http,
    "tcp": check_tcp,
    "dns": check_dns,
    "icmp": check_icmp,
    "rdap": check_rdap,
}
_SIGNATURES = {kind: inspect.signature(function) for kind, function in CHECKS.items()}
_USES_CLIENT = {"http", "rdap"}
# Checks bound themselves; this margin only catches one that fails to (a bug), e.g. a
# resolver stuck in a thread.
_GRACE = 1.0


async def run_one(kind: str, kwargs: dict[str, Any], clients: ClientPool) -> CheckResult:
    """Run one check of a known ``kind``, HTTP and RDAP through ``clients``: bounded by its
    ``timeout`` (plus a second's margin) and contained (a bug becomes an ``internal_error``
    result). For callers that validated ``kwargs`` already, like :func:`run_checks`."""
    arguments = kwargs
    if kind in _USES_CLIENT:
        verify = kwargs.get("verify_tls", True)
        ca_pem = kwargs.get("ca_bundle_pem")
        arguments = {
            key: value
            for key, value in kwargs.items()
            if key not in ("verify_tls", "ca_bundle_pem")
        }
        try:
            get = clients.session if kind == "http" else clients.get
            arguments["client"] = get(verify, ca_pem)
        except Exception as exc:  # ssl.SSLError: an unusable CA bundle
            return CheckResult.down(0.0, CheckError.INVALID_TARGET, f"unusable CA bundle: {exc}")
    timeout = kwargs.get("timeout", _SIGNATURES[kind].parameters["timeout"].default)
    watch = Stopwatch()
    try:
        async with asyncio.timeout(timeout + _GRACE):
            return await CHECKS[kind](**arguments)
    except TimeoutError:
        return CheckResult.down(
            watch.ms,
            CheckError.TIMEOUT,
            f"{kind} check did not finish within {seconds(timeout)}",
        )
    except Exception as exc:
        return CheckResult.down(
            watch.ms,
            CheckError.INTERNAL_ERROR,
            f"internal error in the {kind} check: {type(exc).__name__}: {exc}",
        )


async def run_checks(
    specs: Iterable[tuple[str, dict[str, Any]]],
    *,
    concurrency: int = 500,
    clients: ClientPool | None = None,
) -> list[CheckResult]:
    """Run ``(kind, kwargs)`` checks with at most ``concurrency`` in flight; results in order.

    ``kind`` is a key of :data:`CHECKS`; ``kwargs`` are that function's arguments. HTTP and
    RDAP checks share one client per ``(verify_tls, ca_bundle_pem)``, from ``clients`` when
    given (the caller closes it; a probe worker keeps one for its life), else from a pool made
    and closed for this call. Each check is bounded by its own ``timeout`` (plus a second's
    margin). A failing check is contained: a bug becomes an ``internal_error`` result for that
    check alone.

    Raises ``ValueError`` before running anything for an unknown kind or arguments the
    function does not take (caller errors).
    """
    items = list(specs)
    for index, (kind, kwargs) in enumerate(items):
        signature = _SIGNATURES.get(kind)
        if signature is None:
            raise ValueError(f"check {index}: unknown kind {kind!r} (one of {', '.join(CHECKS)})")
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            raise ValueError(f"check {index} ({kind}): {exc}") from None
        if "client" in kwargs:
            raise ValueError(f"check {index} ({kind}): run_checks provides the client")

    results: list[CheckResult | None] = [None] * len(items)
    pool = clients or ClientPool(max_connections=max(1, concurrency))
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(items):
            index = next_index
            next_index += 1
            kind, kwargs = items[index]
            results[index] = await run_one(kind, kwargs, pool)

    try:
        workers = max(1, min(concurrency, len(items)))
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        if clients is None:
            await pool.aclose()
    return [result for result in results if result is not None]
