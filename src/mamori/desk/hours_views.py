"""Pages of support hours (MNT-05): a contract's support hours and targets (from the contract
page), and the provider's closed days (年末年始, 夏季休業; provider administrators and operators).

Writes go through :mod:`mamori.desk.hours_services`.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.clients.forms import REQUIRED
from mamori.clients.models import Contract
from mamori.core.permissions import Rule, may_change
from mamori.desk import hours
from mamori.desk import hours_services as services
from mamori.desk.models import ClosedDay, SupportHours
from mamori.desk.services import DeskError

WEEKDAY_CHOICES = [
    (0, gettext_lazy("Monday")),
    (1, gettext_lazy("Tuesday")),
    (2, gettext_lazy("Wednesday")),
    (3, gettext_lazy("Thursday")),
    (4, gettext_lazy("Friday")),
    (5, gettext_lazy("Saturday")),
    (6, gettext_lazy("Sunday")),
]

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _required(form: forms.Form) -> None:
    for field in form.fields.values():
        field.error_messages["required"] = REQUIRED


class SupportHoursForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Days of the week"),
        choices=WEEKDAY_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Japanese public holidays and the closed days never count."),
    )
    opens = forms.TimeField(label=gettext_lazy("Opens"), widget=TIME)
    closes = forms.TimeField(label=gettext_lazy("Closes"), widget=TIME)
    first_response = forms.CharField(
        label=gettext_lazy("First response within"),
        required=False,
        max_length=20,
        help_text=gettext_lazy(
            "Business time: 90m, 4h, or 1d for one support day. Empty: the default."
        ),
    )
    resolution = forms.CharField(
        label=gettext_lazy("Resolution within"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("Business time, e.g. 3d (three support days). Empty: the default."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _required(self)

    def clean(self):
        data = super().clean()
        opens, closes = data.get("opens"), data.get("closes")
        if opens and closes and closes <= opens:
            self.add_error("closes", _("Support must close after it opens, on the same day."))
            return data
        day_minutes = (
            hours.Hours(opens=opens, closes=closes).day_minutes if opens and closes else 480
        )
        for name in ("first_response", "resolution"):
            text = (data.get(name) or "").strip()
            if not text:
                data[name] = None
                continue
            try:
                data[name] = hours.parse_duration(text, day_minutes)
            except hours.HoursError:
                self.add_error(name, _("Write a duration such as 90m, 4h or 3d."))
        return data


class ClosedDayForm(forms.Form):
    first = forms.DateField(label=gettext_lazy("First day"), widget=DATE)
    last = forms.DateField(label=gettext_lazy("Last day"), widget=DATE)
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("e.g. 年末年始 or 夏季休業"),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _required(self)


def _check_after(request: HttpRequest, calendar: hours.Hours) -> tuple[dt.date, list[dt.date]]:
    """The day the "next business days" check starts after (``?after=``, default today)."""
    after = timezone.localdate()
    text = request.GET.get("after", "").strip()
    if text:
        try:
            after = dt.date.fromisoformat(text)
        except ValueError:
            messages.error(request, _("Give the day as YYYY-MM-DD."))
    try:
        return after, calendar.business_days(after, 5)
    except hours.HoursError:
        return after, []


@login_required
def support_hours(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(
        Contract.objects.visible_to(request.user).select_related("client"), pk=pk
    )
    may_edit = may_change(request.user, contract, Rule.STAFF)
    row = SupportHours.objects.filter(contract=contract).first()
    calendar = hours.for_contract(contract)
    initial = {
        "weekdays": sorted(calendar.weekdays),
        "opens": calendar.opens,
        "closes": calendar.closes,
        "first_response": hours.format_minutes(row.first_response_minutes, calendar.day_minutes)
        if row and row.first_response_minutes
        else "",
        "resolution": hours.format_minutes(row.resolution_minutes, calendar.day_minutes)
        if row and row.resolution_minutes
        else "",
    }
    form = SupportHoursForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.set_support_hours(
                    contract,
                    weekdays=data["weekdays"],
                    opens=data["opens"],
                    closes=data["closes"],
                    first_response_minutes=data["first_response"],
                    resolution_minutes=data["resolution"],
                    actor=request.user,
                    http_request=request,
                )
            except DeskError as e:
                form.add_error(e.field if e.field in form.fields else None, str(e))
            else:
                messages.success(request, _("The support hours were saved."))
                return redirect(reverse("contract_support_hours", args=[contract.pk]))
        status = 400
    after, next_days = _check_after(request, calendar)
    context = {
        "contract": contract,
        "client": contract.client,
        "row": row,
        "calendar": calendar,
        "weekday_names": [str(label) for day, label in WEEKDAY_CHOICES if day in calendar.weekdays],
        "first_response": _duration_parts(calendar.first_response_minutes, calendar),
        "resolution": _duration_parts(calendar.resolution_minutes, calendar),
        "form": form,
        "may_edit": may_edit,
        "after": after,
        "next_days": [(d, hours.holiday_name(d)) for d in next_days],
        "closed_days": ClosedDay.objects.filter(last__gte=timezone.localdate())[:10],
        "may_manage_closed_days": services.may_manage_closed_days(request.user),
    }
    return render(request, "desk/support_hours.html", context, status=status)


def _duration_parts(minutes: int, calendar: hours.Hours) -> dict:
    days, rest = divmod(minutes, calendar.day_minutes)
    return {"minutes": minutes, "days": days, "hours": rest // 60, "rest": rest % 60}


def _require_staff(request: HttpRequest) -> None:
    if not services.may_manage_closed_days(request.user):
        raise PermissionDenied


@login_required
def closed_days(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    form = ClosedDayForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.add_closed_day(
                    data["first"],
                    data["last"],
                    data["name"],
                    actor=request.user,
                    http_request=request,
                )
            except DeskError as e:
                form.add_error(e.field if e.field in form.fields else None, str(e))
            else:
                messages.success(request, _("The closed days were added."))
                return redirect(reverse("desk_closed_days"))
        status = 400
    today = timezone.localdate()
    days = list(ClosedDay.objects.order_by("-first"))
    calendar = hours.defaults(hours.closed_ranges())
    for day in days:
        day.past = day.last < today
        day.count = (day.last - day.first).days + 1
        day.reopens = calendar.next_business_day(day.last) if not day.past else None
    return render(request, "desk/closed_days.html", {"form": form, "days": days}, status=status)


@login_required
@require_POST
def closed_day_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require_staff(request)
    closed = get_object_or_404(ClosedDay, pk=pk)
    services.remove_closed_day(closed, actor=request.user, http_request=request)
    messages.success(request, _("The closed days “%(name)s” were removed.") % {"name": closed.name})
    return redirect(reverse("desk_closed_days"))
