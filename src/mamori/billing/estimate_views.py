"""The estimates' pages (見積書, MNT-04): the provider's administrators and operators draft, issue
and withdraw them (from a desk request) and may record the client's answer; the client's
administrators read theirs in the portal and accept or decline them; the client's viewers read
them only. Subcontractors see the work, not the money (403). Every write goes through
:mod:`mamori.billing.estimates`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.billing import document, estimate_pdf, estimates
from mamori.billing.models import Estimate, EstimateState, TaxRate, reads_estimates
from mamori.clients.models import Client
from mamori.core.filters import ALL, with_all
from mamori.core.permissions import sees_client

PAGE_SIZE = 50
LANGUAGES = ("ja", "en")
#: Empty line rows the edit form offers below the existing lines.
BLANK_ROWS = 3


def _estimate(request: HttpRequest, pk: int) -> Estimate:
    """The estimate ``pk`` if the user reads it: 403 for someone who sees its client but not it
    (a subcontractor; a client's people and a draft), 404 for anyone else."""
    user = request.user
    found = Estimate.objects.filter(pk=pk).values_list("client_id", flat=True).first()
    if found is None:
        raise Http404
    estimate = (
        Estimate.objects.visible_to(user)
        .filter(pk=pk)
        .select_related("client", "contract", "request", "replaces")
        .first()
    )
    if estimate is None:
        if sees_client(user, found):
            raise PermissionDenied
        raise Http404
    return estimate


def _language(value: str | None) -> str:
    if value in LANGUAGES:
        return value
    return document.build_language(translation.get_language())


class EstimateFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        label=gettext_lazy("Client"),
        queryset=Client.objects.none(),
        to_field_name="code",
        required=False,
    )
    state = forms.ChoiceField(label=gettext_lazy("State"), required=False)

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.visible_to(user)
        self.fields["client"].empty_label = ALL
        self.fields["state"].choices = with_all(EstimateState.choices)


@login_required
def estimate_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not reads_estimates(user):
        raise PermissionDenied
    form = EstimateFilterForm(request.GET or None, user=user)
    rows = Estimate.objects.visible_to(user).select_related("client", "request")
    if form.is_valid():
        if form.cleaned_data["client"]:
            rows = rows.filter(client=form.cleaned_data["client"])
        if form.cleaned_data["state"]:
            rows = rows.filter(state=form.cleaned_data["state"])
    today = timezone.localdate()
    to_answer = list(
        Estimate.objects.visible_to(user)
        .filter(state=EstimateState.ISSUED, valid_until__gte=today)
        .select_related("client")
        .order_by("valid_until", "pk")
    )
    page = Paginator(rows.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "billing/estimates/list.html",
        {"form": form, "page": page, "to_answer": to_answer, "today": today},
    )


@login_required
@require_POST
def estimate_create(request: HttpRequest, request_pk: int) -> HttpResponse:
    from mamori.desk.models import Request

    desk_request = get_object_or_404(Request.objects.visible_to(request.user), pk=request_pk)
    if not estimates.may_estimate(request.user, desk_request.client):
        raise PermissionDenied
    try:
        estimate = estimates.create_from_request(request.user, desk_request, http_request=request)
    except estimates.EstimateError as e:
        messages.error(request, e.message)
        return redirect(desk_request.get_absolute_url())
    messages.success(request, _("A draft estimate was made: add its lines."))
    return redirect("estimate_edit", pk=estimate.pk)


@login_required
def estimate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    estimate = _estimate(request, pk)
    language = _language(request.GET.get("lang"))
    user = request.user
    staff = estimates.may_estimate(user, estimate.client)
    shown = estimate.shown_state()
    answerable = shown == EstimateState.ISSUED and estimates.may_answer(user, estimate)
    context = {
        "estimate": estimate,
        "doc": estimate_pdf.build(estimate, language),
        "doc_language": language,
        "languages": LANGUAGES,
        "shown_state": shown,
        "shown_state_label": EstimateState(shown).label,
        "may_edit": staff and estimate.state == EstimateState.DRAFT,
        "may_withdraw": staff
        and estimate.state in (EstimateState.DRAFT, EstimateState.ISSUED)
        and shown != EstimateState.EXPIRED,
        "may_answer": answerable,
        "staff": staff,
        "default_valid_until": estimates.default_valid_until(timezone.localdate()),
        "request_url": _request_url(estimate),
    }
    return render(request, "billing/estimates/detail.html", context)


def _request_url(estimate: Estimate) -> str:
    return estimate.request.get_absolute_url() if estimate.request_id else ""


# --- editing a draft ---------------------------------------------------------------------------


class DraftForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Subject"), max_length=300)
    language = forms.ChoiceField(
        label=gettext_lazy("Language of the document"),
        choices=[("ja", "日本語"), ("en", "English")],
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Printed on the estimate: delivery, conditions."),
    )


def _line_rows(request: HttpRequest | None, estimate: Estimate) -> list[dict[str, Any]]:
    """The line rows of the edit form: the posted ones, else the draft's and blank ones."""
    if request is not None and request.method == "POST":
        count = int(request.POST.get("rows") or 0)
        count = max(0, min(count, estimates.MAX_LINES + BLANK_ROWS))
        rows = []
        for n in range(1, count + 1):
            rows.append(
                {
                    "n": n,
                    "description": request.POST.get(f"description_{n}", ""),
                    "quantity": request.POST.get(f"quantity_{n}", ""),
                    "unit": request.POST.get(f"unit_{n}", ""),
                    "unit_price": request.POST.get(f"unit_price_{n}", ""),
                    "tax_rate": request.POST.get(f"tax_rate_{n}", "10"),
                    "tax_included": bool(request.POST.get(f"tax_included_{n}")),
                }
            )
        return rows
    rows = [
        {
            "n": line.position,
            "description": line.description,
            "quantity": document.number(line.quantity),
            "unit": line.unit,
            "unit_price": str(line.unit_price),
            "tax_rate": str(line.tax_rate),
            "tax_included": line.tax_included,
        }
        for line in estimate.lines.all()
    ]
    start = len(rows)
    for n in range(start + 1, start + BLANK_ROWS + 1):
        rows.append(
            {
                "n": n,
                "description": "",
                "quantity": "1",
                "unit": "",
                "unit_price": "",
                "tax_rate": "10",
                "tax_included": False,
            }
        )
    return rows


def _entered_lines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows somebody filled in (a row with neither words nor a price is left out)."""
    return [
        row for row in rows if str(row["description"]).strip() or str(row["unit_price"]).strip()
    ]


@login_required
def estimate_edit(request: HttpRequest, pk: int) -> HttpResponse:
    estimate = _estimate(request, pk)
    if not estimates.may_estimate(request.user, estimate.client):
        raise PermissionDenied
    if estimate.state != EstimateState.DRAFT:
        messages.error(request, _("An issued estimate cannot be changed: make a new one."))
        return redirect("estimate_detail", pk=estimate.pk)
    initial = {"title": estimate.title, "language": estimate.language, "notes": estimate.notes}
    form = DraftForm(request.POST or None, initial=initial)
    rows = _line_rows(request, estimate)
    problem = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                estimates.update_draft(
                    request.user,
                    estimate,
                    title=form.cleaned_data["title"],
                    notes=form.cleaned_data["notes"],
                    language=form.cleaned_data["language"],
                    lines=_entered_lines(rows),
                    http_request=request,
                )
            except estimates.EstimateError as e:
                problem = e.message
            else:
                messages.success(request, _("The draft was saved."))
                return redirect("estimate_detail", pk=estimate.pk)
        status = 422
    context = {
        "estimate": estimate,
        "form": form,
        "rows": rows,
        "row_count": len(rows),
        "problem": problem,
        "rates": [(TaxRate.STANDARD.value, "10%"), (TaxRate.REDUCED.value, "8%")],
    }
    return render(request, "billing/estimates/edit.html", context, status=status)


# --- issue, withdraw ---------------------------------------------------------------------------


@login_required
@require_POST
def estimate_issue(request: HttpRequest, pk: int) -> HttpResponse:
    estimate = _estimate(request, pk)
    if not estimates.may_estimate(request.user, estimate.client):
        raise PermissionDenied
    valid_until = None
    if request.POST.get("valid_until"):
        try:
            valid_until = dt.date.fromisoformat(request.POST["valid_until"])
        except ValueError:
            messages.error(request, _("Give the day as YYYY-MM-DD."))
            return redirect("estimate_detail", pk=estimate.pk)
    try:
        estimate = estimates.issue(
            request.user, estimate, valid_until=valid_until, http_request=request
        )
    except estimates.EstimateError as e:
        messages.error(request, e.message)
    else:
        messages.success(
            request,
            _("Estimate %(number)s was issued and sent to the client.")
            % {"number": estimate.number},
        )
    return redirect("estimate_detail", pk=estimate.pk)


@login_required
@require_POST
def estimate_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    estimate = _estimate(request, pk)
    if not estimates.may_estimate(request.user, estimate.client):
        raise PermissionDenied
    try:
        estimates.withdraw(request.user, estimate, http_request=request)
    except estimates.EstimateError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("The estimate was withdrawn."))
    return redirect("estimate_detail", pk=estimate.pk)


# --- the client's answer ------------------------------------------------------------------------


class AnswerForm(forms.Form):
    answered_for = forms.CharField(
        label=gettext_lazy("Answer given by"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Who at the client gave the answer, and how (phone, e-mail)."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _answer(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    estimate = _estimate(request, pk)
    if not estimates.may_answer(request.user, estimate):
        raise PermissionDenied
    staff = request.user.is_provider_staff or request.user.is_superuser
    form = AnswerForm(request.POST if request.method == "POST" else None)
    if decision == "accept":
        form.fields.pop("reason")
    if not staff:
        form.fields.pop("answered_for")
    problem = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if decision == "accept":
                estimates.accept(
                    request.user,
                    estimate,
                    answered_for=data.get("answered_for", ""),
                    http_request=request,
                )
                messages.success(
                    request,
                    _("Accepted: the work is billed with the next monthly invoice."),
                )
            else:
                estimates.decline(
                    request.user,
                    estimate,
                    reason=data.get("reason", ""),
                    answered_for=data.get("answered_for", ""),
                    http_request=request,
                )
                messages.success(request, _("Declined: nothing is billed."))
        except estimates.EstimateError as e:
            problem = e.message
        else:
            return redirect("estimate_detail", pk=estimate.pk)
    return render(
        request,
        "billing/estimates/answer.html",
        {
            "estimate": estimate,
            "form": form,
            "decision": decision,
            "problem": problem,
            "staff": staff,
            "shown_state_label": estimate.shown_state_label(),
        },
        status=409 if problem else 200,
    )


@login_required
def estimate_accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer(request, pk, "accept")


@login_required
def estimate_decline(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer(request, pk, "decline")


@login_required
def estimate_pdf_view(request: HttpRequest, pk: int, language: str) -> HttpResponse:
    estimate = _estimate(request, pk)
    if language not in LANGUAGES:
        raise Http404
    response = HttpResponse(estimate_pdf.render(estimate, language), content_type="application/pdf")
    name = estimate_pdf.filename(estimate, language)
    disposition = "inline" if request.GET.get("view") else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return response
