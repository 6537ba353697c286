"""Pages of a server's software and accounts (MNT-01, MNT-07): what is installed, end of life,
accounts and keys, the events; the collection setup; collect now; acknowledge an account event.
Clients see their own servers' pages read-only. Every write goes through
:mod:`mamori.software.services`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.advisories.models import LEVEL_RANK, Finding, Level
from mamori.backups.models import BackupJob
from mamori.backups.views import last_runs
from mamori.core.permissions import may_change
from mamori.inventory.models import Server
from mamori.software import eol, services
from mamori.software.models import (
    Account,
    AccountEvent,
    AuthorizedKey,
    Collection,
    CollectionSetup,
    Component,
    OperatingSystem,
    Package,
    SoftwareEvent,
)
from mamori.vault.models import Secret


class SetupForm(forms.ModelForm):
    class Meta:
        model = CollectionSetup
        fields = services.SETUP_FIELDS
        widgets = {
            "ssh_host_key": forms.Textarea(attrs={"rows": 2}),
            "wordpress_paths": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, server: Server, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ssh_secret"].queryset = Secret.objects.filter(
            client=server.client, destroyed_at__isnull=True
        )


@login_required
def server_software(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(
        Server.objects.visible_to(request.user).select_related("client"), pk=pk
    )
    staff = request.user.is_provider_staff
    setup = CollectionSetup.objects.filter(server=server).first()
    today = timezone.localdate()
    statuses = [(s, s.days_left(today)) for s in eol.status_of(server, today)]
    # The server's other records, reached from here: open vulnerability findings and backups.
    open_findings = list(
        Finding.objects.filter(server=server, closed_at__isnull=True).values_list(
            "level", "official_fix"
        )
    )
    worst = min((LEVEL_RANK.get(level, 9) for level, _fix in open_findings), default=None)
    backup_jobs = list(BackupJob.objects.visible_to(request.user).filter(server=server))
    last_runs(backup_jobs)
    context = {
        "server": server,
        "client": server.client,
        "setup": setup,
        "may_collect": setup is not None and may_change(request.user, Collection(server=server)),
        "may_setup": may_change(request.user, CollectionSetup(server=server)),
        "system": OperatingSystem.objects.filter(server=server).first(),
        "last": Collection.objects.filter(server=server).first(),
        "collections": Collection.objects.filter(server=server)[:10],
        "statuses": statuses,
        "warn_days": eol.settings.MAMORI_EOL_WARN_DAYS,
        "components": Component.objects.filter(server=server),
        "package_count": Package.objects.filter(server=server).count(),
        "accounts": Account.objects.filter(server=server),
        "keys": AuthorizedKey.objects.filter(server=server),
        "software_events": SoftwareEvent.objects.filter(server=server)[:200],
        "account_events": AccountEvent.objects.filter(server=server)[:200],
        "staff": staff,
        "findings": {
            "open": len(open_findings),
            "fixable": sum(1 for _level, fix in open_findings if fix),
            "worst": next((Level(lv) for lv, rank in LEVEL_RANK.items() if rank == worst), None),
        },
        "backup_jobs": backup_jobs,
    }
    return render(request, "software/server.html", context)


@login_required
def server_packages(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(Server.objects.visible_to(request.user), pk=pk)
    query = (request.GET.get("q") or "").strip()[:100]
    packages = Package.objects.filter(server=server)
    if query:
        packages = packages.filter(name__icontains=query)
    return render(
        request,
        "software/packages.html",
        {"server": server, "client": server.client, "packages": packages[:2000], "q": query},
    )


@login_required
def server_setup(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(Server.objects.visible_to(request.user), pk=pk)
    setup = CollectionSetup.objects.filter(server=server).first()
    if not may_change(request.user, setup or CollectionSetup(server=server)):
        raise PermissionDenied
    form = SetupForm(request.POST or None, instance=setup, server=server)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in services.SETUP_FIELDS}
        try:
            services.save_setup(server, values, actor=request.user, request=request)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The software collection is set up."))
            return redirect("software:server", pk=server.pk)
    return render(
        request,
        "software/setup.html",
        {"server": server, "client": server.client, "form": form, "setup": setup},
    )


@login_required
@require_POST
def server_collect(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(Server.objects.visible_to(request.user), pk=pk)
    try:
        collection = services.collect_server(server, actor=request.user, request=request)
    except services.CollectionBusy:
        messages.error(request, _("A collection of this server is already running."))
    except ValidationError:
        messages.error(request, _("This server has no software collection set up."))
    else:
        if collection.state == "failed":
            messages.error(
                request, _("The collection failed: %(error)s") % {"error": collection.error}
            )
        else:
            messages.success(request, _("The server's software was collected."))
    return redirect("software:server", pk=server.pk)


@login_required
@require_POST
def account_event_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(AccountEvent.objects.visible_to(request.user), pk=pk)
    services.acknowledge(event, actor=request.user, request=request)
    return redirect("software:server", pk=event.server_id)
