"""HTTP(S) uptime checks and domain registration expiry through RDAP (MON-01).

HTTP checks run on libcurl (:mod:`mamori.probe.curl_http`), RDAP lookups on an
``httpx.AsyncClient``. A session or client holds the TLS settings (the trust store is read once
and kept), so :class:`ClientPool` keeps one of each per ``(verify_tls, ca_bundle_pem)``
combination for a batch of checks or for the life of a probe worker; a check called on its own
builds and closes its own.

Shared sessions and clients keep no state between checks: no cookies are stored (a site's
cookie must not reach the next check), no connection is kept alive (every check opens its own,
as a visitor would, so a listener that stopped accepting is noticed), no DNS answer is cached
(a name that stopped resolving is noticed at the next check), and proxy variables from the
environment are ignored (a check measures the site as seen from this host).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import datetime as dt
import functools
import http.cookiejar
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpx
import idna

from mamori.probe.checks_result import (
    CheckError,
    CheckResult,
    Stopwatch,
    connection_failure,
    seconds,
)
from mamori.probe.curl_http import (
    USER_AGENT,
    HTTPSession,
    Transfer,
    TransferError,
    trust_files,
)
from mamori.probe.targets import format_hostport

__all__ = [
    "DEFAULT_RDAP_BOOTSTRAP",
    "ClientPool",
    "check_http",
    "check_rdap",
    "new_client",
]

#: IANA's RDAP bootstrap registry for domain names (RFC 9224 §4).
DEFAULT_RDAP_BOOTSTRAP = "https://data.iana.org/rdap/dns.json"
_BOOTSTRAP_TTL = 24 * 3600.0
_MAX_RDAP_BYTES = 1_000_000
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Redirects an HTTP check follows before it calls them endless (as browsers and httpx do).
MAX_REDIRECTS = 20


def _no_cookies() -> http.cookiejar.CookieJar:
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _tls_settings(verify_tls: bool, ca_bundle_pem: str | bytes | None) -> ssl.SSLContext | bool:
    """``ca_bundle_pem`` adds anchors to the system store (like ``MAMORI_CA_BUNDLE``).

    Raises ``ssl.SSLError`` when the bundle holds no usable certificate.
    """
    if not verify_tls:
        return False
    pem = ca_bundle_pem.encode() if isinstance(ca_bundle_pem, str) else ca_bundle_pem
    return _tls_context(pem or None)


@functools.lru_cache(maxsize=32)
def _tls_context(pem: bytes | None) -> ssl.SSLContext:
    """One context per bundle for the life of the process: loading the system store takes
    tens of milliseconds, which every batch of checks would otherwise pay again. A context is
    only read when connections are made, so batches may share it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and host name
    # The system store from its bundle file, as for HTTP checks: ``load_default_certs`` would
    # make OpenSSL 3.0 list the hashed directory on every handshake.
    cafile, capath = trust_files(None)
    if cafile or capath:
        context.load_verify_locations(cafile=cafile, capath=capath)
    else:
        context.load_default_certs()
    if pem:
        context.load_verify_locations(cadata=pem.decode())
    return context


def new_client(
    verify_tls: bool = True, ca_bundle_pem: str | bytes | None = None, *, max_connections: int = 100
) -> httpx.AsyncClient:
    """A client for RDAP lookups. Raises ``ssl.SSLError`` for an unusable ``ca_bundle_pem``."""
    return httpx.AsyncClient(
        verify=_tls_settings(verify_tls, ca_bundle_pem),
        cookies=_no_cookies(),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=0),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


class ClientPool:
    """Lazily built sessions (HTTP) and clients (RDAP), one per TLS setting. Close with
    :meth:`aclose`, in the loop that used them.

    ``max_connections`` bounds each RDAP client's connections (0: unbounded); size it to the
    concurrency so that checks never wait for one another inside the HTTP library. HTTP
    sessions run every transfer they are given at once.
    """

    def __init__(self, max_connections: int = 100) -> None:
        self.max_connections = max_connections
        self._clients: dict[tuple[bool, bytes | None], httpx.AsyncClient] = {}
        self._sessions: dict[tuple[bool, bytes | None], HTTPSession] = {}

    @staticmethod
    def _key(verify_tls: bool, ca_bundle_pem: str | bytes | None) -> tuple[bool, bytes | None]:
        pem = ca_bundle_pem.encode() if isinstance(ca_bundle_pem, str) else ca_bundle_pem
        return verify_tls, (pem or None) if verify_tls else None

    def get(self, verify_tls: bool, ca_bundle_pem: str | bytes | None) -> httpx.AsyncClient:
        """The RDAP client for these TLS settings."""
        key = self._key(verify_tls, ca_bundle_pem)
        client = self._clients.get(key)
        if client is None:
            limit = self.max_connections or None
            client = new_client(*key, max_connections=limit)  # type: ignore[arg-type]
            self._clients[key] = client
        return client

    def session(self, verify_tls: bool, ca_bundle_pem: str | bytes | None) -> HTTPSession:
        """The HTTP check session for these TLS settings (call it inside the loop that will
        use it). Raises ``ssl.SSLError`` for an unusable ``ca_bundle_pem``."""
        key = self._key(verify_tls, ca_bundle_pem)
        session = self._sessions.get(key)
        if session is None:
            session = HTTPSession(*key)
            self._sessions[key] = session
        return session

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        sessions, self._sessions = list(self._sessions.values()), {}
        for client in clients:
            await client.aclose()
        for session in sessions:
            await session.close()


# -- HTTP ----------------------------------------------------------------------------------------


async def check_http(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    expect_status: Iterable[int] | None = None,
    keyword: str | None = None,
    keyword_absent: bool = False,
    max_response_ms: float | None = None,
    follow_redirects: bool = True,
    timeout: float = 10.0,
    verify_tls: bool = True,
    ca_bundle_pem: str | bytes | None = None,
    max_body_bytes: int = 1_000_000,
    client: HTTPSession | None = None,
) -> CheckResult:
    """Request ``url`` and judge the answer.

    Up when the final status is in ``expect_status`` (default 200–399), the body (its first
    ``max_body_bytes``, decoded with the response's charset, else UTF-8) contains ``keyword``
    (or does not, with ``keyword_absent``), and everything took at most ``max_response_ms``.
    Judged in that order; the first failure decides the code. ``timeout`` bounds the whole
    check: connection, TLS, redirects and body. ``client`` (a session from
    :class:`ClientPool`) replaces ``verify_tls`` and ``ca_bundle_pem``.

    Redirects (at most :data:`MAX_REDIRECTS`) drop ``Authorization`` and ``Cookie`` headers
    when they leave the origin; a 303, or a 301/302 answering a POST, continues with GET.

    ``data``: ``status_code``, ``final_url``, ``redirects``, ``http_version``, ``body_bytes``,
    ``body_truncated``. Never raises for network or server problems, nor for a bad URL.
    """
    watch = Stopwatch()
    expected = frozenset(expect_status) if expect_status is not None else None
    target = _parse_url(url)
    if isinstance(target, str):
        return CheckResult.down(watch.ms, CheckError.INVALID_TARGET, target)
    label = format_hostport(target.host, target.port or _DEFAULT_PORTS[target.scheme])
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            try:
                client = HTTPSession(verify_tls, ca_bundle_pem)
            except ssl.SSLError as exc:
                message = f"unusable CA bundle: {exc.reason or exc}"
                return CheckResult.down(watch.ms, CheckError.INVALID_TARGET, message)
            await stack.enter_async_context(client)
        try:
            response = await client.request(
                str(target),
                label=label,
                method=method,
                headers=headers,
                follow_redirects=follow_redirects,
                max_redirects=MAX_REDIRECTS,
                timeout=timeout,
                max_body_bytes=max_body_bytes,
            )
        except TransferError as exc:
            return CheckResult.down(watch.ms, exc.code, exc.message)
    elapsed = watch.ms
    body, truncated = response.body, response.truncated
    data: dict[str, Any] = {
        "status_code": response.status,
        "final_url": response.url,
        "redirects": response.redirects,
        "http_version": response.http_version,
        "body_bytes": len(body),
        "body_truncated": truncated,
    }
    shown = f"HTTP {response.status} {response.reason}".rstrip()
    where = response.url
    if response.redirects:
        hops = response.redirects
        where = f"{where} (after {hops} redirect{'s' if hops != 1 else ''})"
    failure = _judge_status(response.status, expected) or _judge_keyword(
        response, body, keyword, keyword_absent
    )
    if failure is not None:
        code, reason = failure
        scope = f"the first {max_body_bytes} bytes of " if truncated else ""
        text = {
            CheckError.HTTP_STATUS: f"{shown} from {where}, {reason}",
            CheckError.KEYWORD_MISSING: f"{scope}{where} {reason}",
            CheckError.KEYWORD_PRESENT: f"{scope}{where} {reason}",
        }[code]
        return CheckResult.down(elapsed, code, text, data)
    if max_response_ms is not None and elapsed > max_response_ms:
        return CheckResult.down(
            elapsed,
            CheckError.TOO_SLOW,
            f"{shown} from {where} took {elapsed:.0f} ms, limit {max_response_ms:g} ms",
            data,
        )
    return CheckResult.up(elapsed, f"{shown} from {where} in {elapsed:.0f} ms", data)


def _parse_url(url: str) -> httpx.URL | str:
    """The URL to request (host in IDNA, path escaped), or why it cannot be requested."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as exc:
        return f"invalid URL {url!r}: {exc}"
    if parsed.scheme not in _DEFAULT_PORTS:
        shown = f"{parsed.scheme!r}" if parsed.scheme else "none"
        return f"cannot request {url}: the scheme is {shown}, not http or https"
    if not parsed.host:
        return f"invalid URL {url!r}: no host"
    return parsed


def _judge_status(status: int, expected: frozenset[int] | None) -> tuple[CheckError, str] | None:
    if (200 <= status <= 399) if expected is None else status in expected:
        return None
    wanted = "200–399" if expected is None else ", ".join(str(s) for s in sorted(expected))
    return CheckError.HTTP_STATUS, f"expected {wanted}"


def _charset(content_type: str | None) -> str:
    """The charset declared in ``content_type`` when Python knows it, else UTF-8."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"'):
            with contextlib.suppress(LookupError):
                return codecs.lookup(value.strip().strip('"')).name
    return "utf-8"


def _judge_keyword(
    response: Transfer, body: bytes, keyword: str | None, absent: bool
) -> tuple[CheckError, str] | None:
    if keyword is None:
        return None
    found = keyword in body.decode(_charset(response.content_type), errors="replace")
    if absent and found:
        return CheckError.KEYWORD_PRESENT, f"contains {keyword!r}, which must be absent"
    if not absent and not found:
        return CheckError.KEYWORD_MISSING, f"does not contain {keyword!r}"
    return None


async def _read_capped(chunks: AsyncIterator[bytes], limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of a (decoded) body, and whether there was more."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(parts)[:limit], True
    return b"".join(parts), False


# -- RDAP ----------------------------------------------------------------------------------------

# bootstrap URL → (fetched at, monotonic; {tld: base URL})
_bootstrap_cache: dict[str, tuple[float, dict[str, str]]] = {}


class _RDAPFailure(Exception):
    def __init__(self, code: CheckError, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def check_rdap(
    domain: str,
    *,
    warn_days: int = 30,
    bootstrap_url: str | None = None,
    base_url: str | None = None,
    timeout: float = 10.0,
    now: dt.datetime | None = None,
    client: httpx.AsyncClient | None = None,
) -> CheckResult:
    """Look up ``domain``'s registration through RDAP and judge its expiration date.

    The registry's server comes from ``base_url`` (e.g. ``https://rdap.example/v1/``) or else
    from the IANA bootstrap registry at ``bootstrap_url`` (RFC 9224, cached for a day per URL).
    The query is ``{base}domain/{A-label}`` (RFC 9082 §3.1.3); the date is the ``eventDate`` of
    the ``expiration`` event (RFC 9083 §4.5).

    Down when expired (``expired``), unknown to the registry (``not_found``) or unreachable.
    Up but flagged with ``expiring`` when it expires within ``warn_days`` of ``now``, and with
    ``no_expiration`` when the registry publishes no date. ``data``: ``domain``, ``rdap_url``,
    ``expires_at`` (ISO 8601 UTC or None), ``days_left``, ``registrar``, ``statuses``.
    ``timeout`` bounds bootstrap and query together. Never raises for network problems.
    """
    watch = Stopwatch()
    now = now or dt.datetime.now(dt.UTC)
    try:
        name = idna.encode(domain.strip().rstrip("."), uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        return CheckResult.down(
            watch.ms, CheckError.INVALID_TARGET, f"invalid domain name {domain!r}: {exc}"
        )
    own = client is None
    http_client = client or new_client()
    try:
        async with asyncio.timeout(timeout):
            base = base_url or await _rdap_base(http_client, name, bootstrap_url, timeout)
            url = base.rstrip("/") + "/domain/" + name
            document = await _rdap_get(http_client, url, name, timeout)
    except _RDAPFailure as failure:
        return CheckResult.down(watch.ms, failure.code, failure.message, {"domain": name})
    except (TimeoutError, httpx.TimeoutException):
        return CheckResult.down(
            watch.ms,
            CheckError.TIMEOUT,
            f"no RDAP answer for {name} within {seconds(timeout)}",
            {"domain": name},
        )
    except httpx.HTTPError as exc:
        code, message = connection_failure(_host(exc), exc)
        return CheckResult.down(
            watch.ms, code, f"RDAP lookup of {name}: {message}", {"domain": name}
        )
    finally:
        if own:
            await http_client.aclose()
    return _judge_registration(name, url, document, now, warn_days, watch.ms)


def _host(exc: httpx.HTTPError) -> str:
    try:
        return exc.request.url.host
    except RuntimeError:
        return "the RDAP server"


async def _rdap_base(
    client: httpx.AsyncClient, name: str, bootstrap_url: str | None, timeout: float
) -> str:
    source = bootstrap_url or DEFAULT_RDAP_BOOTSTRAP
    cached = _bootstrap_cache.get(source)
    if cached is None or time.monotonic() - cached[0] > _BOOTSTRAP_TTL:
        document = await _fetch_json(client, source, "the RDAP bootstrap registry", timeout)
        cached = (time.monotonic(), _parse_bootstrap(document, source))
        _bootstrap_cache[source] = cached
    services = cached[1]
    # RFC 9224 §4: the longest matching label sequence wins ("co.jp" before "jp").
    labels = name.split(".")
    for start in range(len(labels)):
        base = services.get(".".join(labels[start:]))
        if base:
            return base
    raise _RDAPFailure(
        CheckError.NO_RDAP_SERVICE, f"the RDAP bootstrap registry names no server for {name}"
    )


def _parse_bootstrap(document: Any, source: str) -> dict[str, str]:
    """{label sequence: base URL}, preferring an https URL (RFC 9224 §4)."""
    try:
        services = document["services"]
        table: dict[str, str] = {}
        for entries, urls in services:
            preferred = sorted(urls, key=lambda u: not str(u).startswith("https:"))
            if not preferred:
                continue
            for entry in entries:
                table[str(entry).lower().rstrip(".")] = str(preferred[0])
    except (KeyError, TypeError, ValueError) as exc:
        raise _RDAPFailure(
            CheckError.INVALID_RESPONSE, f"{source} is not an RDAP bootstrap registry ({exc})"
        ) from None
    return table


async def _rdap_get(client: httpx.AsyncClient, url: str, name: str, timeout: float) -> Any:
    document = await _fetch_json(client, url, f"the RDAP server for {name}", timeout)
    if not isinstance(document, dict):
        raise _RDAPFailure(CheckError.INVALID_RESPONSE, f"{url} did not return an RDAP object")
    return document


async def _fetch_json(client: httpx.AsyncClient, url: str, what: str, timeout: float) -> Any:
    async with client.stream(
        "GET",
        url,
        headers={"Accept": "application/rdap+json, application/json"},
        follow_redirects=True,  # RFC 7480 §5.2: redirects are how RDAP servers refer
        timeout=timeout,
    ) as response:
        if response.status_code == 404:
            raise _RDAPFailure(CheckError.NOT_FOUND, f"{what} does not know it (HTTP 404, {url})")
        if response.status_code != 200:
            raise _RDAPFailure(
                CheckError.HTTP_STATUS, f"{what} answered HTTP {response.status_code} ({url})"
            )
        body, truncated = await _read_capped(response.aiter_bytes(), _MAX_RDAP_BYTES)
    if truncated:
        raise _RDAPFailure(
            CheckError.INVALID_RESPONSE, f"{what} sent more than {_MAX_RDAP_BYTES} bytes ({url})"
        )
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _RDAPFailure(
            CheckError.INVALID_RESPONSE, f"{what} did not send JSON ({url}: {exc})"
        ) from None


def _judge_registration(
    name: str, url: str, document: dict[str, Any], now: dt.datetime, warn_days: int, ms: float
) -> CheckResult:
    data: dict[str, Any] = {
        "domain": name,
        "rdap_url": url,
        "expires_at": None,
        "days_left": None,
        "registrar": _registrar(document),
        "statuses": [str(s) for s in document.get("status") or [] if isinstance(s, str)],
    }
    expires = _expiration(document)
    if expires is None:
        return CheckResult.up(
            ms,
            f"{name} is registered; the registry publishes no expiration date",
            data,
            CheckError.NO_EXPIRATION,
        )
    days_left = (expires - now).total_seconds() / 86400
    data["expires_at"] = expires.isoformat().replace("+00:00", "Z")
    data["days_left"] = round(days_left, 1)
    day = expires.date().isoformat()
    if expires <= now:
        return CheckResult.down(
            ms, CheckError.EXPIRED, f"the registration of {name} expired on {day}", data
        )
    if days_left <= warn_days:
        return CheckResult.up(
            ms,
            f"the registration of {name} expires on {day} (in {int(days_left)} days)",
            data,
            CheckError.EXPIRING,
        )
    return CheckResult.up(
        ms, f"{name} is registered until {day} ({int(days_left)} days left)", data
    )


def _expiration(document: dict[str, Any]) -> dt.datetime | None:
    for event in document.get("events") or []:
        if not isinstance(event, dict) or event.get("eventAction") != "expiration":
            continue
        try:
            value = dt.datetime.fromisoformat(str(event["eventDate"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            continue
        if value.tzinfo is None:  # RFC 9083 §4.5 requires an offset; assume UTC if missing
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    return None


def _registrar(document: dict[str, Any]) -> str | None:
    """The registrar entity's name from its jCard (RFC 9083 §5.1), when published."""
    for entity in document.get("entities") or []:
        if not isinstance(entity, dict) or "registrar" not in (entity.get("roles") or []):
            continue
        card = entity.get("vcardArray")
        if isinstance(card, list) and len(card) == 2 and isinstance(card[1], list):
            for prop in card[1]:
                if isinstance(prop, list) and len(prop) == 4 and prop[0] == "fn":
                    return str(prop[3])
        return str(entity.get("handle")) if entity.get("handle") else None
    return None
