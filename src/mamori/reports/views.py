"""Pages of monthly reports (RPT-01): the list (the provider's, or a client's own released
reports in the portal), a report with its review and release buttons, its PDF in Japanese
and English, building a month, and a client's report settings.

Everything is fetched through ``visible_to``; client users see released versions only.
Building, releasing and the settings are for the provider's administrators and operators.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.clients.models import Client
from mamori.reports import pdf, services
from mamori.reports import render as present
from mamori.reports.models import Report, ReportState


class BuildForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.none(), label=gettext_lazy("Client"), to_field_name="code"
    )
    month = forms.CharField(label=gettext_lazy("Month"), help_text=gettext_lazy("YYYY-MM"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.visible_to(user).order_by("code")

    def clean_month(self):
        try:
            return services.parse_month(self.cleaned_data["month"])
        except services.ReportError as exc:
            raise forms.ValidationError(str(exc)) from None


class SettingsForm(forms.Form):
    business_day = forms.IntegerField(
        label=gettext_lazy("Built on business day"),
        min_value=1,
        max_value=15,
        help_text=gettext_lazy("The Nth Japanese business day of the next month (5: the 5th)."),
    )
    auto_release = forms.BooleanField(label=gettext_lazy("Release without review"), required=False)


def _report(request: HttpRequest, pk: int) -> Report:
    return get_object_or_404(services.visible_reports(request.user), pk=pk)


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    reports = services.visible_reports(request.user)
    code = request.GET.get("client", "")
    if code:
        reports = reports.filter(client__code=code)
    page = Paginator(reports, 50).get_page(request.GET.get("page"))
    may_manage = services.may_manage(request.user)
    form = BuildForm(user=request.user) if may_manage else None
    return render(
        request,
        "reports/list.html",
        {"page": page, "reports": page.object_list, "may_manage": may_manage, "form": form},
    )


@login_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    language = present.language_of(request.GET.get("lang") or get_language())
    versions = services.visible_reports(request.user).filter(
        client=report.client, month=report.month
    )
    context = {
        "report": report,
        "doc": present.document(report, language),
        "doc_language": language,
        "languages": present.LANGUAGES,
        "versions": versions.order_by("-version"),
        "may_manage": services.may_manage(request.user),
        "is_draft": report.state == ReportState.DRAFT,
    }
    return render(request, "reports/detail.html", context)


@login_required
def report_pdf(request: HttpRequest, pk: int, language: str) -> HttpResponse:
    report = _report(request, pk)
    if language not in present.LANGUAGES:
        raise Http404
    response = HttpResponse(pdf.render(report, language), content_type="application/pdf")
    disposition = "inline" if request.GET.get("view") else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{pdf.filename(report, language)}"'
    return response


@login_required
@require_POST
def report_build(request: HttpRequest) -> HttpResponse:
    if not services.may_manage(request.user):
        raise PermissionDenied
    form = BuildForm(request.POST, user=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
        return redirect("report_list")
    try:
        report = services.build_report(
            form.cleaned_data["client"],
            form.cleaned_data["month"],
            actor=request.user,
            request=request,
        )
    except services.ReportError as exc:
        messages.error(request, str(exc))
        return redirect("report_list")
    messages.success(request, _("The report was built. Review it, then release it."))
    return redirect(report.get_absolute_url())


@login_required
@require_POST
def report_rebuild(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    if not services.may_manage(request.user):
        raise PermissionDenied
    try:
        new = services.build_report(
            report.client, report.month, actor=request.user, request=request
        )
    except services.ReportError as exc:
        messages.error(request, str(exc))
        return redirect(report.get_absolute_url())
    messages.success(request, _("The report was built again from the current records."))
    return redirect(new.get_absolute_url())


@login_required
@require_POST
def report_release(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    if not services.may_manage(request.user):
        raise PermissionDenied
    was_sent = report.state == ReportState.SENT
    try:
        report = services.release(report, actor=request.user, request=request)
    except services.ReportError as exc:
        messages.error(request, str(exc))
        return redirect(report.get_absolute_url())
    if was_sent:
        messages.info(request, _("This report was sent already: nothing more was sent."))
    else:
        messages.success(
            request,
            _("Released: %(n)d notices queued.") % {"n": report.notices},
        )
    return redirect(report.get_absolute_url())


@login_required
def report_settings(request: HttpRequest, code: str) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    if not services.may_manage(request.user):
        raise PermissionDenied
    row = services.settings_of(client)
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            try:
                services.change_settings(
                    client, actor=request.user, request=request, **form.cleaned_data
                )
            except services.ReportError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The report settings were saved."))
                return redirect(f"{client.get_absolute_url()}")
    else:
        form = SettingsForm(
            initial={"business_day": row.business_day, "auto_release": row.auto_release}
        )
    return render(request, "reports/settings.html", {"client": client, "form": form})
