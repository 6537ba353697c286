"""Endpoints (list, page, add, edit, delete, check now) and the inventory import."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.certificates import queries
from mamori.certificates.models import CertificateEvent, CertificateSighting
from mamori.core import audit
from mamori.core.htmx import wants_partial
from mamori.inventory import transfer
from mamori.inventory.forms import EndpointFilterForm, EndpointForm, ImportForm
from mamori.inventory.models import Endpoint
from mamori.notices.models import Notice

PAGE_SIZE = 50
HISTORY_LIMIT = 100
IMPORT_SESSION_KEY = "mamori_import_upload"
# Changing these means the endpoint serves something else: check it again at once.
TARGET_FIELDS = ("host", "port", "sni", "trust_bundle", "enabled", "allow_private_address")


def require_edit(request: HttpRequest) -> None:
    """Client viewers may look but not change anything."""
    if not request.user.can_edit:
        raise PermissionDenied


def visible_endpoint(request: HttpRequest, pk: int) -> Endpoint:
    return get_object_or_404(
        Endpoint.objects.visible_to(request.user).select_related(
            "client", "site", "server", "contract", "current_certificate"
        ),
        pk=pk,
    )


def audit_values(endpoint: Endpoint, fields: list[str]) -> dict[str, Any]:
    """Field values for the audit trail; the trust bundle is recorded as set or not, not pasted."""
    values: dict[str, Any] = {}
    for name in fields:
        field = endpoint._meta.get_field(name)
        value = getattr(endpoint, field.attname)
        values[name] = bool(value.strip()) if name == "trust_bundle" else value
    return values


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = EndpointFilterForm(request.GET or None, user=user)
    endpoints = Endpoint.objects.visible_to(user).select_related(
        "client", "site", "current_certificate"
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            q = data["q"].strip().lower()
            endpoints = endpoints.filter(Q(host__icontains=q) | Q(sni__icontains=q))
        if data["client"]:
            endpoints = endpoints.filter(client=data["client"])
        if data["state"]:
            endpoints = endpoints.filter(state=data["state"])
        if data["problem"]:
            ids = [e.pk for e in queries.endpoints_with_problem(user, data["problem"])]
            endpoints = endpoints.filter(pk__in=ids)
    page = Paginator(endpoints, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for endpoint in page:
        endpoint.explained = queries.explain(endpoint.problems)
        cert = endpoint.current_certificate
        endpoint.remaining = queries.remaining(cert.not_after if cert else None, now)
    context = {"form": form, "page": page}
    template = (
        "inventory/_endpoint_results.html"
        if wants_partial(request)
        else "inventory/endpoint_list.html"
    )
    return render(request, template, context)


@login_required
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    endpoint = visible_endpoint(request, pk)
    now = timezone.now()
    cert = endpoint.current_certificate
    contracts = queries.ssl_contracts({endpoint.client_id})
    sightings = list(
        CertificateSighting.objects.visible_to(user)
        .filter(endpoint=endpoint)
        .select_related("certificate")
        .order_by("-first_seen_at")[:HISTORY_LIMIT]
    )
    for sighting in sightings:
        sighting.remaining = queries.remaining(sighting.certificate.not_after, now)
    events = list(
        CertificateEvent.objects.visible_to(user)
        .filter(endpoint=endpoint)
        .select_related("certificate", "previous_certificate")[:HISTORY_LIMIT]
    )
    for event in events:
        event.explained = queries.explain(event.problems)
    context = {
        "endpoint": endpoint,
        "explained": queries.explain(endpoint.problems),
        "certificate": cert,
        "remaining": queries.remaining(cert.not_after if cert else None, now),
        "schedule": queries.notice_schedule(endpoint, contracts),
        "window": queries.notice_window(endpoint, contracts, cert),
        "result": last_result_rows(endpoint.last_result),
        "sightings": sightings,
        "events": events,
        "notices": Notice.objects.visible_to(user)
        .filter(endpoint=endpoint)
        .select_related("client", "contact")[:HISTORY_LIMIT],
    }
    return render(request, "inventory/endpoint_detail.html", context)


def last_result_rows(result: dict[str, Any]) -> dict[str, Any]:
    """The parts of the checker's last result that a person wants to read."""
    if not isinstance(result, dict):
        return {}
    version = result.get("tls_version") or result.get("protocol") or result.get("version")
    error = result.get("error") or result.get("error_message") or result.get("detail")
    if isinstance(error, dict):
        error = error.get("message") or error.get("code") or str(error)
    return {
        "tls_version": version,
        "error": error,
        "address": result.get("address") or result.get("ip"),
        "cipher": result.get("cipher"),
        "elapsed_ms": result.get("elapsed_ms"),
    }


def _render_form(
    request: HttpRequest, form: EndpointForm, endpoint: Endpoint | None
) -> HttpResponse:
    # Choosing another client reloads the site, server and contract choices for it.
    form.fields["client"].widget.attrs.update(
        {"hx-get": request.path, "hx-target": "#related-fields", "hx-swap": "outerHTML"}
    )
    context = {"form": form, "endpoint": endpoint}
    if wants_partial(request):
        return render(request, "inventory/_endpoint_form_fields.html", context)
    return render(request, "inventory/endpoint_form.html", context)


@login_required
def endpoint_add(request: HttpRequest) -> HttpResponse:
    require_edit(request)
    if request.method == "POST":
        form = EndpointForm(request.POST, user=request.user)
        if form.is_valid():
            with transaction.atomic():
                endpoint = form.save()
                audit.record(
                    "endpoint.create",
                    endpoint,
                    request=request,
                    changes=audit_values(endpoint, list(form.fields)),
                )
            messages.success(
                request,
                _("Endpoint %(label)s added. It will be checked within a minute.")
                % {"label": endpoint.label},
            )
            return redirect(endpoint)
    else:
        initial = {}
        if request.GET.get("client"):
            initial["client"] = request.GET["client"]
        form = EndpointForm(initial=initial, user=request.user)
    return _render_form(request, form, None)


@login_required
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = visible_endpoint(request, pk)
    require_edit(request)
    if request.method == "POST":
        fields = list(EndpointForm._meta.fields)
        before = audit_values(endpoint, fields)
        form = EndpointForm(request.POST, instance=endpoint, user=request.user)
        if form.is_valid():
            with transaction.atomic():
                endpoint = form.save(commit=False)
                after = audit_values(endpoint, fields)
                changes = audit.diff(before, after)
                if any(name in changes for name in TARGET_FIELDS):
                    endpoint.next_check_at = timezone.now()
                endpoint.save()
                if changes:
                    audit.record("endpoint.update", endpoint, request=request, changes=changes)
            messages.success(request, _("Endpoint %(label)s saved.") % {"label": endpoint.label})
            return redirect(endpoint)
    else:
        initial = {"client": request.GET["client"]} if request.GET.get("client") else None
        form = EndpointForm(instance=endpoint, initial=initial, user=request.user)
    return _render_form(request, form, endpoint)


@login_required
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = visible_endpoint(request, pk)
    require_edit(request)
    if request.method == "POST":
        client = endpoint.client
        label = endpoint.label
        with transaction.atomic():
            audit.record(
                "endpoint.delete",
                endpoint,
                request=request,
                changes=audit_values(endpoint, ["client", "host", "port", "sni"]),
            )
            endpoint.delete()
        messages.success(request, _("Endpoint %(label)s deleted.") % {"label": label})
        return redirect(client)
    return render(request, "inventory/endpoint_confirm_delete.html", {"endpoint": endpoint})


@login_required
@require_POST
def endpoint_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for a check now: the scheduler picks endpoints whose next check is due."""
    endpoint = visible_endpoint(request, pk)
    require_edit(request)
    now = timezone.now()
    Endpoint.objects.filter(pk=endpoint.pk).update(next_check_at=now)
    endpoint.next_check_at = now
    audit.record("endpoint.check_requested", endpoint, request=request)
    if wants_partial(request):
        return render(request, "inventory/_check_requested.html", {"endpoint": endpoint})
    messages.success(request, _("Check requested. The result appears here within a minute or two."))
    return redirect(endpoint)


# A preview lists at most this many of the changes it would make.
CHANGES_SHOWN = 500


def _report_context(report: transfer.ImportReport) -> dict[str, Any]:
    """What the import page shows of an import report."""
    rows = [{"model": label, **counts} for _kind, label, counts in report.rows()]
    changes = [str(c) for c in report.changes]
    return {
        "ok": bool(report.ok),
        "errors": [str(e) for e in report.errors],
        "error_count": report.error_count,
        "more_errors": report.more_errors,
        "counts": rows,
        "changes": changes[:CHANGES_SHOWN],
        "more_changes": max(0, len(changes) - CHANGES_SHOWN),
        "written": sum(r.get("created", 0) + r.get("updated", 0) for r in rows),
    }


@login_required
def inventory_import(request: HttpRequest) -> HttpResponse:
    """Upload an inventory file, see what it would change (dry run), then apply it.

    The previewed file waits in the session; "apply" imports exactly that file (its digest is
    posted back), so what is applied is what was shown.
    """
    require_edit(request)
    context: dict[str, Any] = {}
    form = ImportForm()
    if request.method == "POST":
        if request.POST.get("action") == "apply":
            return _apply_import(request)
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            data = upload.read()
            digest = hashlib.sha256(data).hexdigest()
            report = transfer.import_file(
                data, filename=upload.name, actor=request.user, request=request, dry_run=True
            )
            context.update(preview=_report_context(report), filename=upload.name, digest=digest)
            if report.ok:
                request.session[IMPORT_SESSION_KEY] = {
                    "filename": upload.name,
                    "digest": digest,
                    "data": base64.b64encode(data).decode(),
                }
    context["form"] = form
    return render(request, "inventory/import.html", context)


def _apply_import(request: HttpRequest) -> HttpResponse:
    stored = request.session.get(IMPORT_SESSION_KEY)
    if not stored or stored.get("digest") != request.POST.get("digest"):
        messages.error(request, _("The preview has expired. Upload the file again."))
        return redirect("inventory_import")
    report = transfer.import_file(
        base64.b64decode(stored["data"]),
        filename=stored["filename"],
        actor=request.user,
        request=request,
        dry_run=False,
    )
    del request.session[IMPORT_SESSION_KEY]
    context = {
        "form": ImportForm(),
        "applied": _report_context(report),
        "filename": stored["filename"],
    }
    return render(request, "inventory/import.html", context)
