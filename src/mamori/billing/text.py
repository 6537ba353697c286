"""An invoice line's words, in Japanese or English (BIL-02).

A line stores what it is as a code and parameters (:attr:`InvoiceLine.kind` and
:attr:`InvoiceLine.params`), never a sentence, so one issued invoice reads in either language:

- fee lines: ``{"fee_kind": "monthly", "contract_type": "site_maintenance", "month": "2026-11"}``
  (annual fees: ``"start"``/``"end"`` of the contract year; initial and other fees: no period);
- charge lines: ``{"source": "ca_fee", "names": ["www.example.jp"]}``,
  ``{"source": "emergency", "minutes": 90, "date": "2026-11-03"}``,
  ``{"source": "estimate", "estimate": "EST-2026-0001", "text": "…"}`` (the line's own words and
  the estimate's number), other sources by their label;
- SLA credit lines: ``{"month": "2026-10", "policy": "Main site", "percent": "10.00"}``;
- correction lines (credit notes): ``{"number": "INV-2026-0007"}``.

An operator's own description (a fee's or charge's ``description``, copied to the line's
``description``) wins over the generated words: it is what the contract or the order calls it.
"""

from __future__ import annotations

from datetime import date

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from mamori.clients.models import ContractType
from mamori.core.money import format_money

EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _month(value: str, language: str) -> str:
    """``2026-11`` as ``2026年11月`` or ``November 2026``."""
    try:
        year, month = (int(part) for part in str(value).split("-")[:2])
    except ValueError:
        return str(value)
    if language == "ja":
        return f"{year}年{month}月"
    return f"{EN_MONTHS[month - 1]} {year}"


def _day(value: str, language: str) -> str:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if language == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {EN_MONTHS[day.month - 1]} {day.year}"


def _gap(words: str) -> str:
    """Japanese needs no space after a closing bracket, but one between two words."""
    return "" if words.endswith("）") else " "


def _fee_kind_label(kind: str) -> str:
    return {
        "initial": _("Initial fee"),
        "monthly": _("Monthly fee"),
        "annual": _("Annual fee"),
        "other": _("Other fee"),
    }.get(kind, kind)


def _contract_label(contract_type: str) -> str:
    try:
        return str(ContractType(contract_type).label)
    except ValueError:
        return contract_type


def _words(kind: str, params: dict, language: str) -> str:
    ja = language == "ja"
    open_, close = ("（", "）") if ja else (" (", ")")
    if kind == "fee":
        words = _fee_kind_label(params.get("fee_kind", ""))
        if params.get("contract_type"):
            words += f"{open_}{_contract_label(params['contract_type'])}{close}"
        if params.get("month"):
            month = _month(params["month"], language)
            words += f"{_gap(words)}{month}分" if ja else f", {month}"
        elif params.get("start") and params.get("end"):
            start, end = _day(params["start"], language), _day(params["end"], language)
            words += f"{_gap(words)}{start}〜{end}" if ja else f", {start} to {end}"
        return words
    if kind == "charge":
        source = params.get("source", "")
        if source == "ca_fee":
            words = _("CA fee")
            names = params.get("names") or []
            if names:
                shown = ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
                words += f"{open_}{shown}{close}"
            return words
        if source == "emergency":
            words = _("Emergency measure")
            detail = []
            if params.get("date"):
                detail.append(_day(params["date"], language))
            if params.get("minutes") is not None:
                detail.append(f"{params['minutes']}分" if ja else f"{params['minutes']} min")
            if detail:
                words += open_ + ("、" if ja else ", ").join(detail) + close
            return words
        if source == "estimate" and params.get("estimate"):
            words = str(params.get("text") or _("Accepted estimate"))
            reference = f"見積書 {params['estimate']}" if ja else f"estimate {params['estimate']}"
            return words + open_ + reference + close
        if source == "interest" and params.get("invoice"):
            words = _("Late-payment interest")
            detail = [str(params["invoice"])]
            if params.get("until"):
                until = _day(params["until"], language)
                detail.append(f"{until}まで" if ja else f"to {until}")
            return words + open_ + ("、" if ja else ", ").join(detail) + close
        if source == "surcharge" and params.get("evaded"):
            words = _("Fee-evasion surcharge")
            evaded = format_money(params["evaded"], "JPY", language)
            twice = f"{evaded}の2倍" if ja else f"twice {evaded}"
            reason = str(params.get("reason") or "")
            return (
                words + open_ + twice + (("：" if ja else ": ") + reason if reason else "") + close
            )
        labels = {
            "work": _("Extra work"),
            "interest": _("Late-payment interest"),
            "surcharge": _("Fee-evasion surcharge"),
            "manual": _("Other"),
        }
        return labels.get(source, source)
    if kind == "sla_credit":
        words = pgettext("invoice line", "SLA credit")
        if params.get("policy"):
            words += f"{open_}{params['policy']}{close}"
        if params.get("month"):
            month = _month(params["month"], language)
            words += f"{_gap(words)}{month}分" if ja else f", {month}"
        return words
    if kind == "correction":
        number = params.get("number", "")
        if params.get("of_kind"):
            words = _words(params["of_kind"], params.get("of") or {}, language)
            return (
                f"訂正：{words}（請求書 {number}）"
                if ja
                else f"Correction: {words} (invoice {number})"
            )
        return (f"請求書 {number} の訂正" if ja else f"Correction of invoice {number}").strip()
    return params.get("text", "") or kind


def describe(kind: str, params: dict | None, language: str = "ja", description: str = "") -> str:
    """The words of a line of ``kind`` with ``params`` in ``language`` (``ja`` or ``en``);
    ``description`` (the operator's own words) wins when given."""
    if description:
        return description
    language = (language or "ja")[:2]
    with translation.override(language):
        return _words(kind, params or {}, language)


def line_text(line, language: str | None = None) -> str:
    """The words of an :class:`~mamori.billing.models.InvoiceLine` in ``language`` (default: the
    invoice's own language)."""
    if language is None:
        language = line.invoice.language
    return describe(line.kind, line.params, language, line.description)
