"""Invoice pages for operators and the client portal (BIL-02, BIL-03).

Who reads invoices (:func:`mamori.billing.models.reads_invoices`): the provider's administrators
and operators (every client), and a client's administrators (their own client's invoices only,
through ``Invoice.objects.visible_to``). A client's viewers and the provider's subcontractors
see the client's work but not its money: the pages refuse them (403) where they see the client,
and answer 404 where they do not, as for anyone outside the client.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.billing import document, pdf
from mamori.billing.models import Invoice, Payment, reads_invoices
from mamori.billing.payment_views import payment_context, readable_invoice
from mamori.clients.models import Client
from mamori.core.filters import ALL, with_all
from mamori.core.htmx import wants_partial

PAGE_SIZE = 50
LANGUAGES = ("ja", "en")


class InvoiceFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        label=_("Client"), queryset=Client.objects.none(), to_field_name="code", required=False
    )
    month = forms.DateField(
        label=_("Billing month"),
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )
    payment = forms.ChoiceField(label=pgettext_lazy("invoice state", "Payment"), required=False)

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.visible_to(user)
        self.fields["client"].empty_label = ALL
        self.fields["payment"].choices = with_all(document.PaymentState.choices())


def _require_reader(request: HttpRequest) -> None:
    if not reads_invoices(request.user):
        raise PermissionDenied


def _invoice(request: HttpRequest, pk: int) -> Invoice:
    """The invoice ``pk`` if the user reads it (:func:`payment_views.readable_invoice`)."""
    queryset = document.with_paid(Invoice.objects.all()).select_related("corrects")
    return readable_invoice(request, queryset, pk=pk)


def _language(value: str | None) -> str:
    """The document language asked for (``?lang=``), else the reader's."""
    if value in LANGUAGES:
        return value
    return document.build_language(translation.get_language())


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    user = request.user
    form = InvoiceFilterForm(request.GET or None, user=user)
    invoices = document.with_paid(Invoice.objects.visible_to(user)).select_related("client")
    if form.is_valid():
        data = form.cleaned_data
        if data["client"]:
            invoices = invoices.filter(client=data["client"])
        if data["month"]:
            invoices = invoices.filter(month=data["month"].replace(day=1))
        if data["payment"]:
            invoices = document.filter_by_state(invoices, data["payment"])
    page = Paginator(invoices.order_by("-issue_date", "-number"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    today = dt.date.today()
    for invoice in page.object_list:
        invoice.state = document.payment_state(invoice, today)
        invoice.state_label = document.PaymentState.label(invoice.state)
    template = "billing/_list_results.html" if wants_partial(request) else "billing/list.html"
    return render(request, template, {"form": form, "page": page})


@login_required
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    language = _language(request.GET.get("lang"))
    state = document.payment_state(invoice)
    context = {
        "invoice": invoice,
        "doc": document.build(invoice, language),
        "doc_language": language,
        "state": state,
        "state_label": document.PaymentState.label(state),
        "payments": Payment.objects.visible_to(request.user).filter(invoice=invoice),
        "credit_notes": Invoice.objects.visible_to(request.user).filter(corrects=invoice),
        "languages": LANGUAGES,
        # Recording a payment (staff), from the payments' own module.
        **payment_context(invoice, request.user),
    }
    return render(request, "billing/detail.html", context)


@login_required
def invoice_pdf(request: HttpRequest, pk: int, language: str) -> HttpResponse:
    invoice = _invoice(request, pk)
    if language not in LANGUAGES:
        raise Http404
    response = HttpResponse(pdf.render(invoice, language), content_type="application/pdf")
    name = pdf.filename(invoice, language)
    disposition = "inline" if request.GET.get("view") else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return response
