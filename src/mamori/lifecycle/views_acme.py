"""ACME account pages (CERT-06): list, add, detail, register at the CA.

Everything is fetched through ``visible_to``; provider staff who see the client add and register
accounts (``may_change`` of an ``AcmeAccount``, the vault's rule: the account key and the EAB
HMAC key go to the client's vault).
The EAB HMAC key is write-only: it is stored in the vault and never shown again.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.permissions import changeable, may_change
from mamori.lifecycle.models import AcmeAccount
from mamori.vault import services as vault
from mamori.vault.models import SecretKind


class HttpsURLField(forms.URLField):
    """A URL typed without a scheme is an https one (ACME directories are always HTTPS)."""

    def __init__(self, **kwargs):
        super().__init__(assume_scheme="https", **kwargs)


class AcmeAccountForm(forms.ModelForm):
    eab_hmac_key = forms.CharField(
        label=gettext_lazy("external account binding HMAC key"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Base64url, as the CA gave it; kept in the vault."),
    )

    class Meta:
        model = AcmeAccount
        fields = [
            "client",
            "name",
            "directory_url",
            "contact_email",
            "key_type",
            "eab_kid",
            "ca_bundle",
        ]
        field_classes = {"directory_url": HttpsURLField}
        labels = {"client": gettext_lazy("Client")}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = changeable(
            Client.objects.visible_to(user), user, AcmeAccount.change_rule
        )

    def clean(self):
        data = super().clean()
        if data.get("eab_kid") and not data.get("eab_hmac_key"):
            self.add_error("eab_hmac_key", _("Enter the HMAC key that goes with the key ID."))
        if data.get("eab_hmac_key") and not data.get("eab_kid"):
            self.add_error("eab_kid", _("Enter the key ID that goes with the HMAC key."))
        bundle = (data.get("ca_bundle") or "").strip()
        if bundle and "-----BEGIN CERTIFICATE-----" not in bundle:
            self.add_error("ca_bundle", _("Paste PEM certificates."))
        return data


def create_account(form: AcmeAccountForm, *, actor, request=None) -> AcmeAccount:
    """Save a valid form: the EAB HMAC key goes to the vault, the account row is audited."""
    data = form.cleaned_data
    with transaction.atomic():
        account = form.save(commit=False)
        if data.get("eab_hmac_key"):
            account.eab_hmac_secret = vault.store_secret(
                account.client,
                kind=SecretKind.API_TOKEN,
                name=f"ACME EAB HMAC key: {account.name}"[:200],
                value=data["eab_hmac_key"].strip(),
                actor=actor,
                request=request,
            )
        account.save()
        audit.record(
            "acme_account.create",
            account,
            actor=actor,
            request=request,
            changes={
                "name": account.name,
                "directory_url": account.directory_url,
                "contact_email": account.contact_email,
                "eab_kid": account.eab_kid,
                "key_type": account.key_type,
            },
        )
    return account


def _visible(request: HttpRequest, pk: int) -> AcmeAccount:
    return get_object_or_404(
        AcmeAccount.objects.visible_to(request.user).select_related("client"), pk=pk
    )


@login_required
def acme_account_list(request: HttpRequest) -> HttpResponse:
    accounts = AcmeAccount.objects.visible_to(request.user).select_related("client")
    may_add = changeable(Client.objects.all(), request.user, AcmeAccount.change_rule).exists()
    return render(request, "lifecycle/acme_list.html", {"accounts": accounts, "may_add": may_add})


@login_required
def acme_account_add(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_provider_staff:
        raise PermissionDenied
    form = AcmeAccountForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        if not may_change(user, form.cleaned_data["client"], AcmeAccount.change_rule):
            raise PermissionDenied
        account = create_account(form, actor=user, request=request)
        messages.success(request, _("ACME account added. Register it at the CA next."))
        return redirect("acme_account_detail", pk=account.pk)
    return render(request, "lifecycle/acme_form.html", {"form": form})


@login_required
def acme_account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible(request, pk)
    return render(
        request,
        "lifecycle/acme_detail.html",
        {
            "account": account,
            "may_manage": may_change(request.user, account),
            "certificates": account.certificates.all(),
        },
    )


@login_required
@require_POST
def acme_account_register(request: HttpRequest, pk: int) -> HttpResponse:
    from mamori.lifecycle import acme

    account = _visible(request, pk)
    if not may_change(request.user, account):
        raise PermissionDenied
    try:
        acme.register_account(account, actor=request.user)
    except acme.AcmeProblem as e:
        messages.error(request, _("The CA refused the registration: %(detail)s") % {"detail": e})
        audit.record(
            "acme_account.register_failed",
            account,
            actor=request.user,
            request=request,
            changes={"error": str(e)[:500]},
        )
    else:
        messages.success(request, _("The account is registered at the CA."))
    return redirect("acme_account_detail", pk=account.pk)


urlpatterns = [
    path("acme-accounts/", acme_account_list, name="acme_account_list"),
    path("acme-accounts/add/", acme_account_add, name="acme_account_add"),
    path("acme-accounts/<int:pk>/", acme_account_detail, name="acme_account_detail"),
    path("acme-accounts/<int:pk>/register/", acme_account_register, name="acme_account_register"),
]
