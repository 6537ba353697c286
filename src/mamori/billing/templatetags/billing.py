"""The client page's "Invoices" section (BIL-02): the client's latest invoices with their payment
state, for those who read invoices (:func:`mamori.billing.models.reads_invoices`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django import template

from mamori.billing import document
from mamori.billing.models import Invoice, reads_invoices

register = template.Library()

#: How many of a client's invoices its page lists (the invoices list has them all).
LIMIT = 12


@dataclass
class ClientInvoices:
    shown: bool = False
    invoices: list[Invoice] = field(default_factory=list)
    total: int = 0


@register.simple_tag
def client_invoices(user, client) -> ClientInvoices:
    if not reads_invoices(user):
        return ClientInvoices()
    qs = document.with_paid(Invoice.objects.visible_to(user).filter(client=client)).order_by(
        "-issue_date", "-number"
    )
    invoices = list(qs.select_related("client")[:LIMIT])
    for invoice in invoices:
        invoice.state = document.payment_state(invoice)
        invoice.state_label = document.PaymentState.label(invoice.state)
    return ClientInvoices(True, invoices, qs.count() if len(invoices) == LIMIT else len(invoices))
