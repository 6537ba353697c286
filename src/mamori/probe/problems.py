"""Problem codes a TLS probe reports, with the rule behind each.

Certificate problems (about the leaf unless stated otherwise; ``now`` is the probe time):

``expired``
    ``not_after < now``.
``expiring_soon``
    Not expired and ``days_left <= min(warn_days, lifetime_days / 3)``. The lifetime cap keeps
    short-lived certificates (6-day ACME profiles) from being "expiring soon" from birth; a
    90-day certificate warns from day 60 at the latest, as ACME clients renew then.
``not_yet_valid``
    ``not_before > now``.
``untrusted``
    The served chain does not lead to a trust anchor, even after completing it, and the reason
    is not better described by ``self_signed`` or ``incomplete_chain``: unknown root, untrusted
    self-signed root in the chain, expired or not-yet-valid intermediate, bad signature, a CA
    certificate that may not issue… Trust is evaluated at an instant inside the leaf's validity,
    so an otherwise good but expired certificate is only ``expired``.
``self_signed``
    The leaf is signed by its own key and is not itself a trust anchor.
``hostname_mismatch``
    The SNI name (or, with no SNI, the IP address) is not covered by the certificate
    (RFC 6125 §6.4 / RFC 9525 §6.3: subjectAltName only; the wildcard ``*`` only as the whole
    left-most label and matching exactly one label; IP addresses only against iPAddress
    entries; the subject CN only when there is no subjectAltName at all).
``incomplete_chain``
    The server omits intermediates that are needed, but the chain can be completed from known
    intermediates (non-self-signed CA certificates in the trust bundles) or by following the
    caIssuers URL of the Authority Information Access extension (RFC 5280 §4.2.2.1). Browsers
    that fetch AIA accept such a site; many other clients (curl, Python, Java, mail servers)
    fail. A served chain in the wrong order is not flagged: RFC 8446 §4.4.2 tells clients to
    cope with any order, and OpenSSL does.
``weak_key``
    RSA or DSA below 2048 bits, EC below 256 bits, on the leaf or a served intermediate
    (NIST SP 800-57 Part 1 §5.6; CA/Browser Forum Baseline Requirements §6.1.5).
``weak_signature``
    MD5 or SHA-1 signature on the leaf or on any served certificate that is not self-signed
    (a root's self-signature is never checked by clients, so it does not count).
``protocol_outdated``
    The negotiated version is below TLS 1.2, or the server also accepts TLS 1.0 or TLS 1.1
    (deprecated by RFC 8996).

Connection problems (then there is no certificate to judge):

``unreachable``
    DNS lookup failed, connection refused, no route to host.
``timeout``
    The connection or the TLS handshake did not finish within the probe's timeout.
``tls_error``
    The handshake failed: not a TLS server, TLS alert, no shared protocol or cipher, connection
    closed or reset mid-handshake, oversized or malformed messages.
``address_refused``
    The host is, or resolves only to, an address the target's policy does not allow (loopback,
    private, link-local, reserved: see :mod:`mamori.probe.netguard`); nothing was connected to.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CONNECTION_PROBLEMS", "Problem"]


class Problem(StrEnum):
    """A reason why a TLS endpoint is not OK. Members are listed in reporting order."""

    EXPIRED = "expired"
    EXPIRING_SOON = "expiring_soon"
    NOT_YET_VALID = "not_yet_valid"
    UNTRUSTED = "untrusted"
    SELF_SIGNED = "self_signed"
    HOSTNAME_MISMATCH = "hostname_mismatch"
    INCOMPLETE_CHAIN = "incomplete_chain"
    WEAK_KEY = "weak_key"
    WEAK_SIGNATURE = "weak_signature"
    PROTOCOL_OUTDATED = "protocol_outdated"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    ADDRESS_REFUSED = "address_refused"

    @property
    def description(self) -> str:
        """A short English sentence saying what the code means."""
        return _DESCRIPTIONS[self]

    @property
    def rank(self) -> int:
        """Position in the reporting order (the order of definition above)."""
        return _ORDER[self]


_DESCRIPTIONS: dict[Problem, str] = {
    Problem.EXPIRED: "The certificate has expired.",
    Problem.EXPIRING_SOON: "The certificate expires soon and should be renewed.",
    Problem.NOT_YET_VALID: "The certificate is not valid yet.",
    Problem.UNTRUSTED: "The certificate chain does not lead to a trusted root.",
    Problem.SELF_SIGNED: "The certificate is self-signed and not trusted.",
    Problem.HOSTNAME_MISMATCH: "The certificate is not valid for this host name.",
    Problem.INCOMPLETE_CHAIN: "The server does not send the intermediate certificates it needs.",
    Problem.WEAK_KEY: "A certificate uses a key that is too short.",
    Problem.WEAK_SIGNATURE: "A certificate is signed with MD5 or SHA-1.",
    Problem.PROTOCOL_OUTDATED: "The server accepts TLS versions older than 1.2.",
    Problem.UNREACHABLE: "The server could not be reached.",
    Problem.TIMEOUT: "The server did not answer in time.",
    Problem.TLS_ERROR: "The TLS handshake failed.",
    Problem.ADDRESS_REFUSED: "The server's address is not public and not allowed for this target.",
}

_ORDER: dict[Problem, int] = {problem: index for index, problem in enumerate(Problem)}

#: Problems that mean no certificate could be obtained at all.
CONNECTION_PROBLEMS: frozenset[Problem] = frozenset(
    {Problem.UNREACHABLE, Problem.TIMEOUT, Problem.TLS_ERROR, Problem.ADDRESS_REFUSED}
)
