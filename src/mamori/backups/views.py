"""Backup pages (BKP-01, BKP-02): the jobs and each run's result per client (a calendar of the
month's runs and the list), a job with its runs, the job form (reached from the client page),
asking for a backup or drill now, and a restore for the client.

Everything is fetched through ``visible_to``; writes go through :mod:`mamori.backups.services`
(audited there). Client users read their own jobs and runs; provider staff change them.
"""

from __future__ import annotations

import calendar
import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.backups import services
from mamori.backups.models import BackupJob, BackupRun, RunKind
from mamori.clients.models import Client, Contract
from mamori.core.permissions import may_change, require_change
from mamori.inventory.models import Server, Site
from mamori.vault.models import Secret


class JobForm(forms.ModelForm):
    class Meta:
        model = BackupJob
        fields = services.JOB_FIELDS
        widgets = {
            "paths": forms.Textarea(attrs={"rows": 3}),
            "repository_host_key": forms.Textarea(attrs={"rows": 2}),
            "ssh_host_key": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, client: Client, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.client = client
        self.fields["contract"].queryset = Contract.objects.filter(client=client)
        self.fields["site"].queryset = Site.objects.filter(client=client)
        self.fields["server"].queryset = Server.objects.filter(client=client)
        secrets = Secret.objects.filter(client=client).live()
        for name in BackupJob.SECRET_FIELDS:
            self.fields[name].queryset = secrets


class RestoreForm(forms.Form):
    path = forms.CharField(
        label=gettext_lazy("Path"),
        max_length=1000,
        help_text=gettext_lazy("The absolute path, as it was backed up."),
    )
    snapshot = forms.CharField(
        label=gettext_lazy("Snapshot"),
        max_length=64,
        initial="latest",
        help_text=gettext_lazy("latest, or a snapshot id from the runs."),
    )
    target = forms.CharField(label=gettext_lazy("Restore to"), max_length=1000)


def last_runs(jobs) -> None:
    """Set ``last_backup`` and ``last_drill`` on each job (two queries)."""
    ids = [j.pk for j in jobs]
    latest: dict[tuple[int, str], BackupRun] = {}
    runs = BackupRun.objects.filter(job_id__in=ids, kind__in=[RunKind.BACKUP, RunKind.DRILL])
    for run in runs.order_by("job_id", "kind", "-pk"):
        latest.setdefault((run.job_id, run.kind), run)
    for job in jobs:
        job.last_backup = latest.get((job.pk, RunKind.BACKUP))
        job.last_drill = latest.get((job.pk, RunKind.DRILL))


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return timezone.localdate().replace(day=1)


def _shift(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_grid(runs, month: dt.date) -> list[list[dict]]:
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    by_day: dict[dt.date, list[BackupRun]] = {}
    for run in runs:
        when = run.started_at or run.due_at
        if when is not None:
            by_day.setdefault(timezone.localtime(when).date(), []).append(run)
    today = timezone.localdate()
    return [
        [
            {
                "date": d,
                "in_month": d.month == month.month,
                "today": d == today,
                "runs": by_day.get(d, []),
            }
            for d in week
        ]
        for week in weeks
    ]


@login_required
def backup_list(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.visible_to(request.user).order_by("name")
    jobs = BackupJob.objects.visible_to(request.user).select_related("client", "site", "server")
    code = request.GET.get("client", "")
    if code:
        jobs = jobs.filter(client__code=code)
    jobs = list(jobs.order_by("client__name", "name"))
    last_runs(jobs)
    month = _month(request.GET.get("month", ""))
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    start = timezone.make_aware(dt.datetime.combine(weeks[0][0], dt.time()))
    end = timezone.make_aware(dt.datetime.combine(weeks[-1][-1] + dt.timedelta(1), dt.time()))
    runs = (
        BackupRun.objects.visible_to(request.user)
        .filter(job__in=[j.pk for j in jobs])
        .filter(started_at__gte=start, started_at__lt=end)
        .select_related("job")
        .order_by("started_at")
    )
    missed = BackupRun.objects.visible_to(request.user).filter(
        job__in=[j.pk for j in jobs], started_at__isnull=True, due_at__gte=start, due_at__lt=end
    )
    context = {
        "jobs": jobs,
        "clients": clients,
        "client": code,
        "month": month,
        "month_value": month.strftime("%Y-%m"),
        "previous": _shift(month, -1).strftime("%Y-%m"),
        "next": _shift(month, 1).strftime("%Y-%m"),
        "weekdays": [WEEKDAYS_ABBR[i] for i in range(7)],
        "weeks": month_grid([*runs, *missed.select_related("job")], month),
    }
    return render(request, "backups/list.html", context)


def visible_job(request: HttpRequest, pk: int) -> BackupJob:
    return get_object_or_404(
        BackupJob.objects.visible_to(request.user).select_related(
            "client", "contract", "site", "server", "incident"
        ),
        pk=pk,
    )


@login_required
def backup_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = visible_job(request, pk)
    runs = job.runs.select_related("requested_by").order_by("-pk")[:100]
    context = {
        "job": job,
        "runs": runs,
        "may_change": may_change(request.user, job),
        "restore_form": RestoreForm(),
    }
    return render(request, "backups/job.html", context)


@login_required
def backup_job_add(request: HttpRequest, code: str) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    require_change(request.user, BackupJob(client=client))
    form = JobForm(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in services.JOB_FIELDS}
        try:
            job = services.create_job(client, request.user, request=request, **fields)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Backup job added."))
            return redirect("backup_job", job.pk)
    return render(request, "backups/form.html", {"form": form, "client": client, "job": None})


@login_required
def backup_job_edit(request: HttpRequest, pk: int) -> HttpResponse:
    job = visible_job(request, pk)
    require_change(request.user, job)
    form = JobForm(request.POST or None, instance=job, client=job.client)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in services.JOB_FIELDS}
        job = BackupJob.objects.get(pk=job.pk)
        try:
            services.update_job(job, request.user, request=request, **fields)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Backup job saved."))
            return redirect("backup_job", job.pk)
    return render(request, "backups/form.html", {"form": form, "client": job.client, "job": job})


@login_required
@require_POST
def backup_job_now(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    job = visible_job(request, pk)
    if kind not in (RunKind.BACKUP, RunKind.DRILL):
        raise PermissionDenied
    services.request_now(job, request.user, kind, request=request)
    messages.success(
        request,
        _("The backup starts within a minute.")
        if kind == RunKind.BACKUP
        else _("The restore drill starts within a minute."),
    )
    return redirect("backup_job", job.pk)


@login_required
def backup_restore(request: HttpRequest, pk: int) -> HttpResponse:
    job = visible_job(request, pk)
    require_change(request.user, job)
    form = RestoreForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = services.restore(job, request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except services.Busy:
            form.add_error(None, _("Another run of this job is running."))
        else:
            if run.state == "succeeded":
                messages.success(request, _("Restored."))
            else:
                messages.error(request, _("The restore failed; see its run below."))
            return redirect("backup_job", job.pk)
    return render(request, "backups/restore.html", {"form": form, "job": job})


urlpatterns = [
    path("", backup_list, name="backup_list"),
    path("jobs/<int:pk>/", backup_job, name="backup_job"),
    path("jobs/<int:pk>/edit/", backup_job_edit, name="backup_job_edit"),
    path("jobs/<int:pk>/backup-now/", backup_job_now, {"kind": "backup"}, name="backup_job_now"),
    path("jobs/<int:pk>/drill-now/", backup_job_now, {"kind": "drill"}, name="backup_drill_now"),
    path("jobs/<int:pk>/restore/", backup_restore, name="backup_restore"),
    path("clients/<str:code>/add/", backup_job_add, name="backup_job_add"),
]
