"""What a check's result means, in the reader's language (issue 15: store codes, not sentences).

The probe reports a code (:class:`mamori.probe.checks_result.CheckError`, or a certificate
problem for TLS checks) and a technical line in English for logs and the command line. What
people read is produced here at display time from the code and a few parameters stored with the
result (:func:`params_for`): the check's target, the status code, the expiry date… A result stored
before the parameters were (``{}``) still reads as a sentence, only with less in it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.certificates.problems import PROBLEM_TEXT, problem_text

# The sentences need these parameters; missing ones read as "—" (see ``_format``).
SENTENCES = {
    "timeout": gettext_lazy("No answer from %(target)s within %(timeout)s seconds."),
    "connection_refused": gettext_lazy(
        "%(target)s refused the connection (nothing listens on that port)."
    ),
    "unreachable": gettext_lazy("%(target)s could not be reached (no route to the host)."),
    "dns_failure": gettext_lazy("The name of %(target)s could not be resolved (DNS)."),
    "tls_error": gettext_lazy("The TLS handshake with %(target)s failed."),
    "protocol_error": gettext_lazy("%(target)s did not answer as the protocol requires."),
    "invalid_target": gettext_lazy("%(target)s cannot be checked as written."),
    "http_status": gettext_lazy("%(target)s answered with HTTP status %(status)s."),
    "too_many_redirects": gettext_lazy("%(target)s redirects without end."),
    "keyword_missing": gettext_lazy("The page does not contain “%(keyword)s”."),
    "keyword_present": gettext_lazy("The page contains “%(keyword)s”."),
    "too_slow": gettext_lazy(
        "%(target)s answered in %(ms)s ms, more than the %(limit)s ms allowed."
    ),
    "nxdomain": gettext_lazy("The name %(target)s does not exist."),
    "no_answer": gettext_lazy("%(target)s has no records of the checked type."),
    "unexpected_records": gettext_lazy("The DNS records of %(target)s are not the expected ones."),
    "icmp_not_permitted": gettext_lazy("This server is not allowed to send pings (ICMP)."),
    "expired": gettext_lazy("The registration of %(target)s expired on %(date)s."),
    "expiring": gettext_lazy("The registration of %(target)s expires on %(date)s."),
    "no_expiration": gettext_lazy(
        "%(target)s is registered; the registry publishes no expiration date."
    ),
    "not_found": gettext_lazy("The registry does not know %(target)s."),
    "no_rdap_service": gettext_lazy("No registration data service is known for %(target)s."),
    "invalid_response": gettext_lazy("%(target)s answered with something unexpected."),
    "internal_error": gettext_lazy("The check failed because of an error in Mamori."),
}

# Short names for badges and tables (the sentence is the explanation).
LABELS = {
    "timeout": gettext_lazy("Timeout"),
    "connection_refused": gettext_lazy("Connection refused"),
    "unreachable": gettext_lazy("Unreachable"),
    "dns_failure": gettext_lazy("DNS failure"),
    "tls_error": gettext_lazy("TLS error"),
    "protocol_error": gettext_lazy("Protocol error"),
    "invalid_target": gettext_lazy("Invalid target"),
    "http_status": gettext_lazy("HTTP status"),
    "too_many_redirects": gettext_lazy("Too many redirects"),
    "keyword_missing": gettext_lazy("Keyword missing"),
    "keyword_present": gettext_lazy("Keyword present"),
    "too_slow": gettext_lazy("Too slow"),
    "nxdomain": gettext_lazy("No such name"),
    "no_answer": gettext_lazy("No records"),
    "unexpected_records": gettext_lazy("Unexpected records"),
    "icmp_not_permitted": gettext_lazy("Ping not permitted"),
    "expired": gettext_lazy("Expired"),
    "expiring": gettext_lazy("Expiring soon"),
    "no_expiration": gettext_lazy("No expiration date"),
    "not_found": gettext_lazy("Not registered"),
    "no_rdap_service": gettext_lazy("No RDAP service"),
    "invalid_response": gettext_lazy("Invalid response"),
    "internal_error": gettext_lazy("Internal error"),
}


def target_of(check) -> str:
    """What the check looks at, in a few characters (its URL, host, name or domain)."""
    settings = check.settings or {}
    for key in ("url", "host", "name", "domain"):
        if settings.get(key):
            return str(settings[key])
    return ""


def params_for(check, result) -> dict[str, Any]:
    """The parameters :func:`sentence` needs, taken from ``check`` and its ``result`` when the
    result is recorded (later edits of the check do not change what an old result said)."""
    settings = check.settings or {}
    data = result.data or {}
    params: dict[str, Any] = {
        "target": target_of(check),
        "timeout": check.timeout_seconds,
        "ms": round(result.duration_ms),
    }
    if data.get("status_code") is not None:
        params["status"] = data["status_code"]
    if data.get("expires_at"):
        params["date"] = str(data["expires_at"])[:10]
    if settings.get("keyword"):
        params["keyword"] = str(settings["keyword"])[:100]
    if settings.get("max_response_ms"):
        params["limit"] = settings["max_response_ms"]
    return params


def _format(template, params: dict[str, Any]) -> str:
    values = {k: "—" for k in ("target", "timeout", "status", "keyword", "ms", "limit", "date")}
    values.update({k: v for k, v in params.items() if v not in (None, "")})
    return str(template) % values


def label(code: str, kind: str = "") -> str:
    """The short name of ``code`` (certificate problems for TLS checks)."""
    from mamori.certificates.problems import problem_label

    if kind == "tls" and code in PROBLEM_TEXT:
        return problem_label(code)
    return str(LABELS.get(code, code))


def sentence(kind: str, ok: bool, code: str, params: dict[str, Any] | None) -> str:
    """The result of a ``kind`` check in one sentence of the active language."""
    params = params or {}
    if code:
        if kind == "tls" and code in PROBLEM_TEXT:
            return problem_text(code)
        if code in SENTENCES:
            return _format(SENTENCES[code], params)
        return _("The check reported “%(code)s”.") % {"code": code}
    if not ok:
        return _("The check failed.")
    if kind == "http" and params.get("status") is not None:
        return _format(gettext_lazy("HTTP %(status)s in %(ms)s ms."), params)
    if params.get("ms") is not None:
        return _format(gettext_lazy("Answered in %(ms)s ms."), params)
    return _("The check succeeded.")


def of_sample(sample, check) -> str:
    """One stored run of ``check`` in words."""
    params = sample.params or _now_params(check, sample.duration_ms, None)
    return sentence(check.kind, sample.ok, sample.error_code, params)


def _now_params(check, ms, status) -> dict[str, Any]:
    """For a result recorded before parameters were kept: what the check says now."""
    params: dict[str, Any] = {"target": target_of(check), "timeout": check.timeout_seconds}
    if status is not None:
        params["status"] = status
    if ms is not None:
        params["ms"] = round(ms)
    return params


def of_last_result(check) -> str:
    """The check's last result in words ("" before its first run)."""
    result = check.last_result or {}
    if not result:
        return ""
    params = result.get("params")
    if params is None:  # recorded before parameters were kept
        status = (result.get("data") or {}).get("status_code")
        params = _now_params(check, result.get("duration_ms"), status)
    return sentence(check.kind, bool(result.get("ok")), result.get("error_code") or "", params)
