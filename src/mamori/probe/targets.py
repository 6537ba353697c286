"""Probe targets: what to connect to, which name to send, and how users write them.

Accepted spellings (see :func:`parse_target`)::

    www.example.jp                 host, port 443
    www.example.jp:8443            host and port
    https://www.example.jp:8443/x  URL (https only; path, query and fragment are ignored)
    192.0.2.10  /  192.0.2.10:443  IPv4 literal (no SNI is sent)
    2001:db8::1                    bare IPv6 literal, port 443
    [2001:db8::1]:8443             bracketed IPv6 literal with port (RFC 3986 §3.2.2)
    www.example.jp:443{192.0.2.10} name checked and sent as SNI, connection to the given address
                                   (the same notation as sslyze, so target files can be shared)

Internationalised names are converted to their A-label (punycode) form with UTS #46 mapping
(RFC 5891), because SNI and certificate dNSName entries carry A-labels only (RFC 6066 §3,
RFC 5280 §4.2.1.6). A trailing dot is dropped: SNI must not carry one (RFC 6066 §3).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import idna

from mamori.probe.netguard import AddressPolicy

__all__ = ["Target", "TargetError", "format_hostport", "is_ip_literal", "parse_target"]

# One DNS label in A-label form. Underscores are tolerated because internal hosts use them
# (they cannot appear in public certificates, which then simply will not match).
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_MAX_NAME = 253  # RFC 1035 §2.3.4 (255 octets on the wire, 253 characters in text form)


class TargetError(ValueError):
    """A target string that cannot be probed; the message says exactly what is wrong."""


def is_ip_literal(host: str) -> bool:
    """True when ``host`` is an IPv4 or IPv6 address (an IPv6 zone id is allowed)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def format_hostport(host: str, port: int) -> str:
    """``host:port`` with IPv6 literals bracketed (RFC 3986 §3.2.2)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class Target:
    """One TLS endpoint to probe.

    ``host`` is the name (or IP literal) the certificate must match and, unless ``address`` is
    set, where to connect. ``sni`` is the server name sent in the TLS ClientHello: when left as
    ``None`` it becomes ``host``, or stays ``None`` (no SNI) when ``host`` is an IP literal,
    since RFC 6066 §3 forbids literal addresses in SNI. Pass ``sni=""`` to send no SNI for a
    hostname. ``label`` is the text the user wrote (defaults to ``host:port``). ``ca_pem``
    adds trust anchors for this target only. ``address`` connects to that IP instead of
    resolving ``host``. ``policy`` says which addresses the probe may connect to (None: any,
    as for ``mamori scan``, run by the operator on their own machine).
    """

    host: str
    port: int = 443
    sni: str | None = None
    label: str = ""
    ca_pem: bytes | None = field(default=None, repr=False)
    address: str | None = None
    policy: AddressPolicy | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise TargetError(f"invalid port {self.port}: must be between 1 and 65535")
        if self.sni is None:
            object.__setattr__(self, "sni", None if is_ip_literal(self.host) else self.host)
        elif self.sni == "":
            object.__setattr__(self, "sni", None)
        if not self.label:
            object.__setattr__(self, "label", format_hostport(self.host, self.port))

    @property
    def connect_host(self) -> str:
        """Where the TCP connection goes: ``address`` when set, otherwise ``host``."""
        return self.address or self.host

    @property
    def reference_name(self) -> str:
        """The identity the certificate must present: the SNI name, else the host (an IP)."""
        return self.sni or self.host


def parse_target(text: str, *, default_port: int = 443, sni: str | None = None) -> Target:
    """Parse a user-written target into a :class:`Target`.

    ``default_port`` applies when the text has no port. ``sni`` overrides the name sent in
    SNI and checked against the certificate (it is normalised like a hostname).

    Raises :class:`TargetError` for empty input, a scheme other than ``https``, a bad port,
    an invalid hostname or IP literal, or anything else that is not one of the forms in this
    module's docstring.
    """
    label = text.strip()
    if not label:
        raise TargetError("empty target")
    if any(ch.isspace() for ch in label):
        raise TargetError(f"invalid target {label!r}: contains whitespace")

    body, address = _split_address(label)
    if "://" in body or body.lower().startswith("https:"):
        host, port = _parse_url(body, label, default_port)
    else:
        host, port = _parse_authority(body, label, default_port)

    if sni:
        if is_ip_literal(sni.strip("[]")):
            # RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
            raise TargetError(f"invalid SNI name {sni!r}: SNI cannot carry an IP address")
        sni = _normalise_hostname(sni, f"SNI name {sni!r}")
    if address is not None and is_ip_literal(host):
        raise TargetError(f"invalid target {label!r}: {{address}} needs a hostname before it")
    return Target(host=host, port=port, sni=sni, label=label, address=address)


def _split_address(label: str) -> tuple[str, str | None]:
    """Split off a trailing ``{ip}`` (sslyze notation) and validate it."""
    if not label.endswith("}"):
        if "{" in label or "}" in label:
            raise TargetError(f"invalid target {label!r}: unbalanced braces")
        return label, None
    start = label.rfind("{")
    if start <= 0:
        raise TargetError(f"invalid target {label!r}: expected host[:port]{{ip-address}}")
    candidate = label[start + 1 : -1]
    try:
        address = str(ipaddress.ip_address(candidate))
    except ValueError:
        raise TargetError(
            f"invalid target {label!r}: {candidate!r} in braces is not an IP address"
        ) from None
    return label[:start], address


def _parse_url(body: str, label: str, default_port: int) -> tuple[str, int]:
    scheme = body.split(":", 1)[0].lower()
    if scheme != "https":
        raise TargetError(
            f"unsupported scheme {scheme!r} in {label!r}: only https:// URLs can be probed"
        )
    parts = urlsplit(body)
    if not parts.netloc:
        raise TargetError(f"invalid URL {label!r}: no host")
    netloc = parts.netloc.rsplit("@", 1)[-1]  # user information is irrelevant for a probe
    return _parse_authority(netloc, label, default_port)


def _parse_authority(text: str, label: str, default_port: int) -> tuple[str, int]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise TargetError(f"invalid target {label!r}: missing ']' after IPv6 address")
        host_text, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise TargetError(f"invalid target {label!r}: unexpected {rest!r} after ']'")
        port = _parse_port(rest[1:], label) if rest else default_port
        try:
            address = ipaddress.IPv6Address(host_text)
        except ValueError:
            raise TargetError(
                f"invalid target {label!r}: {host_text!r} is not an IPv6 address"
            ) from None
        return str(address), port

    if text.count(":") >= 2:
        # More than one colon without brackets can only be a bare IPv6 literal (no port).
        try:
            return str(ipaddress.IPv6Address(text)), default_port
        except ValueError:
            raise TargetError(
                f"invalid target {label!r}: not an IPv6 address; write [address]:port"
            ) from None

    host_text, sep, port_text = text.partition(":")
    port = _parse_port(port_text, label) if sep else default_port
    if not host_text:
        raise TargetError(f"invalid target {label!r}: no host")
    return _normalise_host(host_text, label), port


def _parse_port(text: str, label: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise TargetError(f"invalid port {text!r} in {label!r}: must be a number from 1 to 65535")
    port = int(text)
    if not 1 <= port <= 65535:
        raise TargetError(f"invalid port {port} in {label!r}: must be between 1 and 65535")
    return port


def _normalise_host(text: str, label: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    return _normalise_hostname(text, f"hostname in {label!r}")


def _normalise_hostname(text: str, what: str) -> str:
    name = text.rstrip(".") if text != "." else text
    if not name or name == ".":
        raise TargetError(f"invalid {what}: empty")
    if not name.isascii():
        try:
            # UTS #46 maps full-width dots and case; transitional=False keeps ß and ς (IDNA2008).
            name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as exc:
            raise TargetError(f"invalid {what}: {exc}") from None
    name = name.lower()
    if len(name) > _MAX_NAME:
        raise TargetError(f"invalid {what}: longer than {_MAX_NAME} characters")
    labels = name.split(".")
    for item in labels:
        if not _LABEL.match(item):
            raise TargetError(f"invalid {what}: bad label {item!r}")
    if labels[-1].isdigit():
        # "10.0.0.256" or "1.2.3" are mistyped addresses, not names: no TLD is all-numeric.
        raise TargetError(f"invalid {what}: {name!r} is not a valid IP address or hostname")
    return name
