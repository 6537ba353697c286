"""Pages of vulnerabilities and updates (MNT-02): the data's age and the open findings, a
server's findings and updates (from the client's page), the updates list and one update."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from mamori.advisories import feeds, updates
from mamori.advisories.forms import UpdateForm
from mamori.advisories.models import LEVEL_RANK, Finding, UpdateMethod, UpdateRecord
from mamori.core.permissions import may_change
from mamori.inventory.models import Server, Site


def _ranked(findings) -> list[Finding]:
    return sorted(
        findings, key=lambda f: (LEVEL_RANK.get(f.level, 9), not f.official_fix, f.package)
    )


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    servers = (
        Server.objects.visible_to(request.user)
        .select_related("client")
        .annotate(
            open_findings=Count(
                "advisory_findings", filter=Q(advisory_findings__closed_at__isnull=True)
            ),
            fixable=Count(
                "advisory_findings",
                filter=Q(
                    advisory_findings__closed_at__isnull=True,
                    advisory_findings__official_fix=True,
                ),
            ),
        )
        .filter(open_findings__gt=0)
        .order_by("-open_findings", "client__code", "name")
    )
    return render(
        request,
        "advisories/overview.html",
        {"servers": servers[:500], "age": feeds.data_age()},
    )


@login_required
def server_findings(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(
        Server.objects.visible_to(request.user).select_related("client"), pk=pk
    )
    findings = Finding.objects.filter(server=server).select_related("advisory")
    may = may_change(request.user, server.client, UpdateRecord.change_rule)
    sites = Site.objects.filter(client=server.client)
    form = None
    if may:
        form = UpdateForm(request.POST or None, sites=sites)
        if request.method == "POST" and form.is_valid():
            values = {**form.cleaned_data, "server": server}
            try:
                if values["method"] == UpdateMethod.MANUAL:
                    record = updates.record_update(
                        request.user, server.client, values, request=request
                    )
                    messages.success(request, _("The update is recorded."))
                else:
                    record = updates.start_update(
                        request.user, server.client, values, request=request
                    )
                    messages.success(request, _("The update will run on the server shortly."))
                return redirect(record.get_absolute_url())
            except updates.UpdateError as exc:
                form.add_error(None, str(exc))
    elif request.method == "POST":
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    return render(
        request,
        "advisories/server.html",
        {
            "server": server,
            "client": server.client,
            "open": _ranked(findings.filter(closed_at__isnull=True)),
            "closed": findings.filter(closed_at__isnull=False).order_by("-closed_at")[:50],
            "records": UpdateRecord.objects.filter(server=server)[:50],
            "form": form,
            "age": feeds.data_age(),
        },
        status=400 if form is not None and form.errors else 200,
    )


@login_required
def update_list(request: HttpRequest) -> HttpResponse:
    records = UpdateRecord.objects.visible_to(request.user).select_related(
        "client", "server", "site"
    )
    page = Paginator(records, 100).get_page(request.GET.get("page"))
    return render(request, "advisories/updates.html", {"page": page})


@login_required
def update_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(
        UpdateRecord.objects.visible_to(request.user).select_related("client", "server", "site"),
        pk=pk,
    )
    return render(request, "advisories/update.html", {"record": record})
