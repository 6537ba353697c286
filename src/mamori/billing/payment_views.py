"""Pages of this part of billing: the issuer's particulars, a contract's fees, changes and
liability cap, an invoice's payments (with the form the invoice page includes), late-payment
interest and the fee-evasion surcharge. Every write goes through its service."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.billing import changes, fees, issuer, liability, payments
from mamori.billing.models import (
    ChangeState,
    Charge,
    ContractChange,
    Fee,
    Invoice,
    InvoiceKind,
    Payment,
    reads_invoices,
)
from mamori.billing.payment_forms import (
    ChangeForm,
    DecisionForm,
    FeeForm,
    InterestForm,
    IssuerForm,
    PaymentForm,
    SurchargeForm,
)
from mamori.clients.models import Client, Contract
from mamori.core.money import format_money
from mamori.core.permissions import Rule, may_change, sees_client
from mamori.inventory.services import Refused


def today() -> dt.date:
    return timezone.localdate()


# --- the provider's particulars ------------------------------------------------------------------


@login_required
def issuer_settings(request: HttpRequest) -> HttpResponse:
    if not issuer.may_change_issuer(request.user):
        raise PermissionDenied
    profile = issuer.issuer()
    form = IssuerForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        try:
            changed = issuer.change_issuer(request.user, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(
                request,
                _("The invoice issuer was saved.") if changed else _("Nothing was changed."),
            )
            return redirect("issuer_settings")
    return render(request, "billing/issuer.html", {"form": form})


# --- a contract's fees, changes and liability cap ------------------------------------------------


def _contract(request: HttpRequest, pk: int, *, write: bool = False) -> Contract:
    contract = get_object_or_404(
        Contract.objects.visible_to(request.user).select_related("client"), pk=pk
    )
    if write and not may_change(request.user, contract.client, Rule.STAFF):
        raise PermissionDenied
    return contract


def liability_context(contract: Contract, on: dt.date | None = None) -> dict:
    """What ``billing/_liability_cap.html`` shows: ``{"cap": Cap}`` on ``on`` (default today)."""
    return {"cap": liability.liability_cap(contract, on or today())}


@login_required
def contract_billing(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    on = today()
    if request.GET.get("on"):
        try:
            on = dt.date.fromisoformat(request.GET["on"])
        except ValueError:
            messages.error(request, _("Give the day as YYYY-MM-DD."))
    in_force = {f.pk for f in fees.fees_in_force(contract, on)}
    fee_list = list(Fee.objects.visible_to(request.user).filter(contract=contract))
    for fee in fee_list:
        fee.in_force = fee.pk in in_force
    context = {
        "contract": contract,
        "client": contract.client,
        "fees": fee_list,
        "changes": ContractChange.objects.visible_to(request.user).filter(contract=contract),
        "may_change": may_change(request.user, contract.client, Rule.STAFF),
        "on": on,
        **liability_context(contract, on),
    }
    return render(request, "billing/contract.html", context)


def _back_to(contract: Contract) -> str:
    return reverse("contract_billing", args=[contract.pk])


@login_required
def fee_add(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk, write=True)
    form = FeeForm(request.POST or None, client=contract.client)
    if request.method == "POST" and form.is_valid():
        try:
            fees.create_fee(request.user, contract, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(request, _("The fee was added."))
            return redirect(_back_to(contract))
    return render(
        request, "billing/fee_form.html", {"form": form, "contract": contract, "fee": None}
    )


def _fee(request: HttpRequest, pk: int) -> Fee:
    fee = get_object_or_404(
        Fee.objects.visible_to(request.user).select_related("contract__client"), pk=pk
    )
    if not may_change(request.user, fee):
        raise PermissionDenied
    return fee


@login_required
def fee_edit(request: HttpRequest, pk: int) -> HttpResponse:
    fee = _fee(request, pk)
    contract = fee.contract
    form = FeeForm(request.POST or None, client=contract.client, instance=fee)
    if request.method == "POST" and form.is_valid():
        try:
            changed = fees.change_fee(request.user, fee, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(
                request, _("The fee was saved.") if changed else _("Nothing was changed.")
            )
            return redirect(_back_to(contract))
    return render(
        request, "billing/fee_form.html", {"form": form, "contract": contract, "fee": fee}
    )


@login_required
def fee_delete(request: HttpRequest, pk: int) -> HttpResponse:
    fee = _fee(request, pk)
    contract = fee.contract
    problem = ""
    if request.method == "POST":
        try:
            fees.delete_fee(request.user, fee, request=request)
        except Refused as e:
            problem = e.message
        else:
            messages.success(request, _("The fee was deleted."))
            return redirect(_back_to(contract))
    return render(
        request,
        "billing/fee_delete.html",
        {"fee": fee, "contract": contract, "problem": problem},
        status=409 if problem else 200,
    )


@login_required
def change_add(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk, write=True)
    form = ChangeForm(request.POST or None, request.FILES or None, contract=contract)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("document")
        documents = []
        if upload:
            documents.append(
                changes.Document(upload.name, upload.read(), form.cleaned_data["personal"])
            )
        try:
            change = changes.record_change(
                request.user,
                contract,
                kind=form.cleaned_data["kind"],
                received_on=form.cleaned_data["received_on"],
                summary=form.cleaned_data["summary"],
                fee_changes=form.fee_changes(),
                documents=documents,
                request=request,
            )
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(request, _("Recorded; it takes effect once accepted."))
            return redirect("change_detail", pk=change.pk)
    return render(request, "billing/change_form.html", {"form": form, "contract": contract})


def _change(request: HttpRequest, pk: int) -> ContractChange:
    return get_object_or_404(
        ContractChange.objects.visible_to(request.user).select_related("contract__client"),
        pk=pk,
    )


@login_required
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    change = _change(request, pk)
    contract = change.contract
    fees_by_id = {f.pk: f for f in contract.fees.all()}
    rows = [{**entry, "old": fees_by_id.get(entry["fee"])} for entry in change.fee_changes]
    writable = may_change(request.user, change)
    return render(
        request,
        "billing/change_detail.html",
        {
            "change": change,
            "contract": contract,
            "rows": rows,
            "documents": change.documents.all() if writable else [],
            "new_fees": change.fees.all(),
            "may_decide": writable and change.state == ChangeState.PROPOSED,
            "form": DecisionForm(initial={"decided_on": today()}),
        },
    )


@login_required
@require_POST
def change_decide(request: HttpRequest, pk: int) -> HttpResponse:
    change = _change(request, pk)
    if not may_change(request.user, change):
        raise PermissionDenied
    form = DecisionForm(request.POST)
    if form.is_valid():
        on = form.cleaned_data["decided_on"]
        try:
            if form.cleaned_data["decision"] == "accept":
                changes.accept_change(request.user, change, on, request=request)
                messages.success(request, _("Accepted: the new fees apply from that day."))
            else:
                changes.decline_change(request.user, change, on, request=request)
                messages.success(request, _("Declined: nothing was changed."))
        except (ValidationError, Refused) as e:
            text = getattr(e, "message", None) or " ".join(getattr(e, "messages", [str(e)]))
            messages.error(request, text)
    else:
        messages.error(request, _("Give the day as YYYY-MM-DD."))
    return redirect("change_detail", pk=change.pk)


# --- payments, interest and the surcharge --------------------------------------------------------


def readable_invoice(request: HttpRequest, queryset=None, **lookup) -> Invoice:
    """The invoice found by ``lookup`` if the user reads it (from ``queryset``, default: all
    invoices), for every invoice page: 403 for a role that reads no money of a client it sees
    (a client's viewers, subcontractors), 404 for anyone who does not see it."""
    user = request.user
    if not reads_invoices(user):
        client_id = Invoice.objects.filter(**lookup).values_list("client_id", flat=True).first()
        if client_id is not None and sees_client(user, client_id):
            raise PermissionDenied
        raise Http404
    queryset = Invoice.objects.all() if queryset is None else queryset
    invoice = queryset.filter(pk__in=Invoice.objects.visible_to(user).values("pk"), **lookup)
    found = invoice.select_related("client").first()
    if found is None:
        raise Http404
    return found


def _invoice(request: HttpRequest, number: str) -> Invoice:
    return readable_invoice(request, number=number)


def payment_context(invoice: Invoice, user, form: PaymentForm | None = None) -> dict:
    """What ``billing/_payment_form.html`` needs, for the invoice page to include it."""
    return {
        "invoice": invoice,
        "payment_form": form or PaymentForm(initial={"received_on": today()}),
        "may_record_payment": invoice.kind == InvoiceKind.INVOICE
        and may_change(user, invoice.client, Rule.STAFF),
        "balance": payments.balance(invoice),
    }


def _payments_page(
    request: HttpRequest, invoice: Invoice, form: PaymentForm | None = None, status: int = 200
) -> HttpResponse:
    on = today()
    staff = may_change(request.user, invoice.client, Rule.STAFF)
    context = {
        **payment_context(invoice, request.user, form),
        "payments": Payment.objects.visible_to(request.user).filter(invoice=invoice),
        "overdue": payments.is_overdue(invoice, on),
        "interest": payments.interest_due(invoice, on),
        "interest_charges": payments.interest_charges(invoice) if staff else [],
        "interest_form": InterestForm(initial={"on": on}),
        "may_bill": staff and invoice.kind == InvoiceKind.INVOICE,
        "on": on,
    }
    return render(request, "billing/payments.html", context, status=status)


@login_required
def invoice_payments(request: HttpRequest, number: str) -> HttpResponse:
    return _payments_page(request, _invoice(request, number))


@login_required
@require_POST
def payment_add(request: HttpRequest, number: str) -> HttpResponse:
    invoice = _invoice(request, number)
    if not may_change(request.user, invoice.client, Rule.STAFF):
        raise PermissionDenied
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            payment = payments.record_payment(
                request.user,
                invoice,
                amount=form.cleaned_data["amount"],
                received_on=form.cleaned_data["received_on"],
                note=form.cleaned_data["note"],
                request=request,
            )
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(
                request,
                _("Payment of %(amount)s recorded; still owed: %(owed)s.")
                % {
                    "amount": format_money(payment.amount),
                    "owed": format_money(payments.balance(invoice)),
                },
            )
            return redirect("invoice_payments", number=invoice.number)
    return _payments_page(request, invoice, form, status=422)


@login_required
@require_POST
def interest_bill(request: HttpRequest, number: str) -> HttpResponse:
    invoice = _invoice(request, number)
    if not may_change(request.user, invoice.client, Rule.STAFF):
        raise PermissionDenied
    form = InterestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the day as YYYY-MM-DD."))
    else:
        try:
            charge = payments.bill_interest(
                request.user, invoice, form.cleaned_data["on"], request=request
            )
        except (ValidationError, Refused) as e:
            messages.error(request, getattr(e, "message", None) or " ".join(e.messages))
        else:
            if charge is None:
                messages.info(request, _("No interest is due up to that day."))
            else:
                messages.success(
                    request,
                    _("Interest of %(amount)s will be billed on the next invoice.")
                    % {"amount": format_money(charge.unit_price)},
                )
    return redirect("invoice_payments", number=invoice.number)


@login_required
def surcharge_add(request: HttpRequest, code: str) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    if not may_change(request.user, client, Charge.change_rule):
        raise PermissionDenied
    form = SurchargeForm(request.POST or None, client=client, initial={"occurred_on": today()})
    if request.method == "POST" and form.is_valid():
        try:
            charge = payments.add_surcharge(
                request.user,
                client,
                evaded=form.cleaned_data["evaded"],
                reason=form.cleaned_data["reason"],
                occurred_on=form.cleaned_data["occurred_on"],
                contract=form.cleaned_data["contract"],
                request=request,
            )
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(
                request,
                _("A surcharge of %(amount)s will be billed on the next invoice.")
                % {"amount": format_money(charge.unit_price)},
            )
            return redirect(client)
    return render(request, "billing/surcharge_form.html", {"form": form, "client": client})
