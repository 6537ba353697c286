"""Misbehaving servers must yield a result with a precise reason, never an exception or a hang."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Callable

import pytest

from mamori.probe import Problem, TLSResult, TrustStore, parse_target, probe_many, probe_tls
from tests.probe.conftest import ProbePKI, RawServer, read_some
from tests.support.nginx import Nginx

TIMEOUT = 0.5


@pytest.fixture(scope="module")
def trust() -> TrustStore:
    return TrustStore.system()


def probe(port: int, trust: TrustStore, timeout: float = TIMEOUT) -> TLSResult:
    started = time.monotonic()
    result = asyncio.run(probe_tls(parse_target(f"127.0.0.1:{port}"), trust=trust, timeout=timeout))
    # Bounded: the timeout plus scheduling slack, whatever the server does.
    assert time.monotonic() - started < timeout + 1.5
    return result


def answer_garbage(conn: socket.socket) -> None:
    read_some(conn)
    conn.sendall(b"\x00\xff\x13\x37 this is not TLS at all \x00" * 4)
    read_some(conn)


def close_at_once(conn: socket.socket) -> None:
    conn.close()


def reset_after_hello(conn: socket.socket) -> None:
    read_some(conn)
    # SO_LINGER with a zero timeout turns close() into a TCP RST.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def stall_after_partial_record(server: Callable[[], RawServer]) -> Callable[[socket.socket], None]:
    def behaviour(conn: socket.socket) -> None:
        read_some(conn)
        # A handshake record header announcing 200 bytes, then only part of a ServerHello.
        conn.sendall(b"\x16\x03\x03\x00\xc8" + b"\x02\x00\x00\xc4\x03\x03" + b"\x11" * 9)
        server().wait_stop(30)

    return behaviour


@pytest.mark.req("CERT-02")
def test_it_reports_garbage_as_a_tls_error(raw_server, trust: TrustStore) -> None:
    server = raw_server(answer_garbage)
    result = probe(server.port, trust)
    assert result.problems == [Problem.TLS_ERROR]
    assert result.error == "server is not speaking TLS (first bytes: 00 ff 13 37 20 74 68 69)"
    assert result.details["tls_error"] == result.error


@pytest.mark.req("CERT-02")
def test_it_reports_an_immediate_close_as_a_tls_error(raw_server, trust: TrustStore) -> None:
    server = raw_server(close_at_once)
    result = probe(server.port, trust)
    assert result.problems == [Problem.TLS_ERROR]
    assert result.error is not None
    assert "without answering the TLS ClientHello" in result.error


@pytest.mark.req("CERT-02")
def test_it_reports_a_reset_as_a_tls_error(raw_server, trust: TrustStore) -> None:
    server = raw_server(reset_after_hello)
    result = probe(server.port, trust)
    assert result.problems == [Problem.TLS_ERROR]
    assert result.error is not None and "the connection without answering" in result.error


@pytest.mark.req("CERT-02")
def test_it_times_out_on_a_server_that_never_answers(raw_server, trust: TrustStore) -> None:
    holder: list[RawServer] = []
    server = raw_server(lambda conn: (read_some(conn), holder[0].wait_stop(30)))
    holder.append(server)
    result = probe(server.port, trust)
    assert result.problems == [Problem.TIMEOUT]
    assert result.error == (
        f"TLS handshake with 127.0.0.1:{server.port} timed out after 0.5 s "
        "(no answer to the ClientHello)"
    )
    assert result.connect_ms is not None


@pytest.mark.req("CERT-02")
def test_it_times_out_on_a_server_that_stalls_mid_handshake(raw_server, trust) -> None:
    holder: list[RawServer] = []
    server = raw_server(stall_after_partial_record(lambda: holder[0]))
    holder.append(server)
    result = probe(server.port, trust)
    assert result.problems == [Problem.TIMEOUT]
    assert result.error is not None and "stalled after 20 bytes" in result.error


@pytest.mark.req("CERT-02")
def test_it_times_out_when_the_connection_cannot_be_established(raw_server, trust) -> None:
    # A listener that never accepts, with its backlog filled: further SYNs are dropped, so the
    # connection attempt itself hangs (loopback only, no unroutable address needed).
    server = raw_server(lambda conn: None, accept=False, backlog=0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", server.port))
        fillers.append(filler)
    time.sleep(0.1)
    try:
        result = probe(server.port, trust)
    finally:
        for filler in fillers:
            filler.close()
    assert result.problems == [Problem.TIMEOUT]
    assert result.error is not None and "timed out after 0.5 s" in result.error


@pytest.mark.req("CERT-02")
def test_it_reports_an_oversized_certificate_as_a_tls_error(
    nginx: Nginx, pki: ProbePKI, trust: TrustStore
) -> None:
    # ~160 KiB of subjectAltName: beyond what a client accepts (OpenSSL: 100 KiB).
    names = [f"host-{index:05d}.huge-certificate.test" for index in range(5000)]
    port = nginx.add_site("huge", cert=pki.intermediate.issue(names), server_names=["huge.test"])
    nginx.start()
    result = asyncio.run(
        probe_tls(parse_target(f"huge.test:{port}{{127.0.0.1}}"), trust=trust, timeout=5)
    )
    assert result.problems == [Problem.TLS_ERROR]
    assert result.error is not None and result.error.startswith("TLS handshake failed: ")
    assert "excessive message size" in result.error


@pytest.mark.req("CERT-02")
def test_it_survives_a_crowd_of_hostile_servers_at_once(raw_server, trust: TrustStore) -> None:
    holder: list[RawServer] = []
    servers = [
        raw_server(answer_garbage),
        raw_server(close_at_once),
        raw_server(reset_after_hello),
        raw_server(stall_after_partial_record(lambda: holder[0])),
    ]
    holder.append(servers[3])
    targets = [parse_target(f"127.0.0.1:{s.port}") for s in servers] * 5
    started = time.monotonic()
    results = asyncio.run(probe_many(targets, trust=trust, timeout=TIMEOUT, concurrency=50))
    assert time.monotonic() - started < TIMEOUT + 2
    assert [r.problems for r in results[:4]] == [
        [Problem.TLS_ERROR],
        [Problem.TLS_ERROR],
        [Problem.TLS_ERROR],
        [Problem.TIMEOUT],
    ]
    assert all(r.error for r in results)
