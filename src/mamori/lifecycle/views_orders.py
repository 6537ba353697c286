"""The order page, for ACME and commercial-CA orders alike: state, names, ACME challenges and
errors, the exchanges with the CA and their documents, the fee. For a commercial CA, provider
staff work the order from here: a new order for a managed certificate, the CSR to download, the
application, review, rejection or the issued certificate, every exchange with its attachments,
and the CA's fee (CERT-07, CERT-08, CERT-15).

Everything is fetched through ``visible_to``; provider staff who see the client act; every write
is audited (by :mod:`mamori.lifecycle.manual`).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from mamori.core import audit
from mamori.core.permissions import may_change, require_change
from mamori.lifecycle import manual, orders
from mamori.lifecycle.models import (
    IssuerKind,
    ManagedCertificate,
    MessageDirection,
    Order,
    OrderAttachment,
    OrderState,
)
from mamori.vault import services as vault

MAX_FILES = 10


def visible_order(request: HttpRequest, pk: int) -> Order:
    return get_object_or_404(
        Order.objects.visible_to(request.user).select_related(
            "managed__client", "certificate", "acme_account", "created_by", "replaces"
        ),
        pk=pk,
    )


def staff_order(request: HttpRequest, pk: int) -> Order:
    order = visible_order(request, pk)
    require_change(request.user, order)
    return order


def error_text(error: ValidationError) -> str:
    return " ".join(str(m) for m in error.messages)


class StepForm(forms.Form):
    step = forms.ChoiceField(
        label=gettext_lazy("Step"),
        choices=[
            ("apply", gettext_lazy("Application sent")),
            ("under_review", gettext_lazy("Under review")),
            ("reject", gettext_lazy("Rejected by the CA")),
        ],
    )
    ca_reference = forms.CharField(label=gettext_lazy("CA order number"), required=False)
    reason = forms.CharField(
        label=gettext_lazy("Why the CA rejected it"), required=False, widget=forms.Textarea
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class MessageForm(forms.Form):
    direction = forms.ChoiceField(label=gettext_lazy("Direction"), choices=MessageDirection.choices)
    at = forms.DateTimeField(
        label=gettext_lazy("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Empty: now."),
    )
    counterpart = forms.CharField(label=gettext_lazy("With"), required=False, max_length=200)
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=300)
    body = forms.CharField(label=gettext_lazy("Content"), required=False, widget=forms.Textarea)
    files = MultipleFileField(
        label=gettext_lazy("Attachments"),
        required=False,
        help_text=gettext_lazy("Stored encrypted in the vault; at most 64 KiB each."),
    )

    def clean_files(self):
        files = self.cleaned_data.get("files") or []
        if len(files) > MAX_FILES:
            raise ValidationError(_("At most %(n)d files at once.") % {"n": MAX_FILES})
        for f in files:
            if f.size > manual.MAX_ATTACHMENT_BYTES:
                raise ValidationError(
                    _("%(name)s is larger than 64 KiB; attach a smaller file.") % {"name": f.name}
                )
        return files


class FeeForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"), min_value=0, max_digits=12, decimal_places=2
    )
    currency = forms.CharField(label=gettext_lazy("Currency"), initial="JPY", max_length=3)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=300)


class UploadForm(forms.Form):
    pem = forms.CharField(
        label=gettext_lazy("Certificate and chain (PEM)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
    )
    file = forms.FileField(label=gettext_lazy("or a PEM file"), required=False)

    def clean(self):
        data = super().clean()
        uploaded = data.get("file")
        if uploaded is not None:
            if uploaded.size > 256 * 1024:
                raise ValidationError(_("The file is too large for a certificate chain."))
            data["pem"] = uploaded.read().decode("ascii", errors="replace")
        if not (data.get("pem") or "").strip():
            raise ValidationError(_("Paste the certificate or choose its file."))
        return data


@login_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = visible_order(request, pk)
    staff = may_change(request.user, order)
    context = {
        "order": order,
        "managed": order.managed,
        "challenges": order.challenges.all(),
        "exchanges": order.messages.select_related("by").prefetch_related("attachments"),
        "is_staff": staff,
        "is_manual": order.issuer == IssuerKind.MANUAL,
        "step_form": StepForm(),
        "message_form": MessageForm(),
        "fee_form": FeeForm(
            initial={"currency": order.fee_currency or "JPY", "amount": order.fee_amount}
        ),
        "failures": order.managed.failures.open(),
        "OrderState": OrderState,
    }
    return render(request, "lifecycle/order_detail.html", context)


@login_required
@require_POST
def order_new(request: HttpRequest, pk: int) -> HttpResponse:
    managed = get_object_or_404(
        ManagedCertificate.objects.visible_to(request.user).select_related("client"), pk=pk
    )
    require_change(request.user, managed.client, Order.change_rule)
    try:
        order = manual.create_manual_order(managed, actor=request.user, request=request)
    except orders.OrderInFlight as exc:
        messages.error(request, _("Order #%(pk)s is still open.") % {"pk": exc.order.pk})
        return redirect("order_detail", exc.order.pk)
    except orders.InstructionMissing:
        messages.error(
            request,
            _(
                "This renewal needs the client's approval first: ask the client, or record "
                "their yes."
            ),
        )
        return redirect(managed.get_absolute_url())
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect(managed.get_absolute_url())
    except vault.VaultError as exc:
        messages.error(request, _("The vault is not available: %(error)s") % {"error": exc})
        return redirect(managed.get_absolute_url())
    messages.success(request, _("Order recorded: download the CSR and apply at the CA."))
    return redirect("order_detail", order.pk)


@login_required
@require_POST
@never_cache
def order_csr(request: HttpRequest, pk: int) -> HttpResponse:
    """The CSR as a file (a button on the order page: a download, not a page of the app)."""
    order = visible_order(request, pk)
    if not order.csr_pem:
        messages.error(request, _("This order has no CSR."))
        return redirect("order_detail", order.pk)
    response = HttpResponse(manual.csr_pem(order), content_type="application/pkcs10")
    name = (order.names[0] if order.names else "order").replace("*", "_")
    response["Content-Disposition"] = f'attachment; filename="{name}-order{order.pk}.csr"'
    return response


@login_required
@require_POST
def order_step(request: HttpRequest, pk: int) -> HttpResponse:
    order = staff_order(request, pk)
    form = StepForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a step."))
        return redirect("order_detail", order.pk)
    data = form.cleaned_data
    try:
        if data["step"] == "apply":
            manual.apply(
                order, actor=request.user, ca_reference=data["ca_reference"], request=request
            )
        elif data["step"] == "under_review":
            manual.under_review(
                order, actor=request.user, ca_reference=data["ca_reference"], request=request
            )
        else:
            manual.reject(order, actor=request.user, reason=data["reason"], request=request)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, _("Order updated: %(state)s.") % {"state": order.get_state_display()}
        )
    return redirect("order_detail", order.pk)


@login_required
def order_upload(request: HttpRequest, pk: int) -> HttpResponse:
    order = staff_order(request, pk)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            manual.upload_certificate(
                order, form.cleaned_data["pem"], actor=request.user, request=request
            )
        except orders.CertificateMismatch as exc:
            form.add_error(
                None, _("This certificate cannot be accepted: %(reason)s.") % {"reason": exc}
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, _("Certificate accepted; deployment is queued."))
            return redirect("order_detail", order.pk)
    return render(request, "lifecycle/order_upload.html", {"order": order, "form": form})


@login_required
def order_message(request: HttpRequest, pk: int) -> HttpResponse:
    order = staff_order(request, pk)
    form = MessageForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        files = [(f.name, f.content_type or "", f.read()) for f in data["files"]]
        try:
            manual.record_message(
                order,
                direction=data["direction"],
                subject=data["subject"],
                body=data["body"],
                counterpart=data["counterpart"],
                at=data["at"],
                actor=request.user,
                attachments=files,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        except vault.VaultError as exc:
            form.add_error(None, _("The vault is not available: %(error)s") % {"error": exc})
        else:
            messages.success(request, _("Exchange recorded."))
            return redirect("order_detail", order.pk)
    return render(request, "lifecycle/order_message.html", {"order": order, "form": form})


@login_required
@require_POST
def order_fee(request: HttpRequest, pk: int) -> HttpResponse:
    order = staff_order(request, pk)
    form = FeeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the amount and a three-letter currency."))
        return redirect("order_detail", order.pk)
    data = form.cleaned_data
    try:
        manual.record_fee(
            order,
            data["amount"],
            data["currency"],
            data["note"],
            actor=request.user,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Fee recorded for billing."))
    return redirect("order_detail", order.pk)


@login_required
@require_POST
@never_cache
def order_attachment(request: HttpRequest, pk: int) -> HttpResponse:
    """Download a document of an order (POST: every read is on the audit trail)."""
    attachment = get_object_or_404(
        OrderAttachment.objects.visible_to(request.user).select_related(
            "message__order__managed__client", "secret"
        ),
        pk=pk,
    )
    order = attachment.message.order
    require_change(request.user, order)
    try:
        content = manual.attachment_content(attachment)
    except vault.SecretDestroyed:
        messages.error(request, _("This document was destroyed."))
        return redirect("order_detail", order.pk)
    except vault.VaultError as exc:
        messages.error(request, _("The vault is not available: %(error)s") % {"error": exc})
        return redirect("order_detail", order.pk)
    audit.record(
        "order.attachment_read",
        order,
        request=request,
        changes={"attachment": attachment.filename, "sha256": attachment.sha256},
        client_id=order.managed.client_id,
    )
    response = HttpResponse(content, content_type="application/octet-stream")
    safe = "".join(c for c in attachment.filename if c.isalnum() or c in "._- ") or "document"
    response["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


urlpatterns = [
    path("orders/<int:pk>/", order_detail, name="order_detail"),
    path("orders/<int:pk>/csr/", order_csr, name="order_csr"),
    path("orders/<int:pk>/step/", order_step, name="order_step"),
    path("orders/<int:pk>/certificate/", order_upload, name="order_upload"),
    path("orders/<int:pk>/message/", order_message, name="order_message"),
    path("orders/<int:pk>/fee/", order_fee, name="order_fee"),
    path("managed/<int:pk>/manual-order/", order_new, name="order_new"),
    path("attachments/<int:pk>/", order_attachment, name="order_attachment"),
]
