"""Canonical forms of host names, domains, URLs and e-mail addresses.

Records are matched by these values, so two spellings of the same name (``WWW.Example.JP.``,
``www.example.jp``; ``例え.jp``, ``xn--r8jz45g.jp``) must become one string. Each function
raises :class:`NameProblem` with a message for the operator when the value cannot be a name.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

import idna
from django.utils.translation import gettext as _

MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
# ASCII labels: letters, digits and hyphens (RFC 1123), plus the underscore that internal
# names such as "app_01.corp.local" use in practice.
ASCII_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


class NameProblem(ValueError):
    """The value is not a usable name; the message says why, for the operator."""


def normalise_host(value: str, *, allow_ip: bool = True) -> str:
    """The canonical form of a host: an IP address in its compressed form (IPv6 without
    brackets), or a DNS name in lower case with internationalised labels as punycode
    (IDNA 2008 with UTS #46 mapping, so full-width letters and "。" typed with a Japanese
    input method become ASCII) and no trailing dot.
    """
    text = value.strip()
    if "://" in text:
        host = urlsplit(text).hostname or ""
        hint = _(" (write only the host name, e.g. %(host)s)") % {"host": host} if host else ""
        raise NameProblem(_("This is a URL, not a host name%(hint)s.") % {"hint": hint})
    unbracketed = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        address = ipaddress.ip_address(unbracketed)
    except ValueError:
        pass
    else:
        if not allow_ip:
            raise NameProblem(_("An IP address is not allowed here; give a DNS name."))
        return address.compressed
    if "/" in text or ":" in text:
        raise NameProblem(
            _("A host name has no port or path; put the port in the 'port' field.")
            if ":" in text
            else _("A host name has no path.")
        )
    return normalise_dns_name(text)


def normalise_dns_name(value: str) -> str:
    """Lower-case, punycode, no trailing dot; raises :class:`NameProblem`."""
    try:
        mapped = idna.uts46_remap(value.strip(), std3_rules=False, transitional=False)
    except idna.IDNAError as e:
        raise NameProblem(_("Not a valid host name: %(problem)s.") % {"problem": e}) from None
    mapped = mapped.removesuffix(".")
    if not mapped:
        raise NameProblem(_("The name is empty."))
    labels = []
    for label in mapped.split("."):
        labels.append(_ascii_label(label))
    name = ".".join(labels)
    if len(name) > MAX_NAME_LENGTH:
        raise NameProblem(_("The name is longer than 253 characters."))
    return name


def _ascii_label(label: str) -> str:
    if not label:
        raise NameProblem(_("The name has an empty part (two dots in a row)."))
    if label.isascii():
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except idna.IDNAError:
                raise NameProblem(
                    _("'%(label)s' is not valid punycode.") % {"label": label}
                ) from None
        elif not ASCII_LABEL.match(label):
            raise NameProblem(
                _("'%(label)s' may contain only letters, digits and '-'.") % {"label": label}
            )
    else:
        try:
            label = idna.alabel(label).decode("ascii")
        except idna.IDNAError as e:
            raise NameProblem(
                _("'%(label)s' is not a valid internationalised name: %(problem)s.")
                % {"label": label, "problem": e}
            ) from None
    if len(label) > MAX_LABEL_LENGTH:
        raise NameProblem(_("'%(label)s' is longer than 63 characters.") % {"label": label})
    return label


def normalise_sni(value: str) -> str:
    """A server name to send in the TLS handshake; empty stays empty (= the host).

    RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
    """
    text = value.strip()
    if not text:
        return ""
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return normalise_host(text, allow_ip=False)
    raise NameProblem(
        _("The server name (SNI) cannot be an IP address (RFC 6066); leave it empty.")
    )


def normalise_url(value: str) -> str:
    """A site URL with its scheme and host in lower case and ``/`` for an empty path.

    The host is left in Unicode (``https://例え.jp/`` stays readable); whether the URL is
    valid at all is for the model's URL validator to say.
    """
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if not parts.scheme or not parts.netloc:
        return text
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    netloc = f"{userinfo}{at}{hostport.lower()}"
    return urlunsplit(
        (parts.scheme.lower(), netloc, parts.path or "/", parts.query, parts.fragment)
    )


def normalise_email(value: str) -> str:
    """The address with its domain in lower case (the local part is the mailbox owner's to
    spell: RFC 5321 §2.4)."""
    text = value.strip()
    local, at, domain = text.rpartition("@")
    return f"{local}{at}{domain.lower()}" if at else text


def host_key(value: str) -> str:
    """``normalise_host`` for values already in the database, which may predate these rules."""
    try:
        return normalise_host(value)
    except NameProblem:
        return value.strip().lower().strip("[]")


def url_key(value: str) -> str:
    return normalise_url(value)
