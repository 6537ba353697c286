"""Maintenance window pages (MON-06).

- The month calendar of occurrences (recurring windows expanded), the next occurrences and the
  windows themselves, for the clients the user may see.
- Provider staff add, edit and cancel windows; client users see their own read-only.

Everything is fetched through ``visible_to``; every write is audited.
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
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.clients.models import Client
from mamori.core.permissions import changeable, require_change
from mamori.core.widgets import ClientRecordSelect
from mamori.inventory.models import Server, Site
from mamori.monitoring import maintenance
from mamori.monitoring.models import MaintenanceWindow

#: How far ahead the list of next occurrences looks.
UPCOMING_DAYS = 90

_LOCAL = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class WindowForm(forms.ModelForm):
    class Meta:
        model = MaintenanceWindow
        fields = [
            "client",
            "site",
            "server",
            "title",
            "description",
            "starts_at",
            "ends_at",
            "recurrence",
            "repeat_until",
            "notify_hours_before",
        ]
        widgets = {
            "starts_at": _LOCAL,
            "ends_at": _LOCAL,
            "repeat_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "description": forms.Textarea(attrs={"rows": 3}),
            # Only the chosen client's sites and servers are listed (mamori.js).
            "site": ClientRecordSelect,
            "server": ClientRecordSelect,
        }
        labels = {
            "title": gettext_lazy("Work"),
            "description": gettext_lazy("What will be done"),
        }
        help_texts = {
            "site": gettext_lazy("Empty with no server: the whole client."),
            "server": gettext_lazy("Covers the server's checks and those of the sites it hosts."),
            "repeat_until": gettext_lazy("Empty: for ever."),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        clients = changeable(Client.objects.all(), user, MaintenanceWindow.change_rule)
        self.fields["client"].queryset = clients.order_by("name")
        self.fields["client"].label = _("Client")
        self.fields["site"].queryset = (
            Site.objects.filter(client__in=clients).select_related("client").order_by("name")
        )
        self.fields["server"].queryset = (
            Server.objects.filter(client__in=clients).select_related("client").order_by("name")
        )
        self.fields["site"].label_from_instance = lambda s: f"{s.client.name} · {s.name}"
        self.fields["server"].label_from_instance = lambda s: f"{s.client.name} · {s.name}"
        self.fields["notify_hours_before"].max_value = 24 * 366
        self.fields["notify_hours_before"].widget.attrs["max"] = 24 * 366

    def clean_notify_hours_before(self):
        hours = self.cleaned_data["notify_hours_before"]
        if hours is not None and hours > 24 * 366:
            raise forms.ValidationError(_("At most a year (8784 hours)."))
        return hours

    def clean(self):
        data = super().clean()
        if data.get("site") is not None and data.get("server") is not None:
            self.add_error("server", _("Choose a site or a server, not both."))
        return data


# --- helpers -------------------------------------------------------------------------------------


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        today = timezone.localdate()
        return today.replace(day=1)


def _shift(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day))


def month_grid(windows, month: dt.date) -> list[list[dict]]:
    """Weeks (Monday first) of days, each with the occurrences that touch it."""
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    start, end = _local_midnight(weeks[0][0]), _local_midnight(weeks[-1][-1] + dt.timedelta(1))
    found = maintenance.upcoming(windows, start, end, limit=maintenance.MAX_OCCURRENCES)
    today = timezone.localdate()
    grid = []
    for week in weeks:
        row = []
        for day in week:
            begins, ends = _local_midnight(day), _local_midnight(day + dt.timedelta(1))
            row.append(
                {
                    "date": day,
                    "in_month": day.month == month.month,
                    "today": day == today,
                    "items": [
                        {"window": w, "starts": s, "ends": e, "continued": s < begins}
                        for w, s, e in found
                        if s < ends and e > begins
                    ],
                }
            )
        grid.append(row)
    return grid


def visible_window(request: HttpRequest, pk: int) -> MaintenanceWindow:
    return get_object_or_404(
        MaintenanceWindow.objects.visible_to(request.user).select_related(
            "client", "site", "server"
        ),
        pk=pk,
    )


# --- pages ---------------------------------------------------------------------------------------


@login_required
def maintenance_calendar(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.visible_to(request.user).order_by("name")
    windows = MaintenanceWindow.objects.visible_to(request.user).select_related(
        "client", "site", "server"
    )
    client = request.GET.get("client", "")
    if client:
        windows = windows.filter(client__code=client)
    windows = list(windows)
    month = _month(request.GET.get("month", ""))
    now = timezone.now()
    active = [w for w in windows if w.cancelled_at is None]
    context = {
        "month": month,
        "month_value": month.strftime("%Y-%m"),
        "previous": _shift(month, -1).strftime("%Y-%m"),
        "next": _shift(month, 1).strftime("%Y-%m"),
        "weekdays": [WEEKDAYS_ABBR[i] for i in range(7)],
        "weeks": month_grid(active, month),
        "upcoming": maintenance.upcoming(
            active, now, now + dt.timedelta(days=UPCOMING_DAYS), limit=50
        ),
        "windows": sorted(
            windows, key=lambda w: (w.cancelled_at is not None, -w.starts_at.timestamp())
        ),
        "client": client,
        "clients": clients,
        "now": now,
        "may_add": request.user.is_provider_staff,
        "staff_clients": set(
            changeable(clients, request.user, MaintenanceWindow.change_rule).values_list(
                "pk", flat=True
            )
        ),
    }
    return render(request, "monitoring/maintenance/calendar.html", context)


@login_required
def maintenance_add(request: HttpRequest) -> HttpResponse:
    if not request.user.is_provider_staff:
        raise PermissionDenied
    initial = {"notify_hours_before": 72}
    code = request.GET.get("client")
    if code:
        initial["client"] = Client.objects.filter(code=code).values_list("pk", flat=True).first()
    form = WindowForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            window = maintenance.add_window(
                form.save(commit=False), actor=request.user, request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Maintenance window added."))
            _warn_if_begun(request, window)
            return _to_calendar(window)
    return render(request, "monitoring/maintenance/form.html", {"form": form, "window": None})


@login_required
def maintenance_edit(request: HttpRequest, pk: int) -> HttpResponse:
    window = visible_window(request, pk)
    require_change(request.user, window)
    if window.cancelled_at is not None:
        messages.error(request, _("This window is cancelled and can no longer be changed."))
        return _to_calendar(window)
    planned_start = window.starts_at
    form = WindowForm(request.POST or None, instance=window, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            window = maintenance.edit_window(
                form.save(commit=False), actor=request.user, request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Maintenance window saved."))
            if window.starts_at != planned_start:
                _warn_if_begun(request, window)
            return _to_calendar(window)
    return render(request, "monitoring/maintenance/form.html", {"form": form, "window": window})


@login_required
@require_POST
def maintenance_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    window = visible_window(request, pk)
    if maintenance.cancel_window(window, actor=request.user, request=request) is None:
        messages.info(request, _("This window was already cancelled."))
        return _to_calendar(window)
    messages.success(request, _("Maintenance window cancelled."))
    return _to_calendar(window)


def _warn_if_begun(request: HttpRequest, window: MaintenanceWindow) -> None:
    """A window entered after its start (urgent work) was never announced: say so."""
    if window.starts_at <= timezone.now():
        messages.warning(
            request,
            _("This window has already begun: the client was not told about it in advance."),
        )


def _to_calendar(window: MaintenanceWindow) -> HttpResponse:
    month = timezone.localtime(window.starts_at).strftime("%Y-%m")
    return redirect(f"{reverse('maintenance_calendar')}?month={month}&client={window.client.code}")


urlpatterns = [
    path("maintenance/", maintenance_calendar, name="maintenance_calendar"),
    path("maintenance/add/", maintenance_add, name="maintenance_add"),
    path("maintenance/<int:pk>/edit/", maintenance_edit, name="maintenance_edit"),
    path("maintenance/<int:pk>/cancel/", maintenance_cancel, name="maintenance_cancel"),
]
