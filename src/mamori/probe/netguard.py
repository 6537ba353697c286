"""Which addresses an outbound connection may reach: the guard against requests to internal
addresses (server-side request forgery).

Whoever can aim a connection Mamori makes — an endpoint's host, a chat channel's webhook URL, a
seal's page, an AIA, OCSP or CRL URL inside a certificate a client controls — must not be able to
make Mamori reach the provider's own network: loopback, private, link-local (the cloud metadata
service at 169.254.169.254) or reserved addresses. An :class:`AddressPolicy` says what is allowed:

* every *global* (public) address;
* every address, when the policy allows private targets (a record provider staff allowed);
* the addresses in the policy's extra networks (``MAMORI_ALLOW_PRIVATE_NETWORKS``).

The check is made **when the connection opens, on the address actually connected to**, after the
name is resolved: a check of the URL alone would let ``localhost``, a name that resolves to
127.0.0.1, or a name whose DNS answer changes between the check and the connection (DNS
rebinding) through. Three ways in:

* :func:`guarded` sets the policy for the code it wraps, in a context variable; :func:`install`
  replaces ``urllib3.util.connection.create_connection``, through which every connection
  ``requests`` and Apprise open passes (redirects too), with one that resolves, checks and
  connects only to checked addresses. Without a policy (configuration-defined destinations:
  the ACME directory, the SMTP relay, the Chatwork API, operator channels) nothing changes.
* :func:`screen` filters the addresses a name resolved to, for code that resolves and connects
  itself (the TLS handshake of :mod:`mamori.probe.handshake`).
* :func:`open_connection` is ``asyncio.open_connection`` that connects to checked addresses only
  (the AIA fetcher of :mod:`mamori.probe.trust`).

A refusal is an :class:`AddressRefused` (an ``OSError``, so that code catching connection
failures reports it as one) naming the host, the address and its kind. Pure Python: no Django,
so that the probe layer and ``mamori scan`` use it as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AddressPolicy",
    "AddressRefused",
    "Guard",
    "classify",
    "guarded",
    "install",
    "literal_address",
    "open_connection",
    "refusal_in",
    "screen",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 6598 shared address space (carrier-grade NAT): neither public nor "private" to ipaddress.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# RFC 6052 well-known NAT64 prefix: 64:ff9b::7f00:1 reaches 127.0.0.1 through a NAT64 gateway.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# The kinds of address that are refused (the words used in messages).
LOOPBACK = "loopback"
PRIVATE = "private"
LINK_LOCAL = "link-local"
MULTICAST = "multicast"
UNSPECIFIED = "unspecified"
RESERVED = "reserved"


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return None


def classify(address: str | IPAddress) -> str | None:
    """The kind of a non-public address (``loopback``, ``private``, ``link-local``,
    ``multicast``, ``unspecified``, ``reserved``), or None for a public one. An IPv6 address
    that embeds an IPv4 address (``::ffff:127.0.0.1``) is judged by the IPv4 address too.
    Raises ``ValueError`` if ``address`` is not an IP address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        inner = classify(embedded)
        if inner is not None:
            return inner
    if ip.is_unspecified:
        return UNSPECIFIED  # 0.0.0.0 and :: reach the local host on Linux
    if ip.is_loopback:
        return LOOPBACK
    if ip.is_link_local:
        return LINK_LOCAL
    if ip.is_multicast:
        return MULTICAST
    if ip.is_global:
        return None
    if ip.is_reserved:
        return RESERVED
    if ip.is_private or ip in _SHARED:
        return PRIVATE
    return RESERVED


def literal_address(host: str) -> str | None:
    """Without resolving anything: the address ``host`` certainly means — itself for an IP
    literal (brackets allowed), 127.0.0.1 for ``localhost`` and the names under it (RFC 6761
    §6.3) — or None for any other name, which can only be judged once resolved."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(name.split("%", 1)[0]))
    except ValueError:
        return None


class AddressRefused(OSError):
    """A connection to a non-public address the policy does not allow. ``host`` is what was
    asked for, ``address`` the address it is or resolved to, ``kind`` one of the kinds of
    :func:`classify`. The message names the three; callers that must not show the host (a chat
    channel's URL is a secret) build their own message from ``kind``."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host = host
        self.address = address
        self.kind = kind
        if host.strip("[]") == address:
            where = f"{address}: a {kind} address"
        else:
            where = f"{host}: it resolves to {address}, a {kind} address"
        super().__init__(
            f"refused to connect to {where}, and non-public addresses are not allowed here"
        )

    def __reduce__(self):  # OSError's own pickling would lose the attributes
        return (type(self), (self.host, self.address, self.kind))


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a connection may reach: public ones, plus every address when
    ``allow_private`` (a record provider staff allowed), plus those in ``networks``."""

    allow_private: bool = False
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def public(cls, networks: Iterable[IPNetwork] = ()) -> AddressPolicy:
        """Public addresses and ``networks`` only."""
        return cls(allow_private=False, networks=tuple(networks))

    def kind_refused(self, address: str | IPAddress) -> str | None:
        """The kind of ``address`` if this policy refuses it, else None."""
        kind = classify(address)
        if kind is None or self.allow_private:
            return None
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
        candidates = [c for c in (ip, _embedded_ipv4(ip)) if c is not None]
        for network in self.networks:
            if any(c.version == network.version and c in network for c in candidates):
                return None
        return kind

    def refuses_literal(self, host: str) -> str | None:
        """The kind of ``host`` if, without resolving it, it is certain to be refused (a
        non-public IP literal or ``localhost``, see :func:`literal_address`), else None. For
        checks when a record is saved; the connection is checked again when it opens."""
        address = literal_address(host)
        return None if address is None else self.kind_refused(address)

    def allows(self, address: str | IPAddress) -> bool:
        return self.kind_refused(address) is None

    def check(self, host: str, address: str) -> None:
        """Raise :class:`AddressRefused` unless ``address`` (what ``host`` is or resolved to)
        may be connected to."""
        kind = self.kind_refused(address)
        if kind is not None:
            raise AddressRefused(host, address.split("%", 1)[0], kind)


def screen(
    host: str, addresses: Sequence[str], policy: AddressPolicy | None
) -> tuple[list[str], AddressRefused | None]:
    """Split the addresses ``host`` resolved to into those ``policy`` allows (in order) and the
    first refusal (None if none was refused). Without a policy, everything is allowed."""
    if policy is None:
        return list(addresses), None
    allowed: list[str] = []
    refusal: AddressRefused | None = None
    for address in addresses:
        try:
            policy.check(host, address)
        except AddressRefused as exc:
            refusal = refusal or exc
        else:
            allowed.append(address)
    return allowed, refusal


def refusal_in(error: BaseException | None) -> AddressRefused | None:
    """The :class:`AddressRefused` behind ``error`` (following causes, contexts and the
    ``reason`` urllib3 wraps errors in), or None."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, AddressRefused):
            return current
        pending += [current.__cause__, current.__context__]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
        pending += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
    return None


# Connections opened by urllib3 (requests, Apprise) -----------------------------------------


@dataclass
class Guard:
    """The policy in force for the code inside :func:`guarded`, and the refusals it made (a
    library that swallows connection errors, as Apprise does, cannot hide them)."""

    policy: AddressPolicy
    refused: list[AddressRefused] = field(default_factory=list)


_current: ContextVar[Guard | None] = ContextVar("mamori_netguard", default=None)
_install_lock = threading.Lock()
_original_create_connection: Any = None


@contextlib.contextmanager
def guarded(policy: AddressPolicy | None) -> Iterator[Guard | None]:
    """Apply ``policy`` to every connection urllib3 opens in this thread (or task) inside the
    block; yields the :class:`Guard`, or None when ``policy`` is None (unguarded)."""
    if policy is None:
        yield None
        return
    install()
    guard = Guard(policy)
    token = _current.set(guard)
    try:
        yield guard
    finally:
        _current.reset(token)


def install() -> None:
    """Put the guard in front of ``urllib3.util.connection.create_connection`` (once)."""
    global _original_create_connection
    with _install_lock:
        if _original_create_connection is not None:
            return
        from urllib3.util import connection

        _original_create_connection = connection.create_connection
        connection.create_connection = _guarded_create_connection


def _guarded_create_connection(
    address: tuple[str, int], *args: Any, **kwargs: Any
) -> socket.socket:
    guard = _current.get()
    if guard is None:
        return _original_create_connection(address, *args, **kwargs)
    from urllib3.util.connection import allowed_gai_family

    host, port = address
    host = host.strip("[]")
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    resolved = list(dict.fromkeys(str(info[4][0]) for info in infos))
    allowed, refusal = screen(host, resolved, guard.policy)
    if refusal is not None:
        guard.refused.append(refusal)
    if not allowed:
        raise refusal or OSError(f"{host} did not resolve to any address")
    error: OSError | None = None
    for ip in allowed:
        try:
            # An IP literal: urllib3 connects to exactly this, checked, address.
            return _original_create_connection((ip, port), *args, **kwargs)
        except OSError as exc:
            error = exc
    assert error is not None
    raise error


# Connections opened with asyncio ------------------------------------------------------------


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (itself for an IP literal), without duplicates."""
    literal = host.strip("[]")
    try:
        ipaddress.ip_address(literal.split("%", 1)[0])
    except ValueError:
        pass
    else:
        return [literal]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def open_connection(
    host: str, port: int, policy: AddressPolicy | None, **kwargs: Any
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` to an address of ``host`` that ``policy`` allows, tried in
    the resolver's order. Raises :class:`AddressRefused` when every address is refused, else
    the last connection error."""
    if policy is None:
        return await asyncio.open_connection(host, port, **kwargs)
    allowed, refusal = screen(host, await resolve(host, port), policy)
    if not allowed:
        raise refusal or OSError(f"{host} did not resolve to any address")
    error: OSError | None = None
    for ip in allowed:
        try:
            return await asyncio.open_connection(ip, port, **kwargs)
        except OSError as exc:
            error = exc
    assert error is not None
    raise error
