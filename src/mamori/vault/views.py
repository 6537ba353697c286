"""Vault pages: the list, a secret's page, add/edit, reveal on demand, destroy.

A value leaves the server only in the answer to the reveal POST (never a GET, never a page
that is cached: ``no-store``). Everyone who sees a client sees its secrets' metadata; provider
staff manage them; staff assigned to the client reveal them (see mamori.vault.services).
"""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from mamori.clients.models import Client
from mamori.core.htmx import wants_partial
from mamori.core.models import AuditEvent
from mamori.core.permissions import changeable, may_change
from mamori.vault import keys, services
from mamori.vault.forms import DestroyForm, RevealForm, SecretFilterForm, SecretForm
from mamori.vault.models import Secret

PAGE_SIZE = 50
HISTORY_LIMIT = 100
HIDE_AFTER_SECONDS = 30


def visible_secret(request: HttpRequest, pk: int) -> Secret:
    return get_object_or_404(
        Secret.objects.visible_to(request.user).select_related(
            "client", "site", "server", "certificate", "created_by", "destroyed_by"
        ),
        pk=pk,
    )


def history(secret: Secret):
    """The secret's audit trail: creation, changes, every reveal with its purpose."""
    return AuditEvent.objects.filter(
        object_type=Secret._meta.label, object_id=str(secret.pk)
    ).select_related("actor")[:HISTORY_LIMIT]


def vault_unavailable(request: HttpRequest, error: Exception) -> None:
    messages.error(
        request,
        _("The vault is not available: %(error)s. Ask the administrator to check the master key.")
        % {"error": error},
    )


@login_required
def vault_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = SecretFilterForm(request.GET or None, user=user)
    secrets = Secret.objects.visible_to(user).select_related("client", "site", "server")
    include_destroyed = False
    if form.is_valid():
        data = form.cleaned_data
        if data["client"]:
            secrets = secrets.filter(client=data["client"])
        if data["kind"]:
            secrets = secrets.filter(kind=data["kind"])
        include_destroyed = data["destroyed"]
    if not include_destroyed:
        secrets = secrets.live()
    secrets = secrets.order_by("client__code", "kind", "name", "pk")
    page = Paginator(secrets, PAGE_SIZE).get_page(request.GET.get("page"))
    manageable = changeable(Client.objects.visible_to(user), user, Secret.change_rule)
    context = {"form": form, "page": page, "manageable_clients": manageable}
    template = "vault/_list_results.html" if wants_partial(request) else "vault/list.html"
    return render(request, template, context)


@login_required
@never_cache
def secret_detail(request: HttpRequest, pk: int) -> HttpResponse:
    secret = visible_secret(request, pk)
    context = {
        "secret": secret,
        "may_reveal": services.may_reveal(request.user, secret) and not secret.is_destroyed,
        "may_manage": may_change(request.user, secret),
        "reveal_form": RevealForm(),
        "history": history(secret),
        "records": secret.destruction_records.all(),
    }
    return render(request, "vault/detail.html", context)


@login_required
@require_POST
@never_cache
def secret_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the value once, to an assigned staff member who states a purpose (VLT-02)."""
    secret = visible_secret(request, pk)
    if not services.may_reveal(request.user, secret):
        raise PermissionDenied
    form = RevealForm(request.POST)
    context: dict = {"secret": secret, "reveal_form": form, "may_reveal": True}
    if form.is_valid():
        try:
            value = services.reveal_secret(
                secret, actor=request.user, purpose=form.cleaned_data["purpose"], request=request
            )
        except ValidationError as e:
            form.add_error(None, e)
        except (services.VaultError, keys.KeyringError):
            form.add_error(None, _("The value cannot be read. Ask the administrator."))
        else:
            if isinstance(value, bytes):
                context["value"] = base64.b64encode(value).decode()
                context["value_is_base64"] = True
            else:
                context["value"] = value
            context["hide_after"] = HIDE_AFTER_SECONDS
    if wants_partial(request):
        return render(request, "vault/_reveal.html", context)
    context.update(
        may_manage=may_change(request.user, secret),
        history=history(secret),
        records=secret.destruction_records.all(),
    )
    return render(request, "vault/detail.html", context)


@login_required
def secret_add(request: HttpRequest, code: str) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    if not may_change(request.user, client, Secret.change_rule):
        raise PermissionDenied
    form = SecretForm(request.POST or None, client=client, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            secret = services.store_secret(
                client,
                value=form.cleaned_data["value"],
                actor=request.user,
                request=request,
                **form.metadata(),
            )
        except ValidationError as e:
            form.add_error(None, e)
        except keys.KeyringError as e:
            vault_unavailable(request, e)
        else:
            messages.success(request, _("Secret %(name)s stored.") % {"name": secret.name})
            return redirect(secret)
    return render(request, "vault/form.html", {"form": form, "client": client, "secret": None})


@login_required
def secret_edit(request: HttpRequest, pk: int) -> HttpResponse:
    secret = visible_secret(request, pk)
    if not may_change(request.user, secret):
        raise PermissionDenied
    if secret.is_destroyed:
        raise Http404
    form = SecretForm(
        request.POST or None, instance=secret, client=secret.client, user=request.user
    )
    if request.method == "POST" and form.is_valid():
        metadata, value = form.metadata(), form.cleaned_data["value"]
        # The form wrote the new metadata onto the instance; start again from the stored row
        # so that the audit trail compares old with new.
        secret = visible_secret(request, pk)
        try:
            services.update_secret(secret, actor=request.user, request=request, **metadata)
            if value:
                services.change_secret_value(secret, value, actor=request.user, request=request)
        except ValidationError as e:
            form.add_error(None, e)
        except keys.KeyringError as e:
            vault_unavailable(request, e)
        else:
            messages.success(request, _("Secret %(name)s saved.") % {"name": secret.name})
            return redirect(secret)
    context = {"form": form, "client": secret.client, "secret": secret}
    return render(request, "vault/form.html", context)


@login_required
def secret_destroy(request: HttpRequest, pk: int) -> HttpResponse:
    secret = visible_secret(request, pk)
    if not may_change(request.user, secret):
        raise PermissionDenied
    if secret.is_destroyed:
        messages.info(request, _("This secret has already been destroyed."))
        return redirect(secret)
    form = DestroyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.destroy_secret(
                secret, actor=request.user, reason=form.cleaned_data["reason"], request=request
            )
        except ValidationError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                _("Secret %(name)s destroyed. Its record stays on this page.")
                % {"name": secret.name},
            )
            return redirect(secret)
    return render(request, "vault/destroy.html", {"secret": secret, "form": form})
