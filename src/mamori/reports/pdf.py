"""A monthly report as a PDF (RPT-01): A4, Noto Sans CJK JP (embedded as subsets), the
availability charts as vector graphics (inline SVG), the page number at the foot.

The one template (``reports/_document.html``, also the page's body) is filled in the
document's language and laid out by WeasyPrint with ``mamori/monthly-report.css`` and the page
rules below. A released version never changes, so rendering it again gives the same words.
"""

from __future__ import annotations

import logging

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation

from mamori.reports import render as present
from mamori.reports.models import Report

logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

PAGE_CSS = """
@page {
  size: A4;
  margin: 16mm 15mm 18mm;
  @bottom-right {
    content: counter(page) " / " counter(pages);
    font-family: "Noto Sans CJK JP", sans-serif; font-size: 8pt; color: #57606a;
  }
  @bottom-left {
    content: string(reportname);
    font-family: "Noto Sans CJK JP", sans-serif; font-size: 8pt; color: #57606a;
  }
}
html, body { margin: 0; padding: 0; }
.mreport h1 { string-set: reportname content(); }
.mreport .mr-table thead { display: table-header-group; }
.mreport .table-wrap { overflow: visible; }
"""


def filename(report: Report, language: str) -> str:
    """``report-acme-2026-11-v1_ja.pdf``."""
    code = "".join(c if c.isalnum() or c in "-_" else "_" for c in report.client.code)
    lang = present.language_of(language)
    return f"report-{code}-{report.month:%Y-%m}-v{report.version}_{lang}.pdf"


def render(report: Report, language: str) -> bytes:
    """The PDF of ``report`` in ``language`` ("ja" or "en")."""
    from weasyprint import CSS, HTML  # heavy: loaded when a PDF is made

    doc = present.document(report, language)
    with translation.override(doc.language):
        html = render_to_string("reports/pdf.html", {"doc": doc})
    stylesheet = finders.find("mamori/monthly-report.css")
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=stylesheet), CSS(string=PAGE_CSS)])
