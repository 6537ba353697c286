"""Pages that add, change and delete a client's records, reached from the client's page.

Every write goes through the records' write services (:mod:`mamori.clients.services`,
:mod:`mamori.inventory.services`), the path the inventory import and the API take: the same
permission, the same validation with the same messages, and the audit event in the same
transaction. The pages only show what those refuse, at the fields they name.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from mamori.clients import services
from mamori.clients.forms import KINDS, ClientForm, RecordKind
from mamori.clients.models import Client
from mamori.core.permissions import may_change
from mamori.inventory.services import Referenced, Refused
from mamori.inventory.transfer.applying import may_create_clients


def _kind(kind: str) -> RecordKind:
    found = KINDS.get(kind)
    if found is None:
        raise Http404
    return found


def _client(request: HttpRequest, code: str, kind: RecordKind) -> Client:
    """The client, if the user may see it (404) and change its records of ``kind`` (403)."""
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    if not may_change(request.user, client, kind.model.change_rule):
        raise PermissionDenied
    return client


def _back(request: HttpRequest, client: Client, kind: RecordKind, default: str = "") -> str:
    """Where the page returns to: ``next`` when it is one of ours, else ``default`` or the
    client's card."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default or f"{client.get_absolute_url()}#{kind.anchor}"


def _what(kind: RecordKind) -> str:
    return capfirst(str(kind.model._meta.verbose_name))


def _context(client: Client, spec: RecordKind, back: str, **more) -> dict:
    return {
        "client": client,
        "kind": spec,
        "back": back,
        "what": str(spec.model._meta.verbose_name),
        **more,
    }


@login_required
def client_add(request: HttpRequest) -> HttpResponse:
    """A new client, for the provider's administrators and operators (as the import allows)."""
    if not may_create_clients(request.user):
        raise PermissionDenied
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client = services.create_client(request.user, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(request, _("Client %(name)s added.") % {"name": client.name})
            return redirect(client)
    return render(request, "clients/client_form.html", {"form": form})


@login_required
def record_add(request: HttpRequest, code: str, kind: str, back: str = "") -> HttpResponse:
    spec = _kind(kind)
    client = _client(request, code, spec)
    back = _back(request, client, spec, back)
    form = spec.form(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        try:
            obj = spec.create(request.user, client, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            messages.success(
                request,
                _("%(record)s “%(name)s” added.")
                % {"record": _what(spec), "name": spec.label(obj)},
            )
            return redirect(back)
    return render(request, "clients/record_form.html", _context(client, spec, back, form=form))


def _record(request: HttpRequest, code: str, kind: str, pk: int):
    spec = _kind(kind)
    client = _client(request, code, spec)
    obj = get_object_or_404(spec.model.objects.visible_to(request.user), client=client, pk=pk)
    if not may_change(request.user, obj):
        raise PermissionDenied
    return spec, client, obj


@login_required
def record_edit(
    request: HttpRequest, code: str, kind: str, pk: int, back: str = ""
) -> HttpResponse:
    spec, client, obj = _record(request, code, kind, pk)
    back = _back(request, client, spec, back)
    form = spec.form(request.POST or None, client=client, instance=obj)
    if request.method == "POST" and form.is_valid():
        try:
            changed = spec.change(request.user, obj, form.values(), request=request)
        except (ValidationError, Refused) as e:
            form.refused(e)
        else:
            text = (
                _("%(record)s “%(name)s” saved.")
                if changed
                else _("%(record)s “%(name)s”: nothing was changed.")
            )
            messages.success(request, text % {"record": _what(spec), "name": spec.label(obj)})
            return redirect(back)
    context = _context(
        client,
        spec,
        back,
        form=form,
        record=obj,
        delete_url=reverse("record_delete", args=[client.code, spec.name, obj.pk]),
    )
    return render(request, "clients/record_form.html", context)


@login_required
def record_delete(
    request: HttpRequest, code: str, kind: str, pk: int, back: str = ""
) -> HttpResponse:
    spec, client, obj = _record(request, code, kind, pk)
    back = _back(request, client, spec, back)
    label = spec.label(obj)
    problem = ""
    if request.method == "POST":
        try:
            spec.delete(request.user, obj, request=request)
        except (Referenced, Refused) as e:
            problem = getattr(e, "message", None) or str(e)
        else:
            messages.success(
                request,
                _("%(record)s “%(name)s” deleted.") % {"record": _what(spec), "name": label},
            )
            return redirect(back)
    context = _context(client, spec, back, record=obj, label=label, problem=problem)
    return render(
        request, "clients/record_confirm_delete.html", context, status=409 if problem else 200
    )


# --- the contacts' pages of "users and contacts" (their addresses stay as they were) ------------


def _contact_code(request: HttpRequest, pk: int) -> str:
    contact = get_object_or_404(
        KINDS["contacts"].model.objects.visible_to(request.user).select_related("client"), pk=pk
    )
    return contact.client.code


@login_required
def contact_create(request: HttpRequest, code: str) -> HttpResponse:
    return record_add(request, code, "contacts", back=reverse("client_access", args=[code]))


@login_required
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    code = _contact_code(request, pk)
    back = reverse("client_access", args=[code])
    return record_edit(request, code, "contacts", pk, back=back)


@login_required
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    code = _contact_code(request, pk)
    back = reverse("client_access", args=[code])
    return record_delete(request, code, "contacts", pk, back=back)
