"""TCP connect and TLS client handshake on the asyncio event loop, with OpenSSL memory BIOs.

:func:`handshake` connects to one endpoint and runs a pyOpenSSL client handshake whose network
side is a pair of memory BIOs: bytes read from the socket go into OpenSSL, bytes OpenSSL wants to
send go to the socket. That yields the certificate chain exactly as the server sent it.

The socket is driven directly with the loop's reader/writer callbacks (``add_reader``) and a
single timer per attempt, rather than with asyncio transports and ``asyncio.timeout``: a probe
does a few kilobytes of I/O, so per-connection bookkeeping dominates its cost, and this keeps it
to one future, one timer and a handful of callbacks. (Selector-based loops, i.e. Linux asyncio
and uvloop, provide these callbacks.)

Failures are raised as :class:`HandshakeError` carrying the problem code (``unreachable``,
``timeout``, ``tls_error``, ``address_refused``) and a message for the user; nothing else escapes.

With an :class:`~mamori.probe.netguard.AddressPolicy`, every address is checked before it is
connected to: an IP literal as given, a name after it is resolved (so a name resolving to
127.0.0.1 is caught, whatever the name), and only the addresses the policy allows are tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import time
from dataclasses import dataclass

from OpenSSL import SSL

from mamori.probe.netguard import AddressPolicy, AddressRefused, screen
from mamori.probe.problems import Problem
from mamori.probe.targets import is_ip_literal

__all__ = ["HandshakeError", "Session", "client_context", "handshake"]

# A chain is a few KiB; OpenSSL caps it at 100 KiB by default (SSL_CTX_set_max_cert_list).
# Much more during a handshake means a hostile or broken peer.
MAX_HANDSHAKE_BYTES = 512 * 1024
# RFC 8305 §5 recommends 250 ms between connection attempts to successive addresses.
_ATTEMPT_DELAY = 0.25
_RECV_SIZE = 65536


def client_context(min_version: int, max_version: int) -> SSL.Context:
    """A permissive client context: inspect anything, verify nothing during the handshake."""
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(min_version)
    context.set_max_proto_version(max_version)
    # Security level 0 lets OpenSSL talk to servers with 1024-bit keys, SHA-1 signatures and
    # old ciphers: the probe must *report* those, not fail on them. Anonymous suites are left
    # out because they carry no certificate to inspect.
    context.set_cipher_list(b"ALL:!aNULL:@SECLEVEL=0")
    context.set_verify(SSL.VERIFY_NONE)
    options = SSL.OP_NO_TICKET | SSL.OP_NO_COMPRESSION
    # OpenSSL 3 refuses servers without RFC 5746 secure renegotiation unless this is set.
    options |= getattr(SSL, "OP_LEGACY_SERVER_CONNECT", 0x4)
    context.set_options(options)
    return context


class HandshakeError(Exception):
    """Connecting or the handshake failed; ``problem`` is the code, ``message`` the reason."""

    def __init__(self, problem: Problem, message: str, connect_ms: float | None = None) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message
        self.connect_ms = connect_ms


@dataclass(slots=True)
class Session:
    """A completed handshake. Read what you need from ``conn``, then call :meth:`close`."""

    conn: SSL.Connection
    address: str
    connect_ms: float
    handshake_ms: float
    _client: _Client

    def close(self) -> None:
        """Send close_notify (RFC 8446 §6.1) with any pending handshake bytes, then close."""
        self._client.close_gracefully()


async def handshake(
    host: str,
    port: int,
    sni: str | None,
    context: SSL.Context,
    deadline: float,
    *,
    label: str,
    policy: AddressPolicy | None = None,
) -> Session:
    """Connect to ``host:port`` and complete a TLS handshake before loop time ``deadline``.

    ``host`` may be an IP literal (connected to directly) or a name (resolved, then connected
    with Happy Eyeballs, RFC 8305, when it has several addresses). ``label`` names the
    endpoint in messages. ``policy`` (None: any address) decides which addresses may be
    connected to. Raises :class:`HandshakeError`; cancellation closes the socket.
    """
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    budget = max(deadline - loop.time(), 0.0)
    conn = SSL.Connection(context, None)
    conn.set_connect_state()
    if sni:
        conn.set_tlsext_host_name(sni.encode("ascii"))

    sock: socket.socket | None = None
    if is_ip_literal(host):
        if policy is not None:
            try:
                policy.check(host, host)
            except AddressRefused as refused:
                raise HandshakeError(Problem.ADDRESS_REFUSED, str(refused)) from None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        address: tuple = (host, port)
    else:
        sock, address = await _resolve_and_connect(host, port, deadline, label, budget, policy)
        family = sock.family

    future: asyncio.Future[None] = loop.create_future()
    client = _Client(loop, conn, future, deadline, label=label, budget=budget, started=started)
    if sock is None:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            raise HandshakeError(Problem.UNREACHABLE, _connect_error(label, exc)) from None
        client.connect(sock, address)
    else:
        client.attach_connected(sock)
    try:
        await future
    except asyncio.CancelledError:
        client.abort()
        raise
    return Session(
        conn=conn,
        address=address[0],
        connect_ms=client.connect_ms,
        handshake_ms=(time.perf_counter() - client.connected_at) * 1000,
        _client=client,
    )


async def _resolve_and_connect(
    host: str, port: int, deadline: float, label: str, budget: float, policy: AddressPolicy | None
) -> tuple[socket.socket, tuple]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(deadline):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise HandshakeError(
            Problem.TIMEOUT, f"DNS lookup of {host!r} timed out after {budget:.1f} s"
        ) from None
    except socket.gaierror as exc:
        raise HandshakeError(
            Problem.UNREACHABLE, f"cannot resolve {host!r}: {exc.strerror or exc}"
        ) from None
    except OSError as exc:
        raise HandshakeError(Problem.UNREACHABLE, f"cannot resolve {host!r}: {exc}") from None
    candidates = _interleave([(info[0], info[4]) for info in infos])
    allowed, refused = screen(host, [str(c[1][0]) for c in candidates], policy)
    if refused is not None:
        candidates = [c for c in candidates if str(c[1][0]) in allowed]
        if not candidates:
            raise HandshakeError(Problem.ADDRESS_REFUSED, str(refused))
    try:
        async with asyncio.timeout_at(deadline):
            return await _happy_eyeballs(candidates)
    except TimeoutError:
        raise HandshakeError(
            Problem.TIMEOUT, f"connection to {label} timed out after {budget:.1f} s"
        ) from None
    except OSError as exc:
        raise HandshakeError(Problem.UNREACHABLE, _connect_error(label, exc)) from None


def _interleave(addresses: list[tuple[int, tuple]]) -> list[tuple[int, tuple]]:
    """Alternate address families, first family first (RFC 8305 §4), dropping duplicates."""
    unique = list(dict.fromkeys(addresses))
    if not unique:
        return unique
    first = [a for a in unique if a[0] == unique[0][0]]
    other = [a for a in unique if a[0] != unique[0][0]]
    merged: list[tuple[int, tuple]] = []
    for index in range(max(len(first), len(other))):
        merged += first[index : index + 1] + other[index : index + 1]
    return merged


async def _connect_socket(family: int, address: tuple) -> tuple[socket.socket, tuple]:
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock, address


async def _happy_eyeballs(candidates: list[tuple[int, tuple]]) -> tuple[socket.socket, tuple]:
    """Connect to the first address that answers, starting one attempt every 250 ms."""
    if len(candidates) == 1:
        return await _connect_socket(*candidates[0])
    remaining = list(candidates)
    pending: set[asyncio.Task[tuple[socket.socket, tuple]]] = set()
    errors: list[BaseException] = []
    winner: tuple[socket.socket, tuple] | None = None
    try:
        while winner is None and (remaining or pending):
            if remaining:
                pending.add(asyncio.ensure_future(_connect_socket(*remaining.pop(0))))
            done, pending = await asyncio.wait(
                pending,
                timeout=_ATTEMPT_DELAY if remaining else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                error = task.exception()
                if error is not None:
                    errors.append(error)
                elif winner is None:
                    winner = task.result()
                else:
                    task.result()[0].close()
    finally:
        for task in pending:
            task.cancel()
    if winner is not None:
        return winner
    raise errors[0] if errors else OSError(errno.EHOSTUNREACH, "no address to connect to")


class _Client:
    """One connection's state machine: connecting → handshaking → done or failed.

    All methods run on the event loop thread. Exactly one of success or failure is delivered
    to ``future``; after that every registered callback and the timer are gone.
    """

    __slots__ = (
        "budget",
        "conn",
        "connect_ms",
        "connected_at",
        "fd",
        "first_bytes",
        "future",
        "label",
        "loop",
        "outgoing",
        "received",
        "sock",
        "started",
        "timer",
        "writer_registered",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: SSL.Connection,
        future: asyncio.Future[None],
        deadline: float,
        *,
        label: str,
        budget: float,
        started: float,
    ) -> None:
        self.loop = loop
        self.conn = conn
        self.future = future
        self.label = label
        self.budget = budget
        self.started = started
        self.sock: socket.socket | None = None
        self.fd = -1
        self.connected_at = 0.0
        self.connect_ms: float | None = None
        self.received = 0
        self.first_bytes = b""
        self.outgoing = b""
        self.writer_registered = False
        self.timer = loop.call_at(deadline, self._on_timeout)

    # -- connecting ---------------------------------------------------------------------------

    def connect(self, sock: socket.socket, address: tuple) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        sock.setblocking(False)
        try:
            sock.connect(address)
        except (BlockingIOError, InterruptedError):
            self.loop.add_writer(self.fd, self._on_connect_ready)
            self.writer_registered = True
            return
        except OSError as exc:
            self._fail(Problem.UNREACHABLE, _connect_error(self.label, exc))
            return
        self._on_connected()

    def attach_connected(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self._on_connected()

    def _on_connect_ready(self) -> None:
        self._remove_writer()
        assert self.sock is not None
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(
                Problem.UNREACHABLE, _connect_error(self.label, OSError(code, os.strerror(code)))
            )
            return
        self._on_connected()

    def _on_connected(self) -> None:
        self.connected_at = time.perf_counter()
        self.connect_ms = (self.connected_at - self.started) * 1000
        self.loop.add_reader(self.fd, self._on_readable)
        self._advance()

    # -- handshaking --------------------------------------------------------------------------

    def _on_readable(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._fail(Problem.TLS_ERROR, self._closed_message("reset the connection"))
            return
        if not data:
            self._fail(Problem.TLS_ERROR, self._closed_message("closed the connection"))
            return
        if not self.first_bytes:
            self.first_bytes = data[:16]
        self.received += len(data)
        if self.received > MAX_HANDSHAKE_BYTES:
            self._fail(
                Problem.TLS_ERROR,
                f"server sent more than {MAX_HANDSHAKE_BYTES // 1024} KiB without completing "
                "the TLS handshake",
            )
            return
        self.conn.bio_write(data)
        self._advance()

    def _advance(self) -> None:
        try:
            self.conn.do_handshake()
        except SSL.WantReadError:
            self._flush()
            return
        except SSL.Error as exc:
            self._flush()  # deliver our alert, so that the server's log says why
            self._fail(Problem.TLS_ERROR, self._describe(exc))
            return
        # Success. Our last flight (TLS 1.3 client Finished) stays in the BIO and leaves
        # together with close_notify in close_gracefully(): one send instead of two.
        self.timer.cancel()
        self._remove_reader()
        if not self.future.done():
            self.future.set_result(None)

    def _flush(self) -> None:
        while True:
            try:
                data = self.conn.bio_read(_RECV_SIZE)
            except SSL.WantReadError:
                return
            self._send(data)

    def _send(self, data: bytes) -> None:
        if self.outgoing:
            self.outgoing += data
            return
        assert self.sock is not None
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return  # the read side reports the broken connection
        if sent < len(data):
            self.outgoing = data[sent:]
            self.loop.add_writer(self.fd, self._on_writable)
            self.writer_registered = True

    def _on_writable(self) -> None:
        assert self.sock is not None
        try:
            sent = self.sock.send(self.outgoing)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.outgoing = b""
            self._remove_writer()
            return
        self.outgoing = self.outgoing[sent:]
        if not self.outgoing:
            self._remove_writer()

    # -- endings ------------------------------------------------------------------------------

    def _on_timeout(self) -> None:
        if self.connect_ms is None:
            message = f"connection to {self.label} timed out after {self.budget:.1f} s"
        else:
            progress = (
                "no answer to the ClientHello"
                if self.received == 0
                else f"stalled after {self.received} bytes"
            )
            message = (
                f"TLS handshake with {self.label} timed out after {self.budget:.1f} s ({progress})"
            )
        self._fail(Problem.TIMEOUT, message)

    def _fail(self, problem: Problem, message: str) -> None:
        self.abort()
        if not self.future.done():
            self.future.set_exception(HandshakeError(problem, message, self.connect_ms))

    def abort(self) -> None:
        """Drop the connection now (no close_notify)."""
        self.timer.cancel()
        self._remove_reader()
        self._remove_writer()
        if self.sock is not None:
            self.sock.close()

    def close_gracefully(self) -> None:
        """After success: send pending bytes plus close_notify, best effort, and close."""
        with contextlib.suppress(SSL.Error):
            self.conn.shutdown()
        pending = self.outgoing
        while True:
            try:
                pending += self.conn.bio_read(_RECV_SIZE)
            except SSL.Error:
                break
        self.outgoing = b""
        self._remove_writer()
        if pending and self.sock is not None:
            # Best effort: if the peer is gone or its window is full, we owe it nothing more.
            with contextlib.suppress(OSError):
                self.sock.send(pending)
        self.abort()

    def _remove_reader(self) -> None:
        if self.fd >= 0 and self.sock is not None and self.sock.fileno() >= 0:
            self.loop.remove_reader(self.fd)

    def _remove_writer(self) -> None:
        if self.writer_registered:
            self.writer_registered = False
            self.loop.remove_writer(self.fd)

    # -- messages -----------------------------------------------------------------------------

    def _closed_message(self, what: str) -> str:
        if self.received == 0:
            return f"server {what} without answering the TLS ClientHello"
        return f"server {what} during the TLS handshake (after {self.received} bytes)"

    def _describe(self, exc: SSL.Error) -> str:
        head = self.first_bytes
        if head[:5] in (b"HTTP/", b"<html", b"<HTML", b"<!DOC") or head[:4] == b"SSH-":
            printable = head.split(b"\r")[0].split(b"\n")[0].decode("ascii", "replace")
            return f"server is not speaking TLS (it answered {printable!r}…)"
        if head and head[0] not in (0x14, 0x15, 0x16, 0x17):
            # A TLS record starts with content type 20–23 (RFC 8446 §5.1, RFC 5246 §6.2.1).
            return f"server is not speaking TLS (first bytes: {head[:8].hex(' ')})"
        return "TLS handshake failed: " + openssl_reason(exc)


def openssl_reason(exc: SSL.Error) -> str:
    """OpenSSL's reason strings from a pyOpenSSL error, e.g. ``tlsv1 alert protocol version``."""
    if isinstance(exc, SSL.ZeroReturnError):
        return "server closed the TLS session during the handshake"
    reasons: list[str] = []
    details = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    for item in details:
        if isinstance(item, tuple) and item:
            reason = str(item[-1])
            if reason and reason not in reasons:
                reasons.append(reason)
    return "; ".join(reasons) or str(exc) or type(exc).__name__


def _connect_error(label: str, exc: OSError) -> str:
    code = exc.errno
    if code == errno.ECONNREFUSED:
        return f"connection to {label} refused (nothing listens on that port)"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"no route to {label}: {exc.strerror}"
    if code == errno.ETIMEDOUT:
        return f"connection to {label} timed out in the network"
    return f"cannot connect to {label}: {exc.strerror or exc}"
