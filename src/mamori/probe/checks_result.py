"""What every uptime check returns: :class:`CheckResult`, and the codes in its ``error_code``.

A check is ``up`` or ``down``; ``ok`` is true exactly when it is up. A check that is up can still
carry a code that flags something for the operator (``expiring``, ``no_expiration``); a check
that is down always does. The rule behind each code is on :class:`CheckError`.
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["CheckError", "CheckResult", "Stopwatch", "connection_failure", "seconds"]


class CheckError(StrEnum):
    """Why a check is down (or, for the flags, what an up check wants the operator to see)."""

    # Connecting (every kind).
    TIMEOUT = "timeout"
    """No complete answer within the check's timeout."""
    CONNECTION_REFUSED = "connection_refused"
    """The host answered that nothing listens on the port (TCP RST)."""
    UNREACHABLE = "unreachable"
    """No route to the host or network, or another socket error while connecting."""
    DNS_FAILURE = "dns_failure"
    """The name to connect to could not be resolved (or the DNS servers failed: SERVFAIL…)."""
    TLS_ERROR = "tls_error"
    """The TLS handshake failed, including certificate verification."""
    PROTOCOL_ERROR = "protocol_error"
    """The server broke the protocol: not HTTP, connection closed mid-response…"""
    INVALID_TARGET = "invalid_target"
    """The URL, host or name cannot be checked as written (the detail says why)."""
    # HTTP.
    HTTP_STATUS = "http_status"
    """The final status code is not among the expected ones."""
    TOO_MANY_REDIRECTS = "too_many_redirects"
    """Redirects were followed and did not end (20 of them, where browsers stop too)."""
    KEYWORD_MISSING = "keyword_missing"
    """The keyword must appear in the body and does not."""
    KEYWORD_PRESENT = "keyword_present"
    """The keyword must not appear in the body and does."""
    TOO_SLOW = "too_slow"
    """Everything else was fine, but it took longer than the allowed response time."""
    # DNS.
    NXDOMAIN = "nxdomain"
    """The name does not exist (RCODE 3)."""
    NO_ANSWER = "no_answer"
    """The name exists but has no records of the asked type."""
    UNEXPECTED_RECORDS = "unexpected_records"
    """The records differ from the expected set (some missing, some extra, or both)."""
    # ICMP.
    ICMP_NOT_PERMITTED = "icmp_not_permitted"
    """This host lets the process send neither unprivileged nor raw ICMP."""
    # RDAP (domain registration).
    EXPIRED = "expired"
    """The registration's expiration date has passed. Down."""
    EXPIRING = "expiring"
    """The registration expires within ``warn_days``. Still up: a flag, not an outage."""
    NO_EXPIRATION = "no_expiration"
    """The registry publishes no expiration event (some ccTLDs do not). Up, flagged."""
    NOT_FOUND = "not_found"
    """The registry does not know the domain (RDAP 404): not registered, or wrong server."""
    NO_RDAP_SERVICE = "no_rdap_service"
    """The IANA bootstrap registry names no RDAP server for the domain's TLD."""
    INVALID_RESPONSE = "invalid_response"
    """The server answered with something that is not the expected JSON."""
    # Anything else.
    INTERNAL_ERROR = "internal_error"
    """A bug in the check itself; contained so that other checks still report."""


@dataclass(slots=True)
class CheckResult:
    """The outcome of one check.

    ``detail`` is one readable line for an operator. ``error_code`` is a :class:`CheckError`
    value, or ``""`` for a plain success. ``data`` holds what the check measured (status code,
    final URL, records, expiry date…), JSON-compatible.
    """

    ok: bool
    status: str
    duration_ms: float
    detail: str
    data: dict[str, Any] = field(default_factory=dict)
    error_code: str = ""

    @classmethod
    def up(
        cls,
        duration_ms: float,
        detail: str,
        data: dict[str, Any] | None = None,
        error_code: CheckError | str = "",
    ) -> CheckResult:
        return cls(True, "up", duration_ms, detail, data or {}, str(error_code))

    @classmethod
    def down(
        cls,
        duration_ms: float,
        error_code: CheckError | str,
        detail: str,
        data: dict[str, Any] | None = None,
    ) -> CheckResult:
        return cls(False, "down", duration_ms, detail, data or {}, str(error_code))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 1),
            "detail": self.detail,
            "error_code": self.error_code,
            "data": self.data,
        }


class Stopwatch:
    """Milliseconds since creation (``time.perf_counter``)."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def connection_failure(label: str, exc: BaseException) -> tuple[CheckError, str]:
    """The code and one-line reason for a failure to connect to ``label``.

    Walks the exception chain (HTTP libraries wrap the ``OSError`` or ``ssl`` error), so the most
    specific cause decides: TLS, refused, DNS, unreachable.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            reason = current.verify_message or current.reason or str(current)
            return CheckError.TLS_ERROR, f"TLS certificate of {label} rejected: {reason}"
        if isinstance(current, ssl.SSLError):
            reason = current.reason or str(current)
            return CheckError.TLS_ERROR, f"TLS handshake with {label} failed: {reason}"
        if isinstance(current, socket.gaierror):
            return CheckError.DNS_FAILURE, f"cannot resolve {label}: {current.strerror or current}"
        if isinstance(current, ConnectionRefusedError) or (
            isinstance(current, OSError) and current.errno == errno.ECONNREFUSED
        ):
            return (
                CheckError.CONNECTION_REFUSED,
                f"connection to {label} refused (nothing listens on that port)",
            )
        if isinstance(current, OSError) and current.errno in (
            errno.EHOSTUNREACH,
            errno.ENETUNREACH,
        ):
            return CheckError.UNREACHABLE, f"no route to {label}: {current.strerror}"
        if isinstance(current, TimeoutError):
            return CheckError.TIMEOUT, f"connection to {label} timed out"
        current = current.__cause__ or current.__context__
    reason = _reason(exc)
    return CheckError.UNREACHABLE, f"cannot connect to {label}: {reason}"


def _reason(exc: BaseException) -> str:
    """The innermost non-empty message of an exception chain."""
    text = ""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            text = current.strerror
        elif str(current):
            text = str(current)
        current = current.__cause__ or current.__context__
    return text or type(exc).__name__


def seconds(value: float) -> str:
    """``2 s``, ``0.5 s``: a timeout as people write it."""
    return f"{value:g} s"
