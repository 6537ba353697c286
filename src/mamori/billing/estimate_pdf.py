"""An estimate (見積書) as a reader sees it, and as a PDF: A4, Noto Sans CJK JP, laid out as a
Japanese business estimate (御見積書: the recipient 御中, the issuer with its registration number,
the number, date and validity, the subject, the lines, net and tax per rate, the total, notes).

:func:`build` turns an :class:`~mamori.billing.models.Estimate` into plain values in one language
for the one document template (``billing/estimates/_document.html``), which the estimate page and
the PDF both show; :func:`render` lets WeasyPrint lay it out with the invoices' stylesheet
(``mamori/invoice.css``) and the page rules of :mod:`mamori.billing.pdf`. A draft reads the
issuer and recipient of today (and says DRAFT); an issued estimate its frozen particulars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import pgettext

from mamori.billing import document
from mamori.billing.document import _address, _decimal, long_date, number, rate_label, yen
from mamori.billing.models import REDUCED_RATES, Estimate, EstimateState, IssuerProfile


@dataclass
class Line:
    position: int
    words: str
    quantity: str
    unit: str
    unit_price: str
    amount: str
    rate: int
    reduced: bool
    tax_included: bool


@dataclass
class RateTotal:
    rate: int
    label: str
    reduced: bool
    net: str
    tax: str


@dataclass
class Document:
    estimate: Estimate
    language: str
    draft: bool
    title: str
    number: str
    issue_date: str
    valid_until: str
    subject: str
    recipient_name: str
    recipient_lines: list[str]
    issuer_name: str
    issuer_lines: list[str]
    registration_number: str
    amount: str
    net_total: str
    tax_total: str
    total: str
    notes: str
    lines: list[Line] = field(default_factory=list)
    rate_totals: list[RateTotal] = field(default_factory=list)
    any_reduced: bool = False
    any_included: bool = False


def _particulars(estimate: Estimate) -> tuple[dict, dict]:
    if estimate.issued_at and estimate.issuer:
        return estimate.issuer, estimate.recipient or {}
    from mamori.billing.run import issuer_particulars, recipient_particulars

    profile = IssuerProfile.objects.filter(pk=1).first() or IssuerProfile()
    return issuer_particulars(profile), recipient_particulars(estimate.client)


def build(estimate: Estimate, language: str) -> Document:
    """The document of ``estimate`` in ``language`` ("ja" or "en")."""
    language = document.build_language(language)
    issuer, recipient = _particulars(estimate)
    with translation.override(language):
        issuer_lines = _address(issuer, language)
        if issuer.get("phone"):
            issuer_lines.append(f"{pgettext('invoice', 'Tel.')} {issuer['phone']}")
        if issuer.get("email"):
            issuer_lines.append(str(issuer["email"]))
        lines, any_reduced, any_included = [], False, False
        for line in estimate.lines.all():
            reduced = line.tax_rate in REDUCED_RATES
            any_reduced |= reduced
            any_included |= line.tax_included
            lines.append(
                Line(
                    position=line.position,
                    words=line.description,
                    quantity=number(line.quantity),
                    unit=line.unit,
                    unit_price=number(line.unit_price),
                    amount=number(line.amount),
                    rate=line.tax_rate,
                    reduced=reduced,
                    tax_included=line.tax_included,
                )
            )
        rate_totals = []
        for entry in estimate.totals if isinstance(estimate.totals, list) else []:
            if not isinstance(entry, dict):
                continue
            rate = int(_decimal(entry.get("rate")))
            rate_totals.append(
                RateTotal(
                    rate=rate,
                    label=rate_label(rate, language),
                    reduced=rate in REDUCED_RATES,
                    net=number(entry.get("net")),
                    tax=number(entry.get("tax")),
                )
            )
        rate_totals.sort(key=lambda r: -r.rate)
        return Document(
            estimate=estimate,
            language=language,
            draft=estimate.state == EstimateState.DRAFT,
            title=pgettext("estimate document", "Estimate"),
            number=estimate.number or "—",
            issue_date=long_date(estimate.issue_date, language),
            valid_until=long_date(estimate.valid_until, language),
            subject=estimate.title,
            recipient_name=str(recipient.get("name") or estimate.client.name),
            recipient_lines=_address(recipient, language),
            issuer_name=str(issuer.get("name") or ""),
            issuer_lines=issuer_lines,
            registration_number=str(issuer.get("registration_number") or ""),
            amount=yen(estimate.total, estimate.currency),
            net_total=number(estimate.net_total),
            tax_total=number(estimate.tax_total),
            total=number(estimate.total),
            notes=estimate.notes,
            lines=lines,
            rate_totals=rate_totals,
            any_reduced=any_reduced,
            any_included=any_included,
        )


def filename(estimate: Estimate, language: str) -> str:
    """The file name of a download or an attachment: EST-2026-0001_ja.pdf."""
    name = estimate.number or f"estimate-draft-{estimate.pk}"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return f"{safe}_{document.build_language(language)}.pdf"


def render(estimate: Estimate, language: str) -> bytes:
    """The PDF of ``estimate`` in ``language`` ("ja" or "en")."""
    from weasyprint import CSS, HTML  # heavy: loaded when a PDF is made

    from mamori.billing.pdf import PAGE_CSS

    doc = build(estimate, language)
    with translation.override(doc.language):
        html = render_to_string("billing/estimates/pdf.html", {"doc": doc})
    stylesheet = finders.find("mamori/invoice.css")
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=stylesheet), CSS(string=PAGE_CSS)])
