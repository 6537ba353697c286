"""HTTP transfers for uptime checks: libcurl (through curl_cffi) driven by the running asyncio loop.

An HTTPS check is a TCP connection, a full TLS handshake and one request. Done with asyncio's
TLS and aiohttp, more than half of its CPU went to the handshake in the system's OpenSSL 3.0
and most of the rest to Python code run for every TLS record. libcurl does the whole transfer
in C with a current TLS library, and asyncio only waits on its sockets: about half the CPU per
check (``bench/monitor_bench.py``).

Every transfer is what a first-time visitor would do, so that each check sees the site as it is
now: a new connection, closed afterwards (a listener that stopped accepting is noticed); a full
TLS handshake with the certificate chain verified (no session resumption); a fresh DNS lookup;
no proxy from the environment; no cookie engine (no cookie is stored or sent); http and https
only, redirects included.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import hashlib
import http
import os
import re
import ssl
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from curl_cffi import Curl, CurlError, CurlInfo, CurlOpt
from curl_cffi.aio import AsyncCurl
from curl_cffi.const import CurlECode

from mamori.probe.checks_result import CheckError, seconds

__all__ = ["HTTPSession", "Transfer", "TransferError", "trust_files"]

USER_AGENT = "Mamori uptime check"
_WRITE_ABORT = 0xFFFFFFFF  # CURL_WRITEFUNC_ERROR: stop the transfer (the body cap is reached)
_FOLLOW_OBEYING_CODES = 2  # CURLFOLLOW_OBEYCODE: 301/302/303 change the method as browsers do
_IDLE_HANDLES = 256
_HTTP_VERSIONS = {1: "HTTP/1.0", 2: "HTTP/1.1", 3: "HTTP/2", 30: "HTTP/3"}
_CURL_MESSAGE = re.compile(r"curl: \(\d+\) (.*?)\.? See https://curl\.se/", re.DOTALL)
_TLS_FAILURES = frozenset(
    {
        CurlECode.SSL_CONNECT_ERROR,
        CurlECode.SSL_CERTPROBLEM,
        CurlECode.SSL_CIPHER,
        CurlECode.SSL_ISSUER_ERROR,
        CurlECode.SSL_PINNEDPUBKEYNOTMATCH,
        CurlECode.SSL_INVALIDCERTSTATUS,
    }
)
_PROTOCOL_FAILURES = frozenset(
    {
        CurlECode.WEIRD_SERVER_REPLY,
        CurlECode.HTTP2,
        CurlECode.HTTP2_STREAM,
        CurlECode.HTTP3,
        CurlECode.PARTIAL_FILE,
        CurlECode.GOT_NOTHING,
        CurlECode.SEND_ERROR,
        CurlECode.RECV_ERROR,
        CurlECode.BAD_CONTENT_ENCODING,
    }
)


@dataclass(slots=True)
class Transfer:
    """The final response of a transfer (after any redirects), with its capped body."""

    status: int
    reason: str
    url: str
    redirects: int
    http_version: str
    content_type: str | None
    body: bytes
    truncated: bool


class TransferError(Exception):
    """Why there is no response: a :class:`CheckError` code and one line for the operator."""

    def __init__(self, code: CheckError, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- trust -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def trust_files(pem: bytes | None) -> tuple[str | None, str | None]:
    """``(CA file, CA directory)`` for libcurl: the system store plus ``pem``'s anchors.

    The system store is its bundle file (``SSL_CERT_FILE`` applies), read once and kept by
    libcurl; an ``SSL_CERT_DIR`` naming another directory than the system's is searched too.
    With ``pem``, the CA file is the system bundle and ``pem`` in one file, written once to a
    private directory (libcurl caches a parsed store per file; parsing a bundle for every
    handshake would cost more than the handshake). Raises ``ssl.SSLError`` when
    ``pem`` holds no usable certificate.
    """
    paths = ssl.get_default_verify_paths()
    directory = os.environ.get(paths.openssl_capath_env) or None
    if directory and _same_directory(directory, paths.openssl_capath):
        directory = None
    if paths.cafile is None and directory is None:
        directory = paths.capath
    if not pem:
        return paths.cafile, directory
    check = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    check.load_verify_locations(cadata=pem.decode("ascii", errors="replace"))  # usable at all?
    system = b""
    if paths.cafile:
        with open(paths.cafile, "rb") as bundle:
            system = bundle.read()
    combined = system.rstrip(b"\n") + b"\n" + pem.strip() + b"\n"
    name = hashlib.sha256(combined).hexdigest()[:32] + ".pem"
    path = os.path.join(_private_directory(), name)
    if not os.path.exists(path):
        descriptor, partial = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
        with os.fdopen(descriptor, "wb") as file:
            file.write(combined)
        os.replace(partial, path)
    return path, directory


@functools.cache
def _private_directory() -> str:
    """This user's directory for trust bundles, shared by its processes (names are content
    hashes, so it holds one file per distinct bundle), or a new one of this process's when the
    shared one is not a 0700 directory owned by this user (anyone who could write there could
    add a trust anchor)."""
    shared = os.path.join(tempfile.gettempdir(), f"mamori-trust-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(shared, 0o700)
    info = os.lstat(shared)
    if (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) == 0o700
    ):
        return shared
    return tempfile.mkdtemp(prefix="mamori-trust-")


def _same_directory(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


# -- the session -----------------------------------------------------------------------------------


class HTTPSession:
    """Transfers with one TLS setting, run by libcurl in the running event loop.

    Build and close it inside the loop that uses it; :meth:`close` ends what is still running.
    Raises ``ssl.SSLError`` when ``ca_bundle_pem`` holds no usable certificate.
    """

    def __init__(self, verify_tls: bool = True, ca_bundle_pem: str | bytes | None = None) -> None:
        pem = ca_bundle_pem.encode() if isinstance(ca_bundle_pem, str) else ca_bundle_pem
        self.verify_tls = verify_tls
        self._trust = trust_files(pem or None) if verify_tls else (None, None)
        self._multi: AsyncCurl | None = None
        self._idle: list[Curl] = []

    async def __aenter__(self) -> HTTPSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        multi, self._multi = self._multi, None
        if multi is not None:
            await multi.close()
        idle, self._idle = self._idle, []
        for curl in idle:
            curl.close()

    async def request(
        self,
        url: str,
        *,
        label: str,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 20,
        timeout: float = 10.0,
        max_body_bytes: int = 1_000_000,
    ) -> Transfer:
        """Request ``url`` (already encoded: IDNA host, percent-escaped path). Raises
        :class:`TransferError` when there is no response; ``label`` (host:port) names the
        server in its message."""
        if self._multi is None:
            self._multi = AsyncCurl(loop=asyncio.get_running_loop())
        multi = self._multi
        curl = self._idle.pop() if self._idle else Curl()
        body = bytearray()
        truncated = False
        header_lines: list[bytes] = []

        def on_body(chunk: bytes) -> int:
            nonlocal truncated
            room = max_body_bytes - len(body)
            if len(chunk) > room:
                body.extend(chunk[:room])
                truncated = True
                return _WRITE_ABORT
            body.extend(chunk)
            return len(chunk)

        def on_header(line: bytes) -> int:
            if line.startswith(b"HTTP/"):  # a new response (after a redirect or a 1xx)
                header_lines.clear()
            header_lines.append(line)
            return len(line)

        added = finished = False
        try:
            self._configure(curl, url, method, headers, follow_redirects, max_redirects, timeout)
            curl.setopt(CurlOpt.WRITEFUNCTION, on_body)
            curl.setopt(CurlOpt.HEADERFUNCTION, on_header)
            done = multi.add_handle(curl)
            added = True
            try:
                async with asyncio.timeout(timeout):
                    await done
                finished = True
            except CurlError as exc:
                finished = True
                if not (truncated and exc.code == CurlECode.WRITE_ERROR):
                    raise _failure(exc, curl, url, label, timeout) from None
            except TimeoutError:
                message = f"no complete response from {url} within {seconds(timeout)}"
                raise TransferError(CheckError.TIMEOUT, message) from None
            if self._multi is not multi:  # closed under this transfer: Mamori is stopping
                raise asyncio.CancelledError
            return _transfer(curl, header_lines, bytes(body), truncated)
        finally:
            curl.clean_handles_and_buffers()
            if added and not finished:
                multi.remove_handle(curl)
            if finished and len(self._idle) < _IDLE_HANDLES and self._multi is multi:
                curl.reset()
                self._idle.append(curl)
            else:
                curl.close()

    def _configure(
        self,
        curl: Curl,
        url: str,
        method: str,
        headers: Mapping[str, str] | None,
        follow_redirects: bool,
        max_redirects: int,
        timeout: float,
    ) -> None:
        curl.setopt(CurlOpt.URL, url.encode())
        curl.setopt(CurlOpt.PROTOCOLS_STR, b"http,https")
        curl.setopt(CurlOpt.REDIR_PROTOCOLS_STR, b"http,https")
        curl.setopt(CurlOpt.NOSIGNAL, 1)
        curl.setopt(CurlOpt.TIMEOUT_MS, max(1, int(timeout * 1000)))
        curl.setopt(CurlOpt.FRESH_CONNECT, 1)
        curl.setopt(CurlOpt.FORBID_REUSE, 1)
        curl.setopt(CurlOpt.SSL_SESSIONID_CACHE, 0)
        curl.setopt(CurlOpt.DNS_CACHE_TIMEOUT, 0)
        curl.setopt(CurlOpt.PROXY, b"")  # not from http_proxy/https_proxy
        curl.setopt(CurlOpt.ACCEPT_ENCODING, b"")  # every encoding libcurl can decode
        curl.setopt(CurlOpt.USERAGENT, USER_AGENT.encode())
        if follow_redirects:
            curl.setopt(CurlOpt.FOLLOWLOCATION, _FOLLOW_OBEYING_CODES)
            curl.setopt(CurlOpt.MAXREDIRS, max_redirects)
        cafile, capath = self._trust
        if not self.verify_tls:
            curl.setopt(CurlOpt.SSL_VERIFYPEER, 0)
            curl.setopt(CurlOpt.SSL_VERIFYHOST, 0)
        if cafile:
            curl.setopt(CurlOpt.CAINFO, cafile.encode())
        if capath:
            curl.setopt(CurlOpt.CAPATH, capath.encode())
        verb = method.upper()
        if verb == "HEAD":
            curl.setopt(CurlOpt.NOBODY, 1)
        elif verb == "POST":  # a 301/302/303 then continues with GET, as browsers do
            curl.setopt(CurlOpt.POST, 1)
            curl.setopt(CurlOpt.POSTFIELDSIZE, 0)
        elif verb != "GET":
            curl.setopt(CurlOpt.CUSTOMREQUEST, verb.encode())
        # Sent headers and "Expect:" (no 100-continue round trip). libcurl sends custom
        # Authorization and Cookie headers to the original host only, never after a redirect
        # to another one.
        lines = []
        for name, value in (headers or {}).items():
            # Never the value in the message: it may be a credential.
            if not name or any(c in name for c in ":\r\n\0 \t"):
                raise TransferError(CheckError.INVALID_TARGET, f"invalid header name {name!r}")
            if any(c in value for c in "\r\n\0"):
                raise TransferError(
                    CheckError.INVALID_TARGET,
                    f"the value of header {name!r} contains a line break or a NUL character",
                )
            lines.append(f"{name}: {value}".encode())
        curl.setopt(CurlOpt.HTTPHEADER, [*lines, b"Expect:"])


def _transfer(curl: Curl, header_lines: list[bytes], body: bytes, truncated: bool) -> Transfer:
    status = int(curl.getinfo(CurlInfo.RESPONSE_CODE))  # type: ignore[arg-type]
    reason = ""
    content_type = None
    for line in header_lines:
        text = line.decode("latin-1").strip()
        if text.startswith("HTTP/"):
            parts = text.split(" ", 2)
            reason = parts[2] if len(parts) > 2 else ""
        elif text[:13].lower() == "content-type:":
            content_type = text[13:].strip()
    if not reason:  # HTTP/2 and HTTP/3 carry no reason phrase
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    final_url = curl.getinfo(CurlInfo.EFFECTIVE_URL)
    version = int(curl.getinfo(CurlInfo.HTTP_VERSION))  # type: ignore[arg-type]
    return Transfer(
        status=status,
        reason=reason,
        url=final_url.decode() if isinstance(final_url, bytes) else str(final_url),
        redirects=int(curl.getinfo(CurlInfo.REDIRECT_COUNT)),  # type: ignore[arg-type]
        http_version=_HTTP_VERSIONS.get(version, "HTTP/1.1"),
        content_type=content_type,
        body=body,
        truncated=truncated,
    )


def _failure(exc: CurlError, curl: Curl, url: str, label: str, timeout: float) -> TransferError:
    """The code and message for libcurl's error ``exc`` on ``url``."""
    code = exc.code
    found = _CURL_MESSAGE.search(str(exc))
    message = (found.group(1) if found else str(exc)).strip()
    if code == CurlECode.OPERATION_TIMEDOUT:
        return TransferError(
            CheckError.TIMEOUT, f"no complete response from {url} within {seconds(timeout)}"
        )
    if code == CurlECode.COULDNT_RESOLVE_HOST:
        return TransferError(CheckError.DNS_FAILURE, f"cannot resolve {label}: {message}")
    if code == CurlECode.COULDNT_CONNECT:
        number = int(curl.getinfo(CurlInfo.OS_ERRNO))  # type: ignore[arg-type]
        if number == errno.ECONNREFUSED:
            return TransferError(
                CheckError.CONNECTION_REFUSED,
                f"connection to {label} refused (nothing listens on that port)",
            )
        if number in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return TransferError(
                CheckError.UNREACHABLE, f"no route to {label}: {os.strerror(number)}"
            )
        return TransferError(CheckError.UNREACHABLE, f"cannot connect to {label}: {message}")
    if code == CurlECode.PEER_FAILED_VERIFICATION:
        reason = message.removeprefix("SSL certificate problem: ").removeprefix("SSL: ")
        return TransferError(CheckError.TLS_ERROR, f"TLS certificate of {label} rejected: {reason}")
    if code in _TLS_FAILURES:
        return TransferError(CheckError.TLS_ERROR, f"TLS handshake with {label} failed: {message}")
    if code == CurlECode.TOO_MANY_REDIRECTS:
        return TransferError(CheckError.TOO_MANY_REDIRECTS, f"{url} redirects without end")
    if code in _PROTOCOL_FAILURES or "HTTP/0.9" in message:
        return TransferError(CheckError.PROTOCOL_ERROR, f"bad HTTP response from {url}: {message}")
    if code in (CurlECode.UNSUPPORTED_PROTOCOL, CurlECode.URL_MALFORMAT):
        return TransferError(CheckError.INVALID_TARGET, f"cannot request {url}: {message}")
    return TransferError(CheckError.UNREACHABLE, f"cannot connect to {label}: {message}")
