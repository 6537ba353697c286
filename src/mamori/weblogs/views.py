"""Pages of a site's visitors (MNT-06): the month's figures, the access log setup, collect now,
and the upload of a log file. Clients see their own sites' figures read-only. Every write goes
through :mod:`mamori.weblogs.services`."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.core.permissions import may_change
from mamori.inventory.models import Site
from mamori.weblogs import geo, parse, services
from mamori.weblogs.models import Dimension, LogFile, LogSetup

SETUP_FIELDS = ["enabled", "paths", "log_format", "interval_hours"]


class SetupForm(forms.ModelForm):
    class Meta:
        model = LogSetup
        fields = SETUP_FIELDS
        widgets = {"paths": forms.Textarea(attrs={"rows": 3})}


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Access log file (plain or .gz)"))
    log_format = forms.ChoiceField(
        label=gettext_lazy("log format"), choices=parse.FORMAT_CHOICES, initial="combined"
    )


def month_of(text: str | None) -> dt.date:
    """``YYYY-MM`` → its first day; anything else: this month."""
    try:
        return dt.datetime.strptime(text or "", "%Y-%m").date()
    except ValueError:
        return timezone.localdate().replace(day=1)


def _site(request: HttpRequest, pk: int) -> Site:
    return get_object_or_404(Site.objects.visible_to(request.user).select_related("client"), pk=pk)


@login_required
def site_visitors(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site(request, pk)
    month = month_of(request.GET.get("month"))
    figures = services.month_figures(site, month)
    previous = (month - dt.timedelta(days=1)).replace(day=1)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    setup = LogSetup.objects.filter(site=site).first()
    may = may_change(request.user, LogSetup(site=site))
    sections = [
        (
            Dimension(d).label,
            [(geo.country_name(k), n) for k, n in rows] if d == Dimension.COUNTRY else rows,
        )
        for d, rows in figures.top.items()
    ]
    geo_problem = ""
    if may:
        try:
            geo.countries()
        except geo.GeoError as e:
            geo_problem = str(e)
    return render(
        request,
        "weblogs/site.html",
        {
            "site": site,
            "client": site.client,
            "month": month,
            "previous": previous,
            "following": following if following <= timezone.localdate() else None,
            "figures": figures,
            "sections": sections,
            "geo_problem": geo_problem,
            "setup": setup,
            "may_change": may,
            "files": LogFile.objects.filter(site=site).order_by("-read_at")[:20] if may else [],
        },
    )


@login_required
def site_setup(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site(request, pk)
    setup = LogSetup.objects.filter(site=site).first()
    if not may_change(request.user, setup or LogSetup(site=site)):
        raise PermissionDenied
    form = SetupForm(request.POST or None, instance=setup)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in SETUP_FIELDS}
        try:
            services.save_setup(site, values, actor=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The access log collection is set up."))
            return redirect("weblogs:site", pk=site.pk)
    return render(
        request, "weblogs/setup.html", {"site": site, "client": site.client, "form": form}
    )


@login_required
@require_POST
def site_collect(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site(request, pk)
    if not may_change(request.user, LogSetup(site=site)):
        raise PermissionDenied
    try:
        results = services.collect_site(site, actor=request.user)
    except ValidationError:
        messages.error(request, _("This site has no access log setup."))
    except services.WeblogError as exc:
        messages.error(request, _("The collection failed: %(error)s") % {"error": exc})
    else:
        messages.success(
            request,
            _("%(lines)d new lines read from %(files)d files.")
            % {"lines": sum(r.lines for r in results), "files": len(results)},
        )
    return redirect("weblogs:site", pk=site.pk)


@login_required
def site_import(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site(request, pk)
    if not may_change(request.user, LogSetup(site=site)):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = services.import_upload(
                site,
                upload.chunks(),
                name=upload.name or "upload",
                log_format=form.cleaned_data["log_format"],
                actor=request.user,
            )
        except services.WeblogError as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(
                request,
                _("%(lines)d lines counted, %(rejected)d rejected.")
                % {"lines": result.lines, "rejected": result.rejected},
            )
            return redirect("weblogs:site", pk=site.pk)
    return render(
        request, "weblogs/import.html", {"site": site, "client": site.client, "form": form}
    )
