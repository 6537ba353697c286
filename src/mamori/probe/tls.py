"""TLS installation check: connect, handshake with SNI, judge what the server presents (CERT-02).

:func:`probe_tls` opens a TCP connection with asyncio and drives a pyOpenSSL connection over
memory BIOs: bytes from the socket are written into OpenSSL, bytes OpenSSL wants to send are
written to the socket. This gives the certificate chain exactly as served (which the standard
``ssl`` module only exposes through private APIs on Python 3.11) while thousands of probes share
one event loop.

The client is deliberately permissive (TLS 1.0–1.3, ``@SECLEVEL=0``, legacy renegotiation
allowed, no verification during the handshake) so that weak or broken servers can still be
inspected; every judgement is made afterwards, offline:

* dates against ``now`` (``expired``, ``not_yet_valid``, ``expiring_soon``);
* the chain with :class:`~mamori.probe.trust.TrustStore` at an instant inside the leaf's
  validity (``untrusted``, ``self_signed``, ``incomplete_chain``);
* the name with RFC 6125 rules (``hostname_mismatch``);
* key sizes and signature hashes (``weak_key``, ``weak_signature``);
* the negotiated version and, optionally, one extra handshake offering only TLS 1.0–1.1
  (``protocol_outdated``, RFC 8996).

The exact rule for each code is in :mod:`mamori.probe.problems`. Network and TLS failures never
raise: they become ``unreachable``, ``timeout`` or ``tls_error`` with ``error`` set, and a
target whose ``policy`` refuses its address becomes ``address_refused`` without any connection.

Timeouts: ``timeout`` bounds DNS resolution, connection and handshake together. The legacy
protocol check that follows a successful handshake has its own, shorter budget (see
:func:`_legacy_budget`); it never turns into a problem by itself when it times out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from OpenSSL import SSL, crypto

from mamori.probe.handshake import HandshakeError, Session, client_context, handshake
from mamori.probe.problems import CONNECTION_PROBLEMS, Problem
from mamori.probe.targets import Target, format_hostport
from mamori.probe.trust import TrustStore
from mamori.probe.x509info import (
    CertInfo,
    hostname_matches,
    iso_utc,
    weak_key_reason,
    weak_signature_reason,
)

__all__ = ["TLSResult", "probe_many", "probe_tls"]

# OpenSSL's names for the versions RFC 8996 deprecates (SSL 3.0 cannot be negotiated at all).
_LEGACY_VERSIONS = ("TLSv1", "TLSv1.1")


@dataclass(slots=True)
class TLSResult:
    """Everything one probe learned. ``ok`` is true exactly when ``problems`` is empty.

    ``problems`` follow :class:`Problem` definition order; ``details`` maps each code to a
    sentence. ``chain`` is the served chain, leaf first; ``certificate`` is its leaf.
    ``verified`` means the chain *as served* leads to a trust anchor (so it is false for
    ``incomplete_chain``). ``hostname_match`` is None when there was no certificate.
    ``legacy_protocols`` lists TLS versions below 1.2 that the server accepts (as far as
    checked). Times are milliseconds; ``connect_ms`` includes DNS resolution.
    """

    target: str
    host: str
    port: int
    sni: str | None
    problems: list[Problem] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    certificate: CertInfo | None = None
    chain: list[CertInfo] = field(default_factory=list)
    tls_version: str | None = None
    cipher: str | None = None
    verified: bool = False
    hostname_match: bool | None = None
    connect_ms: float | None = None
    handshake_ms: float | None = None
    elapsed_ms: float = 0.0
    error: str | None = None
    legacy_protocols: list[str] = field(default_factory=list)
    address: str | None = None
    """The IP address connected to, when a connection was made."""
    checked_at: dt.datetime | None = None
    """The ``now`` the certificate was judged against."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def connection_failed(self) -> bool:
        """True when no certificate could be obtained (unreachable, timeout, tls_error)."""
        return any(problem in CONNECTION_PROBLEMS for problem in self.problems)

    def add(self, problem: Problem, detail: str) -> None:
        """Record ``problem`` (once) with its explanation, keeping the reporting order."""
        if problem not in self.problems:
            self.problems.append(problem)
            self.problems.sort(key=lambda p: p.rank)
        self.details[problem.value] = detail

    def to_json(self) -> dict[str, Any]:
        """The object ``mamori scan --json`` prints for this target."""
        return {
            "target": self.target,
            "host": self.host,
            "port": self.port,
            "sni": self.sni,
            "ok": self.ok,
            "problems": [problem.value for problem in self.problems],
            # Details in the order of the problems they explain.
            "details": {
                **{
                    p.value: self.details[p.value] for p in self.problems if p.value in self.details
                },
                **self.details,
            },
            "certificate": self.certificate.to_json() if self.certificate else None,
            "chain": [info.to_json() for info in self.chain],
            "tls_version": self.tls_version,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "error": self.error,
        }


class _Contexts:
    """Lazily built, process-wide client contexts (building one parses the cipher list)."""

    _main: SSL.Context | None = None
    _legacy: SSL.Context | None = None
    _tls10: SSL.Context | None = None

    @classmethod
    def main(cls) -> SSL.Context:
        """Offers TLS 1.0 to 1.3, so that any server answers with its best version."""
        if cls._main is None:
            cls._main = client_context(SSL.TLS1_VERSION, SSL.TLS1_3_VERSION)
        return cls._main

    @classmethod
    def legacy(cls) -> SSL.Context:
        """Offers TLS 1.0 and 1.1 only: a server answering it accepts a deprecated version."""
        if cls._legacy is None:
            cls._legacy = client_context(SSL.TLS1_VERSION, SSL.TLS1_1_VERSION)
        return cls._legacy

    @classmethod
    def tls10(cls) -> SSL.Context:
        if cls._tls10 is None:
            cls._tls10 = client_context(SSL.TLS1_VERSION, SSL.TLS1_VERSION)
        return cls._tls10


# -- the probe -----------------------------------------------------------------------------------


async def probe_tls(
    target: Target,
    *,
    trust: TrustStore,
    timeout: float = 10.0,
    warn_days: int = 30,
    now: dt.datetime | None = None,
    check_legacy_protocols: bool = True,
    fetch_aia: bool = True,
) -> TLSResult:
    """Probe one endpoint and judge its TLS installation.

    ``trust`` is the shared store (``target.ca_pem`` is added through ``trust.with_extra``).
    ``timeout`` bounds resolution, connection and handshake together. ``now`` (aware) is the
    instant certificates are judged at, default the current time. ``check_legacy_protocols``
    makes one extra short handshake offering only TLS 1.0/1.1 (two if TLS 1.1 is accepted,
    to tell whether TLS 1.0 is too). ``fetch_aia`` allows fetching missing intermediates.

    Never raises for network, TLS or certificate problems; they are reported in the result.
    Raises ``ValueError`` only for a caller error: ``target.ca_pem`` without a certificate.
    """
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    store = trust.with_extra(target.ca_pem)
    label = format_hostport(target.connect_host, target.port)
    result = TLSResult(
        target=target.label, host=target.host, port=target.port, sni=target.sni, checked_at=now
    )
    try:
        session = await handshake(
            target.connect_host,
            target.port,
            target.sni,
            _Contexts.main(),
            loop.time() + timeout,
            label=label,
            policy=target.policy,
        )
    except HandshakeError as failure:
        result.add(failure.problem, failure.message)
        result.error = failure.message
        result.connect_ms = failure.connect_ms
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    conn = session.conn
    result.address = session.address
    result.connect_ms = session.connect_ms
    result.handshake_ms = session.handshake_ms
    result.tls_version = conn.get_protocol_version_name()
    result.cipher = conn.get_cipher_name()
    served = conn.get_peer_cert_chain() or []
    session.close()

    try:
        await _judge(
            result, target, served, trust=store, now=now, warn_days=warn_days, fetch_aia=fetch_aia
        )
    except ValueError as exc:  # a certificate cryptography cannot decode at all
        result.add(Problem.TLS_ERROR, f"the server's certificate cannot be decoded: {exc}")
        result.error = result.details[Problem.TLS_ERROR.value]

    legacy: list[str] = []
    if result.tls_version in _LEGACY_VERSIONS:
        legacy.append(result.tls_version)
    if check_legacy_protocols and session.address:
        legacy = await _legacy_protocols(
            session.address, target, result.tls_version, session, timeout, label=label
        )
    result.legacy_protocols = legacy
    if result.tls_version in _LEGACY_VERSIONS:
        result.add(
            Problem.PROTOCOL_OUTDATED,
            f"the server negotiated {_pretty(result.tls_version)}, deprecated by RFC 8996",
        )
    elif legacy:
        result.add(
            Problem.PROTOCOL_OUTDATED,
            f"the server still accepts {', '.join(_pretty(v) for v in legacy)} "
            "(deprecated by RFC 8996)",
        )
    result.elapsed_ms = (time.perf_counter() - started) * 1000
    return result


async def _judge(
    result: TLSResult,
    target: Target,
    served: Sequence[crypto.X509],
    *,
    trust: TrustStore,
    now: dt.datetime,
    warn_days: int,
    fetch_aia: bool,
) -> None:
    """Fill certificate facts and certificate problems into ``result``."""
    if not served:
        result.add(Problem.TLS_ERROR, "the server sent no certificate")
        result.error = result.details[Problem.TLS_ERROR.value]
        return
    chain = [
        CertInfo.from_der(crypto.dump_certificate(crypto.FILETYPE_ASN1, cert), now=now)
        for cert in served
    ]
    leaf = chain[0]
    result.chain = chain
    result.certificate = leaf

    _judge_dates(result, leaf, now, warn_days)

    verdict = await trust.assess(
        served, chain, at=_verification_time(leaf, now), now=now, fetch_aia=fetch_aia
    )
    result.verified = verdict.verified
    if verdict.problem is not None:
        result.add(verdict.problem, verdict.detail)

    reference = target.reference_name
    result.hostname_match = hostname_matches(leaf, reference)
    if not result.hostname_match:
        valid_for = ", ".join(leaf.sans) if leaf.has_san else f"CN={leaf.subject_cn or ''}"
        shown = reference if target.sni else f"{reference} (no SNI)"
        result.add(
            Problem.HOSTNAME_MISMATCH,
            f"served for {shown} but valid for: {valid_for or '(no names)'}",
        )

    _judge_strength(result, chain)


def _judge_dates(result: TLSResult, leaf: CertInfo, now: dt.datetime, warn_days: int) -> None:
    if leaf.not_after < now:
        result.add(
            Problem.EXPIRED,
            f"certificate expired on {_day(leaf.not_after)} ({_ago(-leaf.days_left)})",
        )
    elif leaf.days_left <= min(warn_days, leaf.lifetime_days / 3):
        result.add(
            Problem.EXPIRING_SOON,
            f"certificate expires on {_day(leaf.not_after)} ({_in(leaf.days_left)})",
        )
    if leaf.not_before > now:
        ahead = (leaf.not_before - now).total_seconds() / 86400
        result.add(
            Problem.NOT_YET_VALID,
            f"certificate is not valid before {_day(leaf.not_before)} ({_in(ahead)})",
        )


def _judge_strength(result: TLSResult, chain: Sequence[CertInfo]) -> None:
    weak_keys: list[str] = []
    weak_signatures: list[str] = []
    for index, info in enumerate(chain):
        # A self-signed certificate after the leaf is a root the server chose to include: its
        # key and self-signature are not what clients rely on (they use their own copy).
        if index > 0 and info.self_signed:
            continue
        role = "leaf" if index == 0 else f"intermediate {info.display_name!r}"
        key_reason = weak_key_reason(info)
        if key_reason:
            weak_keys.append(f"{role}: {key_reason}")
        signature_reason = weak_signature_reason(info)
        if signature_reason:
            weak_signatures.append(f"{role}: {signature_reason}")
    if weak_keys:
        result.add(Problem.WEAK_KEY, "; ".join(weak_keys))
    if weak_signatures:
        result.add(Problem.WEAK_SIGNATURE, "; ".join(weak_signatures))


def _verification_time(leaf: CertInfo, now: dt.datetime) -> dt.datetime:
    """``now`` moved inside the leaf's validity, so that date problems stay separate from trust.

    An expired leaf is judged one second before its ``notAfter``, a not-yet-valid one one second
    after its ``notBefore``: the chain above it must have been valid *then* to be trusted.
    """
    start = leaf.not_before + dt.timedelta(seconds=1)
    end = leaf.not_after - dt.timedelta(seconds=1)
    if end < start:
        return now
    return min(max(now, start), end)


def _legacy_budget(session: Session, timeout: float) -> float:
    """Time allowed for the legacy check: a few times the main handshake, 1–3 s, ≤ timeout.

    A server that silently drops old ClientHellos must not cost a full timeout per target.
    """
    observed = (session.connect_ms + session.handshake_ms) / 1000
    return min(timeout, max(1.0, min(3.0, 4 * observed)))


async def _legacy_protocols(
    address: str,
    target: Target,
    negotiated: str | None,
    session: Session,
    timeout: float,
    *,
    label: str,
) -> list[str]:
    """TLS versions below 1.2 the server accepts, by offering only those."""
    if negotiated == "TLSv1":
        return ["TLSv1"]  # the server chose 1.0 over 1.3: it supports nothing newer
    loop = asyncio.get_running_loop()
    budget = _legacy_budget(session, timeout)
    accepted: list[str] = []
    if negotiated == "TLSv1.1":
        accepted.append("TLSv1.1")
    else:
        version = await _try_version(
            address, target, _Contexts.legacy(), loop.time() + budget, label=label
        )
        if version is None:
            return []
        accepted.append(version)
    if accepted == ["TLSv1.1"]:
        version = await _try_version(
            address, target, _Contexts.tls10(), loop.time() + budget, label=label
        )
        if version == "TLSv1":
            accepted.insert(0, "TLSv1")
    return accepted


async def _try_version(
    address: str, target: Target, context: SSL.Context, deadline: float, *, label: str
) -> str | None:
    try:
        session = await handshake(
            address, target.port, target.sni, context, deadline, label=label, policy=target.policy
        )
    except HandshakeError:
        return None
    version = session.conn.get_protocol_version_name()
    session.close()
    return version if version in _LEGACY_VERSIONS else None


def _pretty(version: str | None) -> str:
    return {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1"}.get(version or "", version or "?")


def _day(value: dt.datetime) -> str:
    return iso_utc(value)[:10]


def _ago(days: float) -> str:
    if days < 1:
        return "less than a day ago"
    whole = int(days)
    return f"{whole} day{'s' if whole != 1 else ''} ago"


def _in(days: float) -> str:
    if days < 1:
        hours = max(int(days * 24), 0)
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    whole = int(days)
    return f"in {whole} day{'s' if whole != 1 else ''}"


# -- many targets --------------------------------------------------------------------------------


async def probe_many(
    targets: Iterable[Target],
    *,
    trust: TrustStore,
    concurrency: int = 100,
    **kwargs: Any,
) -> list[TLSResult]:
    """Probe ``targets`` with at most ``concurrency`` in flight; results in input order.

    ``kwargs`` are passed to :func:`probe_tls`. A bug in a single probe is contained: it yields
    a ``tls_error`` result for that target rather than losing the whole batch.
    """
    items = list(targets)
    results: list[TLSResult | None] = [None] * len(items)
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(items):
            index = next_index
            next_index += 1
            target = items[index]
            try:
                results[index] = await probe_tls(target, trust=trust, **kwargs)
            except Exception as exc:
                # ValueError: the target's own CA bundle is unusable; anything else is a bug.
                # Either way, the other targets' results must not be lost.
                failed = TLSResult(
                    target=target.label, host=target.host, port=target.port, sni=target.sni
                )
                message = (
                    f"cannot probe: {exc}"
                    if isinstance(exc, ValueError)
                    else f"internal error while probing: {type(exc).__name__}: {exc}"
                )
                failed.add(Problem.TLS_ERROR, message)
                failed.error = message
                results[index] = failed

    workers = max(1, min(concurrency, len(items)))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return [result for result in results if result is not None]
