"""Tenancy cases for the invoice pages (see tests/web/tenancy.py): acme's client administrator
and the provider's administrators and operators read acme's invoices; acme's viewer and the
subcontractor assigned to it see acme but not its money (403); outsiders get 404."""

from mamori.billing.models import Invoice
from mamori.clients.models import Client
from tests.billing.documents import make_invoices
from tests.web.tenancy import LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

INVOICE_READERS = frozenset({"owner", "operator", "provider_admin"})


def acme_invoice(s) -> dict:
    """acme's May invoice (made once per scene, with globex's)."""
    invoice = Invoice.objects.filter(number="INV-2026-0005").first()
    if invoice is None:
        acme, globex = Client.objects.get(code="acme"), Client.objects.get(code="globex")
        invoice = make_invoices(acme, globex).acme
    return {"pk": invoice.pk}


CASES: dict[str, Case] = {
    "invoice_list": Case(LIST, readers=INVOICE_READERS),
    "invoice_detail": Case(PAGE, acme_invoice, readers=INVOICE_READERS),
    # A PDF: its text is not searched for acme's markers (tests/billing reads it).
    "invoice_pdf": Case(
        PAGE,
        lambda s: {**acme_invoice(s), "language": "ja"},
        readers=INVOICE_READERS,
        shows_acme=False,
    ),
}
