"""The kinds of check, the settings each takes, and how a check becomes a probe call (MON-01).

A check's ``settings`` are the keyword arguments of its probe in :mod:`mamori.probe.checks`
(``check_http(url, method=..., ...)``), minus what Mamori supplies itself (``timeout`` comes from
the check, the HTTP client from the batch). :func:`validate_settings` gives one precise message
per problem; :func:`probe_call` turns valid settings into the ``(kind, kwargs)`` that
:func:`mamori.probe.checks.run_checks` takes. TLS goes through :func:`check_tls`, a small adapter
from :func:`mamori.probe.probe_tls` to :class:`~mamori.probe.checks_result.CheckResult`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.db import models
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mamori.probe import Problem, Target, TargetError, TLSResult, TrustStore, probe_tls
from mamori.probe.checks_result import CheckError, CheckResult

__all__ = [
    "CheckKind",
    "check_tls",
    "invalid_settings_result",
    "probe_call",
    "tls_check_result",
    "validate_settings",
]


class CheckKind(models.TextChoices):
    HTTP = "http", _("HTTP(S)")
    TCP = "tcp", _("TCP port")
    DNS = "dns", _("DNS records")
    ICMP = "icmp", _("ICMP (ping)")
    RDAP = "rdap", _("Domain registration (RDAP)")
    TLS = "tls", _("TLS installation")


# -- field rules: each returns an error message, or None when the value is fine -------------------

Rule = Callable[[Any], str | None]


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return gettext("must be a non-empty string")
    return None


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else gettext("must be true or false")


def _integer(low: int, high: int) -> Rule:
    def rule(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            message = gettext("must be an integer from %(low)s to %(high)s")
            return message % {"low": low, "high": high}
        return None

    return rule


def _url(value: Any) -> str | None:
    if not isinstance(value, str):
        return gettext("must be an http:// or https:// URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return gettext("must be an http:// or https:// URL with a host")
    return None


def _method(value: Any) -> str | None:
    allowed = ("GET", "HEAD", "POST", "PUT", "OPTIONS")
    if not isinstance(value, str) or value.upper() not in allowed:
        return gettext("must be one of %(values)s") % {"values": ", ".join(allowed)}
    return None


def _headers(value: Any) -> str | None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        return gettext("must be an object of header names to string values")
    return None


def _statuses(value: Any) -> str | None:
    if (
        not isinstance(value, list)
        or not value
        or not all(type(s) is int and 100 <= s <= 599 for s in value)
    ):
        return gettext("must be a non-empty list of HTTP status codes (100–599)")
    return None


def _response_ms(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return gettext("must be a positive number of milliseconds")
    return None


def _strings(value: Any) -> str | None:
    if not isinstance(value, list) or not value or not all(_text(v) is None for v in value):
        return gettext("must be a non-empty list of strings")
    return None


def _optional_strings(value: Any) -> str | None:
    return None if value is None else _strings(value)


def _rdtype(value: Any) -> str | None:
    allowed = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "CAA", "SOA", "SRV", "PTR")
    if not isinstance(value, str) or value.upper() not in allowed:
        return gettext("must be one of %(values)s") % {"values": ", ".join(allowed)}
    return None


def _nameservers(value: Any) -> str | None:
    if value is None:
        return None
    problem = _strings(value)
    if problem:
        return gettext(
            "must be a non-empty list of addresses such as 192.0.2.53 or 192.0.2.53:5353"
        )
    for server in value:
        host = server
        if server.startswith("["):
            host = server[1:].partition("]")[0]
        elif server.count(":") == 1:
            host = server.partition(":")[0]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return gettext("%(server)r is not an IP address (give name servers by address)") % {
                "server": server
            }
    return None


def _host(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "/ :@"):
        if isinstance(value, str) and _is_ipv6(value):
            return None
        return gettext("must be a host name or IP address (no scheme, port or path)")
    return None


def _is_ipv6(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).version == 6
    except ValueError:
        return False


def _domain(value: Any) -> str | None:
    if not isinstance(value, str) or "." not in value.strip(".") or _host(value):
        return gettext("must be a registered domain name such as example.jp")
    return None


#: Per kind: setting name → (required, rule). Names are the probe's keyword arguments.
SETTINGS: dict[str, dict[str, tuple[bool, Rule]]] = {
    CheckKind.HTTP: {
        "url": (True, _url),
        "method": (False, _method),
        "headers": (False, _headers),
        "expect_status": (False, _statuses),
        "keyword": (False, _optional_text),
        "keyword_absent": (False, _flag),
        "max_response_ms": (False, _response_ms),
        "follow_redirects": (False, _flag),
        "verify_tls": (False, _flag),
    },
    CheckKind.TCP: {"host": (True, _host), "port": (True, _integer(1, 65535))},
    CheckKind.DNS: {
        "name": (True, _text),
        "rdtype": (False, _rdtype),
        "expected": (False, _optional_strings),
        "nameservers": (False, _nameservers),
    },
    CheckKind.ICMP: {"host": (True, _host)},
    CheckKind.RDAP: {
        "domain": (True, _domain),
        "warn_days": (False, _integer(0, 365)),
        # For registries the IANA bootstrap does not list: https://rdap.example/v1/
        "base_url": (False, _url),
    },
    CheckKind.TLS: {
        "host": (True, _host),
        "port": (False, _integer(1, 65535)),
        "sni": (False, _optional_text),
    },
}


def validate_settings(kind: str, settings: Any) -> list[str]:
    """Every problem with ``settings`` for a check of ``kind``, one message each; [] when fine.
    Messages are in the active language; the setting's name before the colon never is.

    Messages name the setting: ``"port: must be an integer from 1 to 65535"``,
    ``"url: required"``, ``"port: not a setting of dns checks (allowed: name, rdtype, ...)"``.
    """
    rules = SETTINGS.get(kind)
    if rules is None:
        return [gettext("unknown kind %(kind)r") % {"kind": kind}]
    if not isinstance(settings, dict):
        return [gettext("settings must be a JSON object")]
    problems = []
    required = gettext("required")
    for name, (needed, rule) in rules.items():
        if name not in settings:
            if needed:
                problems.append(f"{name}: {required}")
            continue
        message = rule(settings[name])
        if message:
            problems.append(f"{name}: {message}")
    for name in settings:
        if name not in rules:
            message = gettext("not a setting of %(kind)s checks (allowed: %(allowed)s)")
            problems.append(f"{name}: {message % {'kind': kind, 'allowed': ', '.join(rules)}}")
    return problems


def invalid_settings_result(kind: str, settings: Any) -> CheckResult | None:
    """The result of a run whose stored settings are invalid (the check is not probed), or None
    when they are fine. Its detail is in English, like every probe's."""
    if not validate_settings(kind, settings):
        return None
    with translation.override("en"):
        problems = validate_settings(kind, settings)
    detail = "invalid settings: " + "; ".join(problems)
    return CheckResult.down(0.0, CheckError.INVALID_TARGET, detail)


def probe_call(kind: str, settings: dict[str, Any], timeout: float) -> tuple[str, dict[str, Any]]:
    """``(kind, kwargs)`` for :func:`~mamori.probe.checks.run_checks` (or :func:`check_tls`)."""
    kwargs = dict(settings)
    if kind == CheckKind.HTTP and "method" in kwargs:
        kwargs["method"] = kwargs["method"].upper()
    if kind == CheckKind.DNS and "rdtype" in kwargs:
        kwargs["rdtype"] = kwargs["rdtype"].upper()
    kwargs["timeout"] = float(timeout)
    return kind, kwargs


# -- TLS: the certificate probe seen as an uptime check --------------------------------------------

# Problems that make a browser refuse the site (or never reach it): the check is down. The
# others (expiring_soon, weak keys, outdated protocols, an incomplete chain that browsers
# usually complete) are flags on an up check; the certificate watch reports them in detail.
_TLS_DOWN = {
    Problem.UNREACHABLE: CheckError.UNREACHABLE,
    Problem.TIMEOUT: CheckError.TIMEOUT,
    Problem.TLS_ERROR: CheckError.TLS_ERROR,
    Problem.EXPIRED: Problem.EXPIRED.value,
    Problem.NOT_YET_VALID: Problem.NOT_YET_VALID.value,
    Problem.UNTRUSTED: Problem.UNTRUSTED.value,
    Problem.SELF_SIGNED: Problem.SELF_SIGNED.value,
    Problem.HOSTNAME_MISMATCH: Problem.HOSTNAME_MISMATCH.value,
}


def tls_check_result(result: TLSResult) -> CheckResult:
    """The uptime view of a TLS probe: down for the problems in ``_TLS_DOWN``, else up."""
    data = {"problems": [p.value for p in result.problems], "tls_version": result.tls_version}
    for problem in result.problems:
        if problem in _TLS_DOWN:
            detail = result.details.get(problem.value) or result.error or problem.value
            return CheckResult.down(result.elapsed_ms, _TLS_DOWN[problem], detail, data)
    flag = result.problems[0].value if result.problems else ""
    detail = (
        result.details.get(flag, flag)
        if flag
        else f"TLS handshake with {result.target} in {result.elapsed_ms:.0f} ms"
    )
    return CheckResult.up(result.elapsed_ms, detail, data, flag)


async def check_tls(
    host: str,
    port: int = 443,
    *,
    sni: str | None = None,
    timeout: float = 10.0,
    trust: TrustStore,
) -> CheckResult:
    """Handshake with ``host:port`` through :func:`mamori.probe.probe_tls` (no legacy-protocol
    probing, which is the certificate watch's business). Never raises for network problems."""
    try:
        target = Target(host=host, port=port, sni=sni)
    except TargetError as exc:
        return CheckResult.down(0.0, CheckError.INVALID_TARGET, str(exc))
    result = await probe_tls(target, trust=trust, timeout=timeout, check_legacy_protocols=False)
    return tls_check_result(result)
