"""Endpoints (list, page, add, edit, delete, check now) and the inventory import."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.certificates import queries
from mamori.certificates.models import CertificateEvent, CertificateSighting
from mamori.clients.forms import show_refusal
from mamori.core import audit
from mamori.core.htmx import wants_partial
from mamori.inventory import services, transfer
from mamori.inventory.forms import EndpointFilterForm, EndpointForm, ImportForm
from mamori.inventory.models import Endpoint
from mamori.notices.models import Notice

PAGE_SIZE = 50
HISTORY_LIMIT = 100
IMPORT_SESSION_KEY = "mamori_import_upload"


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


def _endpoint_values(form: EndpointForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in services.ENDPOINT_FIELDS}


def _taken_from_url(request: HttpRequest, form: EndpointForm) -> None:
    if form.taken_from_url:
        messages.info(
            request,
            _("The host %(host)s was taken from the URL %(url)s.")
            % {"host": form.cleaned_data["host"], "url": form.taken_from_url},
        )


@login_required
def endpoint_add(request: HttpRequest) -> HttpResponse:
    require_edit(request)
    if request.method == "POST":
        form = EndpointForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                endpoint = services.create_endpoint(
                    request.user,
                    form.cleaned_data["client"],
                    _endpoint_values(form),
                    request=request,
                )
            except (ValidationError, services.Refused) as e:
                show_refusal(form, Endpoint, e)
            else:
                _taken_from_url(request, form)
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
        form = EndpointForm(request.POST, instance=endpoint, user=request.user)
        if form.is_valid():
            # The form wrote its values into the instance: change the endpoint as stored.
            stored = visible_endpoint(request, pk)
            try:
                services.change_endpoint(
                    request.user, stored, _endpoint_values(form), request=request
                )
            except (ValidationError, services.Refused) as e:
                show_refusal(form, Endpoint, e)
            else:
                _taken_from_url(request, form)
                messages.success(request, _("Endpoint %(label)s saved.") % {"label": stored.label})
                return redirect(stored)
    else:
        initial = {"client": request.GET["client"]} if request.GET.get("client") else None
        form = EndpointForm(instance=endpoint, initial=initial, user=request.user)
    return _render_form(request, form, endpoint)


@login_required
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = visible_endpoint(request, pk)
    require_edit(request)
    problem = ""
    if request.method == "POST":
        client = endpoint.client
        label = endpoint.label
        try:
            services.delete_endpoint(request.user, endpoint, request=request)
        except (services.Referenced, services.Refused) as e:
            problem = getattr(e, "message", None) or str(e)
        else:
            messages.success(request, _("Endpoint %(label)s deleted.") % {"label": label})
            return redirect(client)
    return render(
        request,
        "inventory/endpoint_confirm_delete.html",
        {"endpoint": endpoint, "problem": problem},
        status=409 if problem else 200,
    )


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


# The import file's format document and a template file that imports as it is.
FILES = Path(__file__).resolve().parent / "files"
FORMAT_DOCUMENT = FILES / "import-format.md"
TEMPLATE_FILE = FILES / "inventory-template.yaml"


@login_required
def import_format(request: HttpRequest) -> HttpResponse:
    """The inventory file's format (docs/import-format.md) as a page, and as the file."""
    require_edit(request)
    import markdown

    text = FORMAT_DOCUMENT.read_text(encoding="utf-8")
    if request.GET.get("download"):
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="import-format.md"'
        return response
    # Our own document (not user input): its HTML is shown as written.
    html = markdown.markdown(text, extensions=["tables", "fenced_code"], output_format="html")
    return render(request, "inventory/import_format.html", {"document": mark_safe(html)})  # noqa: S308


@login_required
def import_template(request: HttpRequest) -> HttpResponse:
    """A template inventory file (YAML) to fill in; it imports cleanly as it is."""
    require_edit(request)
    response = HttpResponse(
        TEMPLATE_FILE.read_bytes(), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="mamori-inventory-template.yaml"'
    return response
