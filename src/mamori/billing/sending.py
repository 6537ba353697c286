"""Sending an issued invoice to the client (BIL-03): once, by e-mail, with its PDF.

:func:`queue_invoice` puts one notice per contact who receives the ``billing`` topic in the
outbox (mamori.notices), each written in the contact's language with the invoice's PDF in that
language attached; the outbox sends it with its retries and keeps the record. The idempotency
key is the invoice's number and the recipient, so calling it again (a re-run of the month, a
retry, a second worker) sends nothing more. The invoice run calls it for each invoice it
issues; a credit note is sent the same way.

The PDF is made when the mail is sent, not stored in the outbox: an issued invoice never
changes, so it is the same document. A contact's chat channel with the ``billing`` topic gets
the same words without the file, and the address of the invoice in the portal, where the
client's administrators download it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from mamori.billing import pdf
from mamori.billing.models import Invoice
from mamori.clients.models import NoticeTopic
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind

#: The kind of attachment (``Notice.attachments``) that is an invoice's PDF.
ATTACHMENT_KIND = "invoice_pdf"


def event_key(invoice: Invoice) -> str:
    return f"invoice-issued:{invoice.number}"


def queue_invoice(invoice: Invoice) -> notices.EnqueueResult:
    """Queue the e-mails of ``invoice`` to its client's billing contacts (once per contact)."""
    recipients = notices.contact_recipients(invoice.client, NoticeTopic.BILLING)
    context: dict[str, Any] = {
        "invoice": invoice,
        "client": invoice.client,
        "url": settings.BASE_URL + reverse("invoice_detail", args=[invoice.pk]),
        "credit_note": invoice.kind == "credit_note",
    }
    return notices.enqueue(
        NoticeKind.INVOICE_ISSUED,
        event_key(invoice),
        recipients,
        context,
        client=invoice.client,
        attachments=[{"kind": ATTACHMENT_KIND, "invoice": invoice.pk}],
    )


def invoice_pdf_attachment(entry: dict[str, Any], notice: Notice) -> tuple[str, bytes, str]:
    """The PDF of the invoice named in ``entry``, in the notice's language."""
    invoice = Invoice.objects.select_related("client", "corrects").get(pk=entry["invoice"])
    language = notice.language
    return pdf.filename(invoice, language), pdf.render(invoice, language), "application/pdf"


def register() -> None:
    notices.register_attachment(ATTACHMENT_KIND, invoice_pdf_attachment)
