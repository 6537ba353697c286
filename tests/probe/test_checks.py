"""Uptime checks (MON-01) against real servers on loopback.

One nginx serves every HTTP situation (status codes, redirects, keywords, charsets, a large body),
an HTTPS site with a certificate from the test PKI, and RDAP documents (registries are the
public internet, replaced here by static files in RFC 9083 form). DNS goes to the session's
PowerDNS; slow servers are small asyncio servers started inside the test's own event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from mamori.probe.checks import (
    CheckError,
    CheckResult,
    check_dns,
    check_http,
    check_icmp,
    check_rdap,
    check_tcp,
    run_checks,
    run_one,
)
from mamori.probe.checks_http import ClientPool
from tests.probe.conftest import ProbePKI, closed_port, read_some, wait_for
from tests.support.env import require_binary
from tests.support.nginx import Nginx, find_nginx, free_port

pytestmark = pytest.mark.req("MON-01")

NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
ZONE = "checks.example"


def run(coroutine):
    return asyncio.run(coroutine)


# -- servers -------------------------------------------------------------------------------------


class CheckNginx(Nginx):
    """The test nginx plus hand-written plain-HTTP server blocks (``return``, ``alias``…)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.blocks: list[tuple[int, str, str]] = []

    def add_block(self, body: str, listen_options: str = "") -> int:
        port = free_port(self.host)
        self.blocks.append((port, body, listen_options))
        return port

    def config_text(self) -> str:
        text = super().config_text().rstrip()
        assert text.endswith("}")
        extra = [
            f"    server {{\n        listen {self.host}:{port}{options};\n{body}    }}"
            for port, body, options in self.blocks
        ]
        return text[:-1] + "\n".join(extra) + "\n}\n"

    def _all_ports(self) -> list[int]:
        return [*super()._all_ports(), *(port for port, _, _ in self.blocks)]


@dataclass
class Web:
    http: str  # base URL of the plain-HTTP server
    https: str  # base URL of the HTTPS site (certificate for 127.0.0.1 from the test PKI)
    rdap: str  # base URL of the RDAP files
    tcp_port: int
    ca_pem: bytes
    other: str  # base URL of a second plain-HTTP origin that echoes credentials
    h2: str  # base URL of an HTTPS server that offers HTTP/2


SJIS_TEXT = "ようこそ、まもりへ"


def _rdap_domain(name: str, expires: dt.datetime | None) -> bytes:
    events = [{"eventAction": "registration", "eventDate": "2015-04-01T00:00:00Z"}]
    if expires is not None:
        events.append(
            {"eventAction": "expiration", "eventDate": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        )
    return json.dumps(
        {
            "objectClassName": "domain",
            "rdapConformance": ["rdap_level_0"],
            "ldhName": name,
            "status": ["active", "client transfer prohibited"],
            "events": events,
            "entities": [
                {
                    "objectClassName": "entity",
                    "roles": ["registrar"],
                    "handle": "9999",
                    "vcardArray": [
                        "vcard",
                        [
                            ["version", {}, "text", "4.0"],
                            ["fn", {}, "text", "Example Registrar KK"],
                        ],
                    ],
                }
            ],
        }
    ).encode()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, pki: ProbePKI) -> Iterator[Web]:
    require_binary("nginx", find_nginx() or "/usr/sbin/nginx")
    root = tmp_path_factory.mktemp("checks-nginx")
    server = CheckNginx(root)
    files = root / "files"
    files.mkdir()
    (files / "big").write_bytes(b"a" * 2_000_000 + b"NEEDLE")
    (files / "sjis").write_bytes(SJIS_TEXT.encode("shift_jis"))
    (files / "compressible").write_text("lorem ipsum " * 2000 + "compressed needle")
    # Another origin (another port), which echoes what reached it; "/here" redirects within it.
    other_port = server.add_block(
        """\
        location = /here { return 302 /credentials; }
        location = /credentials {
            return 200 "authorization=[$http_authorization] cookie=[$http_cookie]\\n";
        }
"""
    )
    http_port = server.add_block(
        f"""\
        location = /away {{ return 302 http://127.0.0.1:{other_port}/credentials; }}
        location = /post-redirect {{ return 302 /echo; }}
        location = /gzip {{
            gzip on; gzip_min_length 1; gzip_types text/plain; default_type text/plain;
            alias {files / "compressible"};
        }}
        location = /ok {{ return 200 "all systems nominal\\n"; }}
        location = /maintenance {{ return 503 "down for maintenance\\n"; }}
        location = /moved {{ return 301 /ok; }}
        location = /loop {{ return 302 /loop; }}
        location = /error-page {{ return 200 "Fatal error: database unavailable\\n"; }}
        location = /echo {{ return 200 "method=$request_method probe=$http_x_probe\\n"; }}
        location = /big {{ alias {files / "big"}; }}
        location = /sjis {{ default_type "text/html; charset=Shift_JIS"; alias {files / "sjis"}; }}
"""
    )
    https_port = server.add_site("secure", cert=pki.intermediate.issue(["127.0.0.1"]))
    h2_cert = pki.intermediate.issue(["127.0.0.1"])
    (root / "h2-chain.pem").write_text(h2_cert.fullchain_pem)
    (root / "h2-key.pem").write_text(h2_cert.key_pem)
    h2_port = server.add_block(
        f"""\
        ssl_certificate {root / "h2-chain.pem"};
        ssl_certificate_key {root / "h2-key.pem"};
        location / {{ return 200 "spoken over h2\\n"; }}
""",
        listen_options=" ssl http2",
    )
    rdap_port = free_port()
    rdap = f"http://127.0.0.1:{rdap_port}"
    bootstrap = {
        "version": "1.0",
        "publication": "2026-01-01T00:00:00Z",
        "services": [
            [["test"], [f"{rdap}/v1/"]],
            [["co.test"], [f"{rdap}/co/"]],
        ],
    }
    server.add_files(
        "rdap",
        {
            "dns.json": json.dumps(bootstrap).encode(),
            "v1/domain/healthy.test": _rdap_domain("healthy.test", NOW + 400 * DAY),
            "v1/domain/soon.test": _rdap_domain("soon.test", NOW + 10 * DAY + HOUR),
            "v1/domain/lapsed.test": _rdap_domain("lapsed.test", NOW - 3 * DAY),
            "v1/domain/forever.test": _rdap_domain("forever.test", None),
            "v1/domain/xn--r8jz45g.test": _rdap_domain("xn--r8jz45g.test", NOW + 200 * DAY),
            "v1/domain/broken.test": b"<html>not json</html>",
            "co/domain/shop.co.test": _rdap_domain("shop.co.test", NOW + 100 * DAY),
        },
        port=rdap_port,
    )
    server.start()
    try:
        yield Web(
            http=f"http://127.0.0.1:{http_port}",
            https=f"https://127.0.0.1:{https_port}",
            rdap=rdap,
            tcp_port=http_port,
            ca_pem=pki.root_pem,
            other=f"http://127.0.0.1:{other_port}",
            h2=f"https://127.0.0.1:{h2_port}",
        )
    finally:
        server.stop()


class SlowHTTP:
    """An HTTP/1.1 server in the running loop that answers 200 "ok" after ``delay`` seconds."""

    def __init__(self, delay: float, body: bytes = b"ok") -> None:
        self.delay = delay
        self.body = body
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        assert self.server is not None
        self.server.close()
        if hasattr(self.server, "close_clients"):
            self.server.close_clients()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(self.delay)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(self.body)}\r\n\r\n".encode()
                + self.body
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


# -- HTTP ----------------------------------------------------------------------------------------


def test_it_reports_a_healthy_page_as_up_with_its_facts(web: Web) -> None:
    result = run(check_http(f"{web.http}/ok", keyword="nominal"))
    assert result.ok and result.status == "up" and result.error_code == ""
    assert result.data["status_code"] == 200
    assert result.data["final_url"] == f"{web.http}/ok"
    assert result.data["redirects"] == 0
    assert result.data["http_version"] == "HTTP/1.1"
    assert result.data["body_truncated"] is False
    assert result.detail.startswith(f"HTTP 200 OK from {web.http}/ok in ")
    assert 0 < result.duration_ms < 5000
    assert result.to_json() == {
        "ok": True,
        "status": "up",
        "duration_ms": round(result.duration_ms, 1),
        "detail": result.detail,
        "error_code": "",
        "data": result.data,
    }
    json.dumps(result.to_json())


def test_it_reports_an_unexpected_status_with_the_expected_ones(web: Web) -> None:
    result = run(check_http(f"{web.http}/maintenance"))
    assert not result.ok and result.status == "down"
    assert result.error_code == CheckError.HTTP_STATUS == "http_status"
    assert result.data["status_code"] == 503
    # The reason phrase is the server's own (nginx: "Service Temporarily Unavailable").
    assert result.detail == (
        f"HTTP 503 Service Temporarily Unavailable from {web.http}/maintenance, expected 200–399"
    )
    assert run(check_http(f"{web.http}/maintenance", expect_status=[503])).ok
    wrong = run(check_http(f"{web.http}/ok", expect_status=[201, 204]))
    assert wrong.error_code == "http_status" and wrong.detail.endswith("expected 201, 204")


def test_it_follows_redirects_or_judges_the_redirect_itself(web: Web) -> None:
    followed = run(check_http(f"{web.http}/moved"))
    assert followed.ok
    assert followed.data["final_url"] == f"{web.http}/ok"
    assert followed.data["redirects"] == 1
    assert "(after 1 redirect)" in followed.detail

    # Not followed, a 301 is within the default 200–399…
    direct = run(check_http(f"{web.http}/moved", follow_redirects=False))
    assert direct.ok and direct.data["status_code"] == 301 and direct.data["redirects"] == 0
    # …unless only 200 is wanted.
    strict = run(check_http(f"{web.http}/moved", follow_redirects=False, expect_status=[200]))
    assert strict.error_code == "http_status" and strict.data["status_code"] == 301

    endless = run(check_http(f"{web.http}/loop"))
    assert endless.error_code == "too_many_redirects"
    assert endless.detail == f"{web.http}/loop redirects without end"


def test_it_checks_that_a_keyword_is_present_or_absent(web: Web) -> None:
    missing = run(check_http(f"{web.http}/ok", keyword="Welcome"))
    assert missing.error_code == "keyword_missing"
    assert missing.detail == f"{web.http}/ok does not contain 'Welcome'"
    assert missing.data["status_code"] == 200

    present = run(check_http(f"{web.http}/error-page", keyword="Fatal error", keyword_absent=True))
    assert present.error_code == "keyword_present"
    assert present.detail == f"{web.http}/error-page contains 'Fatal error', which must be absent"

    assert run(check_http(f"{web.http}/ok", keyword="Fatal error", keyword_absent=True)).ok


def test_it_decodes_the_body_with_the_declared_charset(web: Web) -> None:
    result = run(check_http(f"{web.http}/sjis", keyword="まもり"))
    assert result.ok, result.detail


def test_it_reads_at_most_max_body_bytes(web: Web) -> None:
    capped = run(check_http(f"{web.http}/big", keyword="NEEDLE", max_body_bytes=1000))
    assert capped.error_code == "keyword_missing"
    assert capped.data["body_bytes"] == 1000 and capped.data["body_truncated"] is True
    assert capped.detail.startswith("the first 1000 bytes of ")
    whole = run(check_http(f"{web.http}/big", keyword="NEEDLE", max_body_bytes=3_000_000))
    assert whole.ok and whole.data["body_bytes"] == 2_000_006


def test_it_sends_the_method_and_headers_asked_for(web: Web) -> None:
    result = run(
        check_http(
            f"{web.http}/echo",
            method="delete",
            headers={"X-Probe": "mamori-42"},
            keyword="method=DELETE probe=mamori-42",
        )
    )
    assert result.ok, result.detail


def test_a_header_that_would_inject_another_is_refused_without_showing_it(web: Web) -> None:
    smuggled = {"Authorization": "Bearer s3cret\r\nX-Injected: yes"}
    result = run(check_http(f"{web.http}/echo", headers=smuggled))
    assert result.error_code == "invalid_target"
    assert result.detail == (
        "the value of header 'Authorization' contains a line break or a NUL character"
    )
    bad_name = run(check_http(f"{web.http}/echo", headers={"X-Probe: 1\r\nX": "v"}))
    assert bad_name.error_code == "invalid_target"


def test_credentials_never_follow_a_redirect_to_another_origin(web: Web) -> None:
    secret = {"Authorization": "Bearer s3cret", "Cookie": "session=s3cret"}
    same = run(check_http(f"{web.other}/here", headers=secret, keyword="s3cret"))
    assert same.ok, same.detail  # within the origin they stay: the check needs them
    away = run(check_http(f"{web.http}/away", headers=secret, keyword="s3cret"))
    assert away.error_code == "keyword_missing" and away.data["redirects"] == 1
    assert away.detail.startswith(f"{web.other}/credentials (after 1 redirect) does not contain")


def test_a_302_after_a_post_continues_with_get(web: Web) -> None:
    result = run(check_http(f"{web.http}/post-redirect", method="POST", keyword="method=GET"))
    assert result.ok, result.detail
    assert result.data["final_url"] == f"{web.http}/echo"


def test_it_searches_a_compressed_body_once_decoded(web: Web) -> None:
    result = run(check_http(f"{web.http}/gzip", keyword="compressed needle"))
    assert result.ok, result.detail
    assert result.data["body_bytes"] == len("lorem ipsum " * 2000 + "compressed needle")


def test_it_accepts_headers_longer_than_8_kib(raw_server) -> None:
    # Long Content-Security-Policy and Set-Cookie headers are common; browsers accept them.
    def long_header(conn: socket.socket) -> None:
        conn.recv(65536)
        policy = "default-src 'self'; " + "img-src https://cdn.example.jp; " * 600
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n"
            + f"Content-Security-Policy: {policy}\r\n\r\nlong".encode()
        )

    server = raw_server(long_header)
    result = run(check_http(f"http://127.0.0.1:{server.port}/", keyword="long", timeout=3))
    assert result.ok, result.detail


def test_it_reports_an_answer_that_is_not_http_as_a_protocol_error(raw_server) -> None:
    def not_http(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    server = raw_server(not_http)
    result = run(check_http(f"http://127.0.0.1:{server.port}/", timeout=3))
    assert result.error_code == "protocol_error"
    assert result.detail.startswith(f"bad HTTP response from http://127.0.0.1:{server.port}/")


def _answer(payload: bytes, *, reset: bool = False):
    def behaviour(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(payload)
        if reset:  # RST instead of FIN
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    return behaviour


def _endless_headers(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(10_000):
        conn.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")


def _dripping_body(server_stop: Callable[[float], None]):
    def behaviour(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"a")
            server_stop(0.1)

    return behaviour


HOSTILE_HTTP = {
    "endless headers": (_endless_headers, "http", "protocol_error", "bad HTTP response from "),
    "broken chunked encoding": (
        _answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nhello\r\n"),
        "http",
        "protocol_error",
        "bad HTTP response from ",
    ),
    "reset mid-body": (
        _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc", reset=True),
        "http",
        "protocol_error",
        "bad HTTP response from ",
    ),
    "closed without an answer": (_answer(b""), "http", "protocol_error", "bad HTTP response "),
    "body shorter than announced": (
        _answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc"),
        "http",
        "protocol_error",
        "bad HTTP response from ",
    ),
    "gzip that is not": (
        _answer(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 6\r\n\r\nnot gz"),
        "http",
        "protocol_error",
        "bad HTTP response from ",
    ),
    "garbage instead of TLS": (_answer(b"\0" * 100), "https", "tls_error", "TLS handshake with "),
    "redirect to ftp": (
        _answer(b"HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/x\r\nContent-Length: 0\r\n\r\n"),
        "http",
        "invalid_target",
        "cannot request ",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_HTTP, ids=list(HOSTILE_HTTP))
def test_a_hostile_server_gets_a_precise_one_line_result(raw_server, case: str) -> None:
    behaviour, scheme, code, start = HOSTILE_HTTP[case]
    server = raw_server(behaviour)
    started = time.perf_counter()
    result = run(check_http(f"{scheme}://127.0.0.1:{server.port}/", timeout=5))
    assert (result.error_code, result.ok) == (code, False), result.detail
    assert result.detail.startswith(start) and "\n" not in result.detail
    assert time.perf_counter() - started < 4  # decided by what the server did, not the timeout


def test_a_body_dripping_slower_than_the_timeout_is_a_timeout(raw_server) -> None:
    holder: dict = {}
    server = raw_server(_dripping_body(lambda seconds: holder["server"].wait_stop(seconds)))
    holder["server"] = server
    result = run(check_http(f"http://127.0.0.1:{server.port}/", timeout=1))
    assert result.error_code == "timeout"
    assert result.detail == f"no complete response from http://127.0.0.1:{server.port}/ within 1 s"


def test_it_verifies_tls_against_the_given_bundle(web: Web) -> None:
    trusted = run(check_http(f"{web.https}/", ca_bundle_pem=web.ca_pem, keyword="secure"))
    assert trusted.ok, trusted.detail

    untrusted = run(check_http(f"{web.https}/"))
    assert untrusted.error_code == "tls_error"
    assert untrusted.detail.startswith("TLS certificate of 127.0.0.1:")
    assert "unable to get local issuer certificate" in untrusted.detail

    assert run(check_http(f"{web.https}/", verify_tls=False)).ok


def test_it_speaks_http2_when_the_server_offers_it(web: Web) -> None:
    result = run(check_http(f"{web.h2}/", ca_bundle_pem=web.ca_pem, keyword="spoken over h2"))
    assert result.ok, result.detail
    assert result.data["http_version"] == "HTTP/2"
    # HTTP/2 has no reason phrase: the standard one is shown.
    assert result.detail.startswith(f"HTTP 200 OK from {web.h2}/ in ")


def test_the_system_store_follows_ssl_cert_file_and_ssl_cert_dir(
    web: Web, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Operators add anchors the OpenSSL way: a bundle in SSL_CERT_FILE or a hashed
    directory in SSL_CERT_DIR. Both are honoured, not only the distribution's store."""
    from mamori.probe import curl_http

    def fresh_check() -> CheckResult:
        curl_http.trust_files.cache_clear()
        return run(check_http(f"{web.https}/"))

    try:
        bundle = tmp_path / "bundle.pem"
        bundle.write_bytes(web.ca_pem)
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        assert fresh_check().ok

        directory = tmp_path / "anchors"
        directory.mkdir()
        (directory / "local-root.pem").write_bytes(web.ca_pem)
        require_binary("openssl")
        subprocess.run(["openssl", "rehash", str(directory)], check=True, capture_output=True)
        monkeypatch.delenv("SSL_CERT_FILE")  # the distribution's bundle, and this directory
        monkeypatch.setenv("SSL_CERT_DIR", str(directory))
        assert fresh_check().ok

        monkeypatch.delenv("SSL_CERT_DIR")
        assert fresh_check().error_code == "tls_error"
    finally:
        curl_http.trust_files.cache_clear()


def test_every_check_opens_a_new_connection_with_a_full_tls_handshake(
    raw_server, pki: ProbePKI, tmp_path
) -> None:
    """A shared session must not hide a site's state: no kept-alive connection (a listener
    that stopped accepting would go unnoticed) and no resumed TLS session (every check
    verifies the certificate the server presents now)."""
    leaf = pki.intermediate.issue(["127.0.0.1"])
    (tmp_path / "cert.pem").write_text(leaf.fullchain_pem)
    (tmp_path / "key.pem").write_text(leaf.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    seen: list[tuple[int, bool]] = []  # (requests on the connection, TLS session resumed)

    def keep_alive(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            served = 0
            while b"\r\n\r\n" in read_some(tls):
                served += 1
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            seen.append((served, tls.session_reused))

    server = raw_server(keep_alive)
    url = f"https://127.0.0.1:{server.port}/"

    async def three_checks() -> list[CheckResult]:
        clients = ClientPool()
        arguments = {"url": url, "ca_bundle_pem": pki.root_pem}
        try:
            return [await run_one("http", arguments, clients) for _ in range(3)]
        finally:
            await clients.aclose()

    results = run(three_checks())
    assert all(result.ok for result in results), [result.detail for result in results]
    assert wait_for(lambda: len(seen) == 3)
    assert seen == [(1, False)] * 3


def test_an_unusable_ca_bundle_is_a_clear_result(web: Web) -> None:
    result = run(check_http(f"{web.https}/", ca_bundle_pem="not a certificate"))
    assert result.error_code == "invalid_target"
    assert result.detail.startswith("unusable CA bundle: ")
    pooled = run(run_checks([("http", {"url": f"{web.https}/", "ca_bundle_pem": "junk"})]))
    assert pooled[0].error_code == "invalid_target"


def test_it_reports_a_refused_connection() -> None:
    port = closed_port()
    result = run(check_http(f"http://127.0.0.1:{port}/"))
    assert result.error_code == "connection_refused"
    assert result.detail == f"connection to 127.0.0.1:{port} refused (nothing listens on that port)"


def test_it_times_out_on_a_server_that_does_not_answer() -> None:
    async def scenario() -> tuple[CheckResult, float]:
        async with SlowHTTP(delay=5) as base:
            started = time.perf_counter()
            result = await check_http(f"{base}/", timeout=0.4)
            return result, time.perf_counter() - started

    result, elapsed = run(scenario())
    assert result.error_code == "timeout"
    assert result.detail.endswith("within 0.4 s")
    assert elapsed < 1.5


def test_it_reports_a_response_slower_than_allowed() -> None:
    async def scenario() -> tuple[CheckResult, CheckResult]:
        async with SlowHTTP(delay=0.3) as base:
            slow = await check_http(f"{base}/", max_response_ms=100, timeout=5)
            fine = await check_http(f"{base}/", max_response_ms=2000, timeout=5)
            return slow, fine

    slow, fine = run(scenario())
    assert slow.error_code == "too_slow" and slow.duration_ms >= 300
    assert slow.data["status_code"] == 200
    assert "limit 100 ms" in slow.detail
    assert fine.ok


def test_it_reports_a_url_it_cannot_request() -> None:
    result = run(check_http("ftp://127.0.0.1/file"))
    assert result.error_code == "invalid_target"
    assert "ftp://127.0.0.1/file" in result.detail


# -- TCP -----------------------------------------------------------------------------------------


def test_tcp_is_up_when_the_port_accepts(web: Web) -> None:
    result = run(check_tcp("127.0.0.1", web.tcp_port))
    assert result.ok and result.data == {"address": "127.0.0.1"}
    assert result.detail.startswith(f"connected to 127.0.0.1:{web.tcp_port} in ")


def test_tcp_reports_a_closed_port() -> None:
    port = closed_port()
    result = run(check_tcp("127.0.0.1", port))
    assert result.error_code == "connection_refused"
    assert result.detail == f"connection to 127.0.0.1:{port} refused (nothing listens on that port)"


def test_tcp_times_out_when_the_connection_hangs(raw_server) -> None:
    # A listener that never accepts, with its backlog filled: further SYNs are dropped.
    server = raw_server(lambda conn: None, accept=False, backlog=0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", server.port))
        fillers.append(filler)
    time.sleep(0.1)
    try:
        result = run(check_tcp("127.0.0.1", server.port, timeout=0.3))
    finally:
        for filler in fillers:
            filler.close()
    assert result.error_code == "timeout"
    assert result.detail == f"no connection to 127.0.0.1:{server.port} within 0.3 s"
    assert result.duration_ms < 1000


# -- DNS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zone(pdns) -> list[str]:
    pdns.create_zone(ZONE, a_records={"www": "127.0.0.1"})
    pdns.set_record(ZONE, "multi", "A", ["192.0.2.10", "192.0.2.11"])
    pdns.set_record(ZONE, "@", "MX", [f"10 mail.{ZONE}."])
    pdns.set_record(ZONE, "@", "TXT", ['"v=spf1 -all"'])
    return [pdns.dns_address]


def test_dns_accepts_any_answer_without_expectations(zone: list[str]) -> None:
    result = run(check_dns(f"multi.{ZONE}", nameservers=zone))
    assert result.ok
    assert result.data == {"records": ["192.0.2.10", "192.0.2.11"]}
    assert result.detail.startswith(f"multi.{ZONE} A: 192.0.2.10, 192.0.2.11 in ")


def test_dns_compares_the_answer_with_the_expected_records(zone: list[str]) -> None:
    exact = run(check_dns(f"multi.{ZONE}", expected={"192.0.2.11", "192.0.2.10"}, nameservers=zone))
    assert exact.ok
    mx = run(check_dns(ZONE, "MX", expected={f"10 Mail.{ZONE.upper()}"}, nameservers=zone))
    assert mx.ok, mx.detail
    txt = run(check_dns(ZONE, "TXT", expected={"v=spf1 -all"}, nameservers=zone))
    assert txt.ok, txt.detail

    expected = {"192.0.2.10", "198.51.100.1"}
    wrong = run(check_dns(f"multi.{ZONE}", expected=expected, nameservers=zone))
    assert wrong.error_code == "unexpected_records"
    assert wrong.data["missing"] == ["198.51.100.1"]
    assert wrong.data["unexpected"] == ["192.0.2.11"]
    assert wrong.detail == f"multi.{ZONE} A: missing 198.51.100.1; unexpected 192.0.2.11"


def test_dns_reports_nxdomain_and_no_answer(zone: list[str]) -> None:
    nx = run(check_dns(f"absent.{ZONE}", nameservers=zone))
    assert nx.error_code == "nxdomain"
    assert nx.detail == f"absent.{ZONE} A: the name does not exist"
    empty = run(check_dns(f"www.{ZONE}", "AAAA", nameservers=zone))
    assert empty.error_code == "no_answer"
    assert empty.detail == f"www.{ZONE} AAAA: no records of this type"


def test_dns_times_out_without_a_server() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never read: queries vanish
        port = silent.getsockname()[1]
        result = run(check_dns(f"www.{ZONE}", nameservers=[f"127.0.0.1:{port}"], timeout=0.3))
    assert result.error_code == "timeout"
    assert result.detail == f"www.{ZONE} A: no DNS answer within 0.3 s"


def test_dns_rejects_what_it_cannot_ask() -> None:
    bad_type = run(check_dns("example.test", "NOPE", nameservers=["127.0.0.1:1"]))
    assert bad_type.error_code == "invalid_target"
    bad_server = run(check_dns("example.test", nameservers=["ns.example.test"]))
    assert bad_server.error_code == "invalid_target"


# -- ICMP ----------------------------------------------------------------------------------------


def test_icmp_pings_loopback_or_says_it_is_not_permitted() -> None:
    result = run(check_icmp("127.0.0.1", count=2, timeout=2))
    if os.geteuid() == 0:  # CI runs as root: a raw socket is always possible
        assert result.ok, result.detail
    if result.ok:
        assert result.data["sent"] == 2 and result.data["received"] == 2
        assert result.data["loss"] == 0.0
        assert result.data["method"] in ("raw", "unprivileged")
        assert result.detail.startswith("2/2 echo replies from 127.0.0.1, average ")
    else:
        assert result.error_code == "icmp_not_permitted"
        assert "net.ipv4.ping_group_range" in result.detail


# -- RDAP ----------------------------------------------------------------------------------------


def rdap(web: Web, domain: str, **kwargs) -> CheckResult:
    return run(check_rdap(domain, bootstrap_url=f"{web.rdap}/dns.json", **kwargs))


def test_rdap_reads_the_expiration_through_the_bootstrap_registry(web: Web) -> None:
    result = rdap(web, "Healthy.test.")
    assert result.ok and result.error_code == ""
    expires = (NOW + 400 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.data["expires_at"] == expires
    assert result.data["rdap_url"] == f"{web.rdap}/v1/domain/healthy.test"
    assert result.data["registrar"] == "Example Registrar KK"
    assert result.data["statuses"] == ["active", "client transfer prohibited"]
    assert 399 < result.data["days_left"] <= 400
    assert result.detail == f"healthy.test is registered until {expires[:10]} (399 days left)"


def test_rdap_prefers_the_longest_matching_bootstrap_entry(web: Web) -> None:
    result = rdap(web, "shop.co.test")
    assert result.ok and result.data["rdap_url"] == f"{web.rdap}/co/domain/shop.co.test"


def test_rdap_flags_a_registration_that_expires_soon(web: Web) -> None:
    result = rdap(web, "soon.test", warn_days=30)
    assert result.ok and result.status == "up"
    assert result.error_code == "expiring"
    assert result.detail.endswith("(in 10 days)")
    assert rdap(web, "soon.test", warn_days=7).error_code == ""


def test_rdap_reports_an_expired_registration_as_down(web: Web) -> None:
    result = rdap(web, "lapsed.test")
    assert not result.ok and result.error_code == "expired"
    day = (NOW - 3 * DAY).date().isoformat()
    assert result.detail == f"the registration of lapsed.test expired on {day}"


def test_rdap_handles_missing_dates_unknown_domains_and_garbage(web: Web) -> None:
    forever = rdap(web, "forever.test")
    assert forever.ok and forever.error_code == "no_expiration"
    assert forever.data["expires_at"] is None

    unknown = rdap(web, "unknown.test")
    assert unknown.error_code == "not_found"
    assert "HTTP 404" in unknown.detail

    garbage = rdap(web, "broken.test")
    assert garbage.error_code == "invalid_response"

    nowhere = rdap(web, "example.jp")
    assert nowhere.error_code == "no_rdap_service"
    assert nowhere.detail == "the RDAP bootstrap registry names no server for example.jp"


def test_rdap_queries_internationalised_names_as_a_labels(web: Web) -> None:
    result = run(check_rdap("例え.test", base_url=f"{web.rdap}/v1/"))
    assert result.ok, result.detail
    assert result.data["domain"] == "xn--r8jz45g.test"


def test_rdap_times_out_on_a_slow_registry() -> None:
    async def scenario() -> CheckResult:
        async with SlowHTTP(delay=5, body=b"{}") as base:
            return await check_rdap("slow.test", base_url=base, timeout=0.3)

    result = run(scenario())
    assert result.error_code == "timeout"
    assert result.detail == "no RDAP answer for slow.test within 0.3 s"


# -- many at once --------------------------------------------------------------------------------


def test_run_checks_runs_many_kinds_concurrently_in_order(web: Web, zone: list[str]) -> None:
    refused = closed_port()
    specs: list[tuple[str, dict]] = []
    for index in range(60):
        specs.append(("http", {"url": f"{web.http}/ok?n={index}", "keyword": "nominal"}))
        specs.append(("tcp", {"host": "127.0.0.1", "port": web.tcp_port}))
    specs += [
        ("http", {"url": f"{web.https}/", "ca_bundle_pem": web.ca_pem}),
        ("http", {"url": f"{web.https}/"}),  # no bundle: another client, untrusted
        ("http", {"url": f"{web.https}/", "verify_tls": False}),
        ("http", {"url": f"{web.http}/maintenance"}),
        ("tcp", {"host": "127.0.0.1", "port": refused}),
        ("dns", {"name": f"www.{ZONE}", "expected": {"127.0.0.1"}, "nameservers": zone}),
        ("dns", {"name": f"absent.{ZONE}", "nameservers": zone}),
        ("rdap", {"domain": "healthy.test", "base_url": f"{web.rdap}/v1/"}),
        ("icmp", {"host": "127.0.0.1", "timeout": 2}),
    ]
    started = time.perf_counter()
    results = run(run_checks(specs, concurrency=50))
    elapsed = time.perf_counter() - started
    assert len(results) == len(specs)
    assert all(result.ok for result in results[:120]), [r.detail for r in results if not r.ok]
    assert results[0].data["final_url"] == f"{web.http}/ok?n=0"
    assert results[118].data["final_url"] == f"{web.http}/ok?n=59"
    tail = [result.error_code for result in results[120:-1]]
    assert tail == ["", "tls_error", "", "http_status", "connection_refused", "", "nxdomain", ""]
    assert results[-1].ok or results[-1].error_code == "icmp_not_permitted"
    assert elapsed < 5


def test_run_checks_rejects_unknown_kinds_and_arguments() -> None:
    with pytest.raises(ValueError, match=r"check 1: unknown kind 'smtp'"):
        run(run_checks([("tcp", {"host": "127.0.0.1", "port": 1}), ("smtp", {})]))
    with pytest.raises(ValueError, match=r"check 0 \(tcp\): .*'colour'"):
        run(run_checks([("tcp", {"host": "127.0.0.1", "port": 1, "colour": "red"})]))
    with pytest.raises(ValueError, match=r"check 0 \(dns\): missing a required argument"):
        run(run_checks([("dns", {})]))


def test_run_checks_bounds_every_check_by_its_timeout() -> None:
    async def scenario() -> list[CheckResult]:
        async with SlowHTTP(delay=5) as base:
            return await run_checks(
                [("http", {"url": base, "timeout": 0.3}), ("tcp", {"host": "127.0.0.1", "port": 1})]
            )

    started = time.perf_counter()
    slow, refused = run(scenario())
    assert time.perf_counter() - started < 1.5
    assert slow.error_code == "timeout"
    assert refused.error_code == "connection_refused"
