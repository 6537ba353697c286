"""An invoice as a PDF (BIL-03): A4, Noto Sans CJK JP, laid out as Japanese business invoices are.

:func:`render` fills the one document template (``billing/_document.html``, also shown on the
invoice page) in the document's language and lets WeasyPrint lay it out with the same
stylesheet (``mamori/invoice.css``) plus the page rules below. The fonts are the system's Noto
CJK (Debian ``fonts-noto-cjk``), embedded in the PDF as subsets, so the file reads the same on
any computer. An issued invoice never changes, so rendering it again gives the same document.
"""

from __future__ import annotations

import logging

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation

from mamori.billing import document
from mamori.billing.models import Invoice

# WeasyPrint tells every step of every document at INFO; the log keeps its warnings only.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

#: The page: A4 portrait, the number and page count at the foot.
PAGE_CSS = """
@page {
  size: A4;
  margin: 16mm 15mm 18mm;
  @bottom-right {
    content: counter(page) " / " counter(pages);
    font-family: "Noto Sans CJK JP", sans-serif; font-size: 8pt; color: #57606a;
  }
  @bottom-left {
    content: string(docnumber);
    font-family: "Noto Sans CJK JP", sans-serif; font-size: 8pt; color: #57606a;
  }
}
html, body { margin: 0; padding: 0; }
.inv-meta .num { string-set: docnumber content(); }
.inv-lines thead { display: table-header-group; }
"""


def filename(invoice: Invoice, language: str) -> str:
    """The file name a download or an attachment carries: INV-2026-0001_ja.pdf."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in invoice.number)
    return f"{safe}_{document.build_language(language)}.pdf"


def render(invoice: Invoice, language: str) -> bytes:
    """The PDF of ``invoice`` in ``language`` ("ja" or "en")."""
    from weasyprint import CSS, HTML  # heavy: loaded when a PDF is made

    doc = document.build(invoice, language)
    with translation.override(doc.language):
        html = render_to_string("billing/pdf.html", {"doc": doc})
    stylesheet = finders.find("mamori/invoice.css")
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=stylesheet), CSS(string=PAGE_CSS)])
