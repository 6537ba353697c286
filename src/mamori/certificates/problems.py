"""Problem codes explained in words, in the user's language.

The codes come from :class:`mamori.probe.Problem`; these texts are what the dashboard, the
certificate pages and the notices show next to them.
"""

from django.utils.translation import gettext_lazy as _

from mamori.core.filters import with_all

PROBLEM_TEXT = {
    "expired": _("The certificate has expired. Browsers refuse the site."),
    "expiring_soon": _("The certificate expires soon and has not been renewed yet."),
    "not_yet_valid": _("The certificate is not valid yet (its start date is in the future)."),
    "untrusted": _("The certificate does not chain to a trusted certificate authority."),
    "self_signed": _("The certificate is self-signed; browsers do not trust it."),
    "hostname_mismatch": _("The certificate is not valid for this host name."),
    "incomplete_chain": _(
        "The server does not send the intermediate certificates; some clients fail to connect."
    ),
    "weak_key": _("The key is too weak (RSA below 2048 bits or EC below 256 bits)."),
    "weak_signature": _("The certificate is signed with an obsolete algorithm (SHA-1 or MD5)."),
    "protocol_outdated": _("The server still accepts outdated TLS versions (below TLS 1.2)."),
    "unreachable": _("The endpoint could not be reached (DNS, refused or no route)."),
    "timeout": _("The endpoint did not answer in time."),
    "tls_error": _("The TLS handshake failed."),
    "address_refused": _(
        "Not checked: the host is, or resolves to, a loopback, private or link-local address. "
        "Mamori checks only public addresses unless the provider's administrators or operators "
        "allow a private address for this endpoint."
    ),
}

# Short names, for subjects and badges where a sentence does not fit.
PROBLEM_LABEL = {
    "expired": _("Expired"),
    "expiring_soon": _("Expiring soon"),
    "not_yet_valid": _("Not yet valid"),
    "untrusted": _("Untrusted"),
    "self_signed": _("Self-signed"),
    "hostname_mismatch": _("Wrong host name"),
    "incomplete_chain": _("Incomplete chain"),
    "weak_key": _("Weak key"),
    "weak_signature": _("Weak signature"),
    "protocol_outdated": _("Outdated TLS"),
    "unreachable": _("Unreachable"),
    "timeout": _("Timeout"),
    "tls_error": _("TLS error"),
    "address_refused": _("Address not allowed"),
}

# Urgency, most urgent first: used to order the dashboard.
PROBLEM_ORDER = [
    "expired",
    "unreachable",
    "timeout",
    "tls_error",
    "address_refused",
    "hostname_mismatch",
    "untrusted",
    "self_signed",
    "not_yet_valid",
    "incomplete_chain",
    "expiring_soon",
    "weak_key",
    "weak_signature",
    "protocol_outdated",
]


def problem_text(code: str) -> str:
    return str(PROBLEM_TEXT.get(code, code))


def problem_label(code: str) -> str:
    return str(PROBLEM_LABEL.get(code, code))


def severity(codes: list[str]) -> int:
    """Lower is more urgent; endpoints without problems sort last."""
    ranks = [PROBLEM_ORDER.index(c) for c in codes if c in PROBLEM_ORDER]
    return min(ranks, default=len(PROBLEM_ORDER))


def problem_choices() -> list[tuple[str, str]]:
    """The problem filter's choices (certificate and endpoint lists), most urgent first."""
    return with_all(
        (code, f"{problem_label(code)}: {problem_text(code)}") for code in PROBLEM_ORDER
    )
