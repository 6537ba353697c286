"""ICMP echo ("ping") where the host allows it (MON-01).

Two ways to send an echo request without a helper binary:

* an unprivileged ICMP socket (``SOCK_DGRAM`` + ``IPPROTO_ICMP``), allowed when the process's
  group is inside ``net.ipv4.ping_group_range`` (Linux; the kernel sets the identifier and
  delivers only this socket's replies, without IP header);
* a raw socket, with ``CAP_NET_RAW`` (root): it sees every ICMP packet of the host, with the
  IPv4 header, so replies are matched by source, identifier and sequence.

When neither is allowed the result says so (``icmp_not_permitted``) instead of raising.
Messages: RFC 792 (ICMPv4 echo 8/0), RFC 4443 §4.1–4.2 (ICMPv6 echo 128/129).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import os
import random
import socket
import struct
import time

from mamori.probe.checks_result import CheckError, CheckResult, Stopwatch, seconds

__all__ = ["check_icmp"]

_ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
_ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
# Errors that quote our request: destination unreachable, time exceeded (v4: 3, 11; v6: 1, 3).
_ERRORS = {socket.AF_INET: {3: "destination unreachable", 11: "time exceeded"},
           socket.AF_INET6: {1: "destination unreachable", 3: "time exceeded"}}  # fmt: skip
_PAYLOAD = b"mamori-uptime-check".ljust(32, b".")
_SPACING = 0.01  # seconds between the requests of one check
# Raw sockets see every reply on the host: concurrent checks need distinct identifiers.
_identifiers = itertools.count(random.getrandbits(16))


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo_request(family: int, ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", _ECHO_REQUEST[family], 0, 0, ident, seq)
    # For ICMPv6 the kernel computes the checksum (it covers a pseudo-header; RFC 3542 §3.1).
    checksum = _checksum(header + _PAYLOAD) if family == socket.AF_INET else 0
    return struct.pack("!BBHHH", _ECHO_REQUEST[family], 0, checksum, ident, seq) + _PAYLOAD


def _open_socket(family: int) -> tuple[socket.socket, bool] | None:
    """A non-blocking ICMP socket and whether it is raw, or None when neither is permitted."""
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    for kind, raw in ((socket.SOCK_DGRAM, False), (socket.SOCK_RAW, True)):
        try:
            sock = socket.socket(family, kind, proto)
        except OSError:  # EACCES/EPERM: not permitted; others: no ICMP support
            continue
        sock.setblocking(False)
        return sock, raw
    return None


def _parse(packet: bytes, family: int, raw: bool, ident: int | None) -> tuple[str, int, int] | None:
    """("reply" | error text, sequence, ICMP code) for a packet answering us, else None."""
    if raw and family == socket.AF_INET:
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]  # strip the IPv4 header (IHL words)
    if len(packet) < 8:
        return None
    kind, code, _, pid, seq = struct.unpack("!BBHHH", packet[:8])
    if kind == _ECHO_REPLY[family]:
        if ident is not None and pid != ident:
            return None
        return "reply", seq, code
    error = _ERRORS[family].get(kind)
    if error is None:
        return None
    quoted = packet[8:]  # the offending datagram: its IP header, then our echo request
    if family == socket.AF_INET and len(quoted) >= 20:
        quoted = quoted[(quoted[0] & 0x0F) * 4 :]
    elif family == socket.AF_INET6:
        quoted = quoted[40:]
    if len(quoted) < 8:
        return None
    q_kind, _, _, q_id, q_seq = struct.unpack("!BBHHH", quoted[:8])
    if q_kind != _ECHO_REQUEST[family] or (ident is not None and q_id != ident):
        return None
    return error, q_seq, code


async def check_icmp(host: str, *, count: int = 1, timeout: float = 5.0) -> CheckResult:
    """Send ``count`` echo requests to ``host`` and wait for the replies.

    Up when at least one reply arrives within ``timeout`` (which bounds resolution too); down
    with ``timeout`` when none does, ``unreachable`` when a router reports the host
    unreachable, ``dns_failure`` when the name does not resolve, ``icmp_not_permitted`` when
    this host allows neither unprivileged nor raw ICMP sockets.
    ``data``: ``address``, ``sent``, ``received``, ``loss`` (0–1), ``rtt_ms`` (min/avg/max),
    ``method`` (``"unprivileged"`` or ``"raw"``). Never raises for network problems.
    """
    watch = Stopwatch()
    count = max(1, count)
    try:
        async with asyncio.timeout(timeout):
            family, address = await _resolve(host)
    except TimeoutError:
        return CheckResult.down(
            watch.ms, CheckError.TIMEOUT, f"cannot resolve {host} within {seconds(timeout)}"
        )
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return CheckResult.down(
            watch.ms, CheckError.DNS_FAILURE, f"cannot resolve {host}: {reason}"
        )

    opened = _open_socket(family)
    if opened is None:
        return CheckResult.down(
            watch.ms,
            CheckError.ICMP_NOT_PERMITTED,
            "this host allows neither unprivileged ICMP (group "
            f"{os.getegid()} outside net.ipv4.ping_group_range) nor raw sockets (no CAP_NET_RAW)",
            {"address": address},
        )
    sock, raw = opened
    with sock:
        return await _ping(sock, raw, family, host, address, count, timeout, watch)


async def _resolve(host: str) -> tuple[int, str]:
    with contextlib.suppress(ValueError):
        literal = ipaddress.ip_address(host.strip("[]"))
        return (socket.AF_INET6 if literal.version == 6 else socket.AF_INET), str(literal)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_RAW, proto=socket.IPPROTO_ICMP)
    infos = [info for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    if not infos:
        raise OSError(f"no IPv4 or IPv6 address for {host}")
    return infos[0][0], infos[0][4][0]


async def _ping(
    sock: socket.socket,
    raw: bool,
    family: int,
    host: str,
    address: str,
    count: int,
    timeout: float,
    watch: Stopwatch,
) -> CheckResult:
    loop = asyncio.get_running_loop()
    ident = next(_identifiers) & 0xFFFF
    first_seq = random.getrandbits(15)
    sent_at: dict[int, float] = {}
    rtts: dict[int, float] = {}
    error: tuple[str, int] | None = None
    label = host if host == address else f"{host} ({address})"
    data = {"address": address, "method": "raw" if raw else "unprivileged"}

    async def send_all() -> None:
        for index in range(count):
            seq = (first_seq + index) & 0xFFFF
            sent_at[seq] = time.perf_counter()
            await loop.sock_sendto(sock, _echo_request(family, ident, seq), (address, 0))
            if index + 1 < count:
                await asyncio.sleep(_SPACING)

    async def receive() -> None:
        nonlocal error
        while len(rtts) < count:
            packet, source = await loop.sock_recvfrom(sock, 65535)
            now = time.perf_counter()
            # A raw socket sees every ICMP packet of the host: only replies from the target,
            # to our identifier, count. (Errors come from routers, so any source.)
            parsed = _parse(packet, family, raw, ident if raw else None)
            if parsed is None:
                continue
            outcome, seq, code = parsed
            if seq not in sent_at:
                continue
            if outcome == "reply":
                if source[0] == address or not raw:
                    rtts.setdefault(seq, (now - sent_at[seq]) * 1000)
            elif error is None:
                error = (f"{outcome} (code {code}) reported by {source[0]}", code)
                return

    sender = asyncio.ensure_future(send_all())
    try:
        async with asyncio.timeout(max(timeout - watch.ms / 1000, 0)):
            await receive()
            await sender
    except TimeoutError:
        pass
    except OSError as exc:  # e.g. EHOSTUNREACH on send, or a queued error on an ICMP socket
        data.update(sent=len(sent_at), received=len(rtts))
        return CheckResult.down(
            watch.ms, CheckError.UNREACHABLE, f"cannot ping {label}: {exc.strerror or exc}", data
        )
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await sender

    sent, received = len(sent_at), len(rtts)
    values = list(rtts.values())
    data.update(
        sent=sent,
        received=received,
        loss=round(1 - received / sent, 3) if sent else 1.0,
        rtt_ms={
            "min": round(min(values), 3),
            "avg": round(sum(values) / len(values), 3),
            "max": round(max(values), 3),
        }
        if values
        else None,
    )
    if received:
        avg = sum(values) / len(values)
        return CheckResult.up(
            watch.ms, f"{received}/{sent} echo replies from {label}, average {avg:.1f} ms", data
        )
    if error is not None:
        return CheckResult.down(watch.ms, CheckError.UNREACHABLE, f"{label}: {error[0]}", data)
    return CheckResult.down(
        watch.ms,
        CheckError.TIMEOUT,
        f"no echo reply from {label} within {seconds(timeout)} ({sent} sent)",
        data,
    )
