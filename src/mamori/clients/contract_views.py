"""A contract's page with its terms (CT-02..CT-05), and the terms profiles' pages.

The page shows what :mod:`mamori.clients.terms` computes for today — the current term, its end,
the notice deadline, the next term, the minimum-term end and the state — with the notices
received, and a form to record a cancellation or withdrawal
(:func:`mamori.clients.services.record_contract_notice`). Terms profiles are the provider's:
its administrators and operators add and change them.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.clients import services, terms
from mamori.clients.forms import REQUIRED, form_class, show_refusal
from mamori.clients.models import (
    Client,
    Contract,
    ContractNotice,
    NoticeKind,
    NoticeMedium,
    TermsProfile,
)
from mamori.core.permissions import may_change
from mamori.inventory.services import Referenced, Refused
from mamori.monitoring.sla import SlaError, parse_month


class ContractNoticeForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=NoticeKind.choices, initial=NoticeKind.CANCELLATION
    )
    received_on = forms.DateField(
        label=gettext_lazy("Received on"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    medium = forms.ChoiceField(label=gettext_lazy("Received by"), choices=NoticeMedium.choices)
    sender = forms.CharField(label=gettext_lazy("Sender"), max_length=200)
    requested_end_month = forms.CharField(
        label=gettext_lazy("Requested end month"),
        required=False,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text=gettext_lazy("Optional: the month the client asks the contract to end."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["required"] = REQUIRED

    def clean_requested_end_month(self):
        text = self.cleaned_data["requested_end_month"].strip()
        if not text:
            return None
        try:
            return parse_month(text)
        except SlaError as e:
            raise ValidationError(str(e)) from None


def contract_context(contract: Contract, today) -> dict:
    """What the contract page and its terms card show."""
    notices = list(contract.notices.all())
    status = terms.status(contract, today, notices)
    for notice in notices:
        notice.reason_text = services.notice_reason(notice)
    return {"status": status, "contract_notices": notices}


@login_required
def contract_detail(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    contract = get_object_or_404(
        Contract.objects.visible_to(request.user).select_related("client", "terms_profile"),
        client=client,
        pk=pk,
    )
    may_record = may_change(request.user, contract)
    today = timezone.localdate()
    form = ContractNoticeForm(request.POST or None, initial={"received_on": today.isoformat()})
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                notice = services.record_contract_notice(
                    request.user,
                    contract,
                    kind=data["kind"],
                    received_on=data["received_on"],
                    medium=data["medium"],
                    sender=data["sender"],
                    requested_end_month=data["requested_end_month"],
                    request=request,
                )
            except terms.TermsError as e:
                form.add_error(None, e.message)
            except (ValidationError, Refused) as e:
                show_refusal(form, ContractNotice, e)
            else:
                messages.success(
                    request,
                    _("%(kind)s recorded: the contract ends on %(date)s.")
                    % {
                        "kind": notice.get_kind_display(),
                        "date": f"{notice.effective_on:%Y-%m-%d}",
                    },
                )
                return redirect(contract.get_absolute_url() + "#terms")
    context = {
        "client": client,
        "contract": contract,
        "today": today,
        "form": form,
        "may_record": may_record,
        **contract_context(contract, today),
    }
    return render(
        request,
        "clients/contract_detail.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


# --- terms profiles ------------------------------------------------------------------------------

ProfileForm = form_class(TermsProfile, services.PROFILE_FIELDS)


@login_required
def terms_profile_list(request: HttpRequest) -> HttpResponse:
    if not request.user.is_provider_staff:
        raise PermissionDenied
    profiles = TermsProfile.objects.all().order_by("code")
    return render(
        request,
        "clients/terms_profiles.html",
        {"profiles": profiles, "may_edit": services.may_edit_profiles(request.user)},
    )


@login_required
def terms_profile_edit(request: HttpRequest, code: str | None = None) -> HttpResponse:
    if not services.may_edit_profiles(request.user):
        raise PermissionDenied
    profile = get_object_or_404(TermsProfile, code=code) if code else None
    form = ProfileForm(request.POST or None, instance=profile)
    problem = ""
    if request.method == "POST" and request.POST.get("delete") and profile is not None:
        try:
            services.delete_terms_profile(request.user, profile, request=request)
        except Referenced as e:
            problem = str(e)
        else:
            messages.success(request, _("Terms profile %(code)s deleted.") % {"code": code})
            return redirect("terms_profile_list")
    elif request.method == "POST" and form.is_valid():
        try:
            if profile is None:
                profile = services.create_terms_profile(
                    request.user, form.values(), request=request
                )
            else:
                services.change_terms_profile(request.user, profile, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(request, _("Terms profile %(code)s saved.") % {"code": profile.code})
            return redirect("terms_profile_list")
    return render(
        request,
        "clients/terms_profile_form.html",
        {"form": form, "profile": profile, "problem": problem},
    )
