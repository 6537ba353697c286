"""An issued invoice as a reader sees it, in one language (BIL-02, BIL-03).

:func:`build` turns an :class:`~mamori.billing.models.Invoice` (its frozen issuer and recipient,
its lines and its totals per tax rate) into plain values for the one document template
(``billing/_document.html``), which the PDF (:mod:`mamori.billing.pdf`) and the invoice page both
show. Nothing here writes: an issued invoice never changes, so the same invoice reads the same
every time, in Japanese or English.

:func:`payment_state` tells whether an invoice is paid, unpaid or overdue from its recorded
payments (the lists and the portal show it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Abs, Coalesce
from django.utils import timezone, translation
from django.utils.translation import pgettext

from mamori.billing.models import (
    REDUCED_RATES,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    Payment,
)
from mamori.billing.text import line_text
from mamori.core.money import format_money


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return Decimal(0)


def number(value: Any) -> str:
    """An amount or quantity as written on an invoice: 12,000 / -3,000 / 1.5."""
    value = _decimal(value)
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value.normalize():,f}"


def yen(value: Any, currency: str = "JPY") -> str:
    """The amount with its sign (¥132,000) in both languages: the form of the amount due."""
    return format_money(_decimal(value), currency, "en")


def long_date(day: dt.date | None, language: str) -> str:
    """2026年5月31日 in Japanese, 31 May 2026 in English."""
    if day is None:
        return "—"
    if language == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day:%B} {day.year}"


def month_label(day: dt.date | None, language: str) -> str:
    if day is None:
        return ""
    if language == "ja":
        return f"{day.year}年{day.month}月"
    return f"{day:%B} {day.year}"


def rate_label(rate: int, language: str) -> str:
    """The heading of a rate's totals: 10%対象 / 8%対象 / 対象外 (and in English)."""
    with translation.override(language):
        if rate == 0:
            return pgettext("invoice", "Not taxable")
        return pgettext("invoice", "Subject to %(rate)s%%") % {"rate": rate}


# TODO(lead): the line's words come from billing.text (helper `invoices`) once it is on main;
# this fallback reads the line's own description, else the code and parameters it knows.
def line_words(line: InvoiceLine, language: str) -> str:
    """What a line is, in ``language`` (:func:`mamori.billing.text.line_text`)."""
    return line_text(line, language)


@dataclass
class Line:
    position: int
    words: str
    period: str
    quantity: str
    unit_price: str
    amount: str
    rate: int
    reduced: bool
    negative: bool


@dataclass
class RateTotal:
    rate: int
    label: str
    reduced: bool
    net: str
    tax: str


@dataclass
class Document:
    """Everything the document template prints, already in the reader's language."""

    invoice: Invoice
    language: str
    credit_note: bool
    title: str
    number: str
    issue_date: str
    due_date: str
    month: str
    recipient_name: str
    recipient_lines: list[str]
    issuer_name: str
    issuer_lines: list[str]
    registration_number: str
    bank_lines: list[str]
    amount_due: str
    net_total: str
    tax_total: str
    total: str
    lines: list[Line] = field(default_factory=list)
    rate_totals: list[RateTotal] = field(default_factory=list)
    any_reduced: bool = False
    corrects_number: str = ""
    corrects_date: str = ""
    note: str = ""


def _period(line: InvoiceLine, language: str) -> str:
    start, end = line.period_start, line.period_end
    if not start:
        return ""
    if not end or end == start:
        return long_date(start, language)
    return f"{long_date(start, language)} – {long_date(end, language)}"


def _lines_of(text: Any) -> list[str]:
    return [part.strip() for part in str(text or "").splitlines() if part.strip()]


def _address(party: dict, language: str) -> list[str]:
    """A party's postal code (〒 in Japanese) and address, one entry per printed line."""
    postal = str(party.get("postal_code") or "")
    lines = [f"〒{postal}" if language == "ja" else postal] if postal else []
    return lines + _lines_of(party.get("address"))


def build_language(language: str | None) -> str:
    """The document's language: English if asked for, else Japanese (the invoice's own)."""
    return "en" if str(language or "")[:2] == "en" else "ja"


def build(invoice: Invoice, language: str) -> Document:
    """The document of ``invoice`` in ``language`` ("ja" or "en")."""
    language = build_language(language)
    issuer = invoice.issuer if isinstance(invoice.issuer, dict) else {}
    recipient = invoice.recipient if isinstance(invoice.recipient, dict) else {}
    credit_note = invoice.kind == InvoiceKind.CREDIT_NOTE
    with translation.override(language):
        title = (
            pgettext("invoice", "Credit note (correction)")
            if credit_note
            else pgettext("invoice", "Invoice")
        )
        recipient_name = str(recipient.get("name") or invoice.client.name)
        recipient_lines = _address(recipient, language)
        issuer_lines = _address(issuer, language)
        if issuer.get("phone"):
            issuer_lines.append(f"{pgettext('invoice', 'Tel.')} {issuer['phone']}")
        if issuer.get("email"):
            issuer_lines.append(str(issuer["email"]))
        lines = []
        any_reduced = False
        for line in invoice.lines.all():
            reduced = line.tax_rate in REDUCED_RATES
            any_reduced |= reduced
            lines.append(
                Line(
                    position=line.position,
                    words=line_words(line, language),
                    period=_period(line, language),
                    quantity=number(line.quantity),
                    unit_price=number(line.unit_price),
                    amount=number(line.amount),
                    rate=line.tax_rate,
                    reduced=reduced,
                    negative=_decimal(line.amount) < 0,
                )
            )
        rate_totals = []
        for entry in invoice.totals if isinstance(invoice.totals, list) else []:
            if not isinstance(entry, dict):
                continue
            rate = int(_decimal(entry.get("rate")))
            reduced = bool(entry.get("reduced", rate in REDUCED_RATES))
            any_reduced |= reduced
            rate_totals.append(
                RateTotal(
                    rate=rate,
                    label=rate_label(rate, language),
                    reduced=reduced,
                    net=number(entry.get("net")),
                    tax=number(entry.get("tax")),
                )
            )
        rate_totals.sort(key=lambda r: -r.rate)
        corrects = invoice.corrects
        return Document(
            invoice=invoice,
            language=language,
            credit_note=credit_note,
            title=title,
            number=invoice.number,
            issue_date=long_date(invoice.issue_date, language),
            due_date=long_date(invoice.due_date, language),
            month=month_label(invoice.month, language),
            recipient_name=recipient_name,
            recipient_lines=recipient_lines,
            issuer_name=str(issuer.get("name") or ""),
            issuer_lines=issuer_lines,
            registration_number=str(issuer.get("registration_number") or ""),
            bank_lines=_lines_of(issuer.get("bank_account")),
            amount_due=yen(invoice.total, invoice.currency),
            net_total=number(invoice.net_total),
            tax_total=number(invoice.tax_total),
            total=number(invoice.total),
            lines=lines,
            rate_totals=rate_totals,
            any_reduced=any_reduced,
            corrects_number=corrects.number if corrects else "",
            corrects_date=long_date(corrects.issue_date, language) if corrects else "",
            note=invoice.note,
        )


# -- Payment state -------------------------------------------------------------------------


class PaymentState:
    PAID = "paid"
    UNPAID = "unpaid"
    OVERDUE = "overdue"
    CREDIT = "credit"

    @staticmethod
    def label(state: str) -> str:
        return {
            PaymentState.PAID: pgettext("invoice state", "Paid"),
            PaymentState.UNPAID: pgettext("invoice state", "Unpaid"),
            PaymentState.OVERDUE: pgettext("invoice state", "Overdue"),
            PaymentState.CREDIT: pgettext("invoice state", "Credit note"),
        }.get(state, state)

    @staticmethod
    def choices() -> list[tuple[str, str]]:
        return [
            (s, PaymentState.label(s))
            for s in (PaymentState.UNPAID, PaymentState.OVERDUE, PaymentState.PAID)
        ]


def with_paid(invoices):
    """``invoices`` annotated with ``paid`` (the payments recorded against each) and
    ``owed`` (its total less its credit notes and payments: :func:`payments.balance` in SQL)."""
    paid = (
        Payment.objects.filter(invoice=OuterRef("pk"))
        .values("invoice")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    credited = (
        Invoice.objects.filter(corrects=OuterRef("pk"))
        .values("corrects")
        .annotate(s=Sum(Abs("total")))
        .values("s")
    )
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=0))
    return invoices.annotate(
        paid=Coalesce(Subquery(paid), zero),
        credited=Coalesce(Subquery(credited), zero),
    ).annotate(owed=F("total") - F("credited") - F("paid"))


def payment_state(invoice: Invoice, today: dt.date | None = None) -> str:
    """Paid, unpaid or overdue (a credit note owes nothing): what is owed after credit notes
    and payments (``owed`` from :func:`with_paid` if annotated, else
    :func:`mamori.billing.payments.balance`), against the due date."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE or invoice.total <= 0:
        return PaymentState.CREDIT
    owed = getattr(invoice, "owed", None)
    if owed is None:
        from mamori.billing.payments import balance

        owed = balance(invoice)
    if owed <= 0:
        return PaymentState.PAID
    today = today or timezone.localdate()
    return PaymentState.OVERDUE if invoice.due_date < today else PaymentState.UNPAID


def filter_by_state(invoices, state: str, today: dt.date | None = None):
    """Invoices (annotated by :func:`with_paid`) in payment ``state``."""
    today = today or timezone.localdate()
    owing = invoices.filter(kind=InvoiceKind.INVOICE, total__gt=0)
    if state == PaymentState.PAID:
        return owing.filter(owed__lte=0)
    if state == PaymentState.UNPAID:
        return owing.filter(owed__gt=0, due_date__gte=today)
    if state == PaymentState.OVERDUE:
        return owing.filter(owed__gt=0, due_date__lt=today)
    return invoices
