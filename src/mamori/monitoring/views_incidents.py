"""Incident pages (MON-03, MON-05, MON-08, MON-09, RPT-02).

- The list, filtered by state, client, cause and month.
- An incident's page: its timeline, the notices sent for it, downtime and SLA attribution;
  provider staff acknowledge, note, set the cause (with impact, actions and prevention), record
  emergency measures and stops, and close. The client's administrators may add notes; its
  viewers only read.
- Opening an incident by hand (provider staff).
- The printable incident report, in the viewer's language.

Everything is fetched through ``visible_to``; every write is audited.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.access.services import provider_name
from mamori.clients import waits
from mamori.clients.models import Client, ClientWait
from mamori.clients.wait_forms import WaitEndForm, WaitForm, moment_field
from mamori.core.permissions import changeable, may_change, require_change
from mamori.core.widgets import ClientRecordSelect
from mamori.inventory.models import Server, Site
from mamori.monitoring import incidents
from mamori.monitoring.incidents import IncidentError
from mamori.monitoring.models import (
    Cause,
    Incident,
    IncidentEventKind,
    IncidentState,
)
from mamori.notices.models import Notice

PAGE_SIZE = 50


# --- forms ---------------------------------------------------------------------------------------


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


def _area(label):
    return forms.CharField(
        label=label, required=False, max_length=10000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CauseForm(forms.Form):
    cause = forms.ChoiceField(label=gettext_lazy("Cause"), choices=Cause.choices)
    cause_detail = _area(gettext_lazy("Cause in detail"))
    impact = _area(gettext_lazy("Impact"))
    actions = _area(gettext_lazy("Actions taken"))
    prevention = _area(gettext_lazy("Prevention"))


class EmergencyForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Measure taken"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    minutes = forms.IntegerField(
        label=gettext_lazy("Minutes spent"),
        min_value=1,
        max_value=100000,
        help_text=gettext_lazy("Billable as extra work."),
    )


class StopForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the stop"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    at = forms.DateTimeField(
        label=gettext_lazy("Stopped at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Empty: now."),
    )

    def clean_at(self):
        at = self.cleaned_data["at"]
        if at is not None and at > timezone.now() + dt.timedelta(minutes=5):
            raise forms.ValidationError(_("The time is in the future."))
        return at


class RecoveryForm(forms.Form):
    recovered_at = moment_field(gettext_lazy("Service back at"), required=True)


class IncidentForm(forms.Form):
    client = forms.ModelChoiceField(label=gettext_lazy("Client"), queryset=Client.objects.none())
    # Only the chosen client's sites and servers are listed (mamori.js).
    site = forms.ModelChoiceField(
        label=gettext_lazy("Site"),
        queryset=Site.objects.none(),
        required=False,
        widget=ClientRecordSelect,
    )
    server = forms.ModelChoiceField(
        label=gettext_lazy("Server"),
        queryset=Server.objects.none(),
        required=False,
        widget=ClientRecordSelect,
    )
    title = forms.CharField(label=gettext_lazy("Title"), max_length=300)
    started_at = forms.DateTimeField(
        label=gettext_lazy("Started"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Empty: now."),
    )
    total_outage = forms.BooleanField(
        label=gettext_lazy("Total outage (the service could not be used at all)"),
        required=False,
        initial=True,
    )
    notify = forms.BooleanField(
        label=gettext_lazy("Notify the client's contacts and the operators"),
        required=False,
        initial=True,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        clients = changeable(Client.objects.all(), user, Incident.change_rule)
        self.fields["client"].queryset = clients
        self.fields["site"].queryset = Site.objects.filter(client__in=clients).select_related(
            "client"
        )
        self.fields["server"].queryset = Server.objects.filter(client__in=clients).select_related(
            "client"
        )

    def clean(self):
        data = super().clean()
        client = data.get("client")
        for name in ("site", "server"):
            target = data.get(name)
            if client is not None and target is not None and target.client_id != client.pk:
                self.add_error(name, _("It belongs to another client."))
        started = data.get("started_at")
        if started is not None and started > timezone.now() + dt.timedelta(minutes=5):
            self.add_error("started_at", _("The time is in the future."))
        return data


# --- pages ---------------------------------------------------------------------------------------


def visible_incident(request: HttpRequest, pk: int) -> Incident:
    return get_object_or_404(
        Incident.objects.visible_to(request.user).select_related(
            "client", "site", "server", "uptime_check", "acknowledged_by", "closed_by"
        ),
        pk=pk,
    )


def _month(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return None


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    qs = Incident.objects.visible_to(request.user).select_related("client", "acknowledged_by")
    clients = Client.objects.visible_to(request.user).order_by("name")
    state = request.GET.get("state", "all")
    if state in IncidentState.values:
        qs = qs.filter(state=state)
    client = request.GET.get("client", "")
    if client:
        qs = qs.filter(client__code=client)
    cause = request.GET.get("cause", "")
    if cause in Cause.values:
        qs = qs.filter(cause=cause)
    month = _month(request.GET.get("month", ""))
    if month is not None:
        zone = timezone.get_current_timezone()
        start = dt.datetime(month.year, month.month, 1, tzinfo=zone)
        end = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
        qs = qs.filter(started_at__gte=start, started_at__lt=end)
    page = Paginator(qs.order_by("-started_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "incidents": page.object_list,
        "state": state,
        "states": IncidentState.choices,
        "client": client,
        "clients": clients,
        "cause": cause,
        "causes": Cause.choices,
        "month": month.strftime("%Y-%m") if month else "",
        "now": timezone.now(),
        "may_add": request.user.is_provider_staff,
    }
    return render(request, "monitoring/incidents/list.html", context)


def _detail_context(request: HttpRequest, incident: Incident, **forms_) -> dict:
    staff = may_change(request.user, incident)
    cause_initial = {
        "cause": incident.cause,
        "cause_detail": incident.cause_detail,
        "impact": incident.impact,
        "actions": incident.actions,
        "prevention": incident.prevention,
    }
    return {
        "incident": incident,
        "events": incident.events.select_related("user"),
        "notices": Notice.objects.visible_to(request.user)
        .filter(incident=incident)
        .order_by("created_at", "pk"),
        "downtime": incident.downtime(),
        "is_staff": staff,
        "may_note": may_change(request.user, incident, incidents.NOTE_RULE),
        "note_form": forms_.get("note_form") or NoteForm(),
        "cause_form": forms_.get("cause_form") or CauseForm(initial=cause_initial),
        "emergency_form": forms_.get("emergency_form") or EmergencyForm(),
        "stop_form": forms_.get("stop_form") or StopForm(),
        "recovery_form": forms_.get("recovery_form")
        or RecoveryForm(initial={"recovered_at": incident.recovered_at}),
        "wait_form": forms_.get("wait_form") or WaitForm(),
        "wait_end_form": forms_.get("wait_end_form") or WaitEndForm(),
        "client_waits": ClientWait.objects.of(incident).select_related("started_by", "ended_by"),
        "open_wait": waits.open_wait(incident),
        "closed": incident.state == IncidentState.CLOSED,
        "close_refusal": incidents.close_refusal(incident),
    }


@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = visible_incident(request, pk)
    return render(request, "monitoring/incidents/detail.html", _detail_context(request, incident))


def _redisplay(request, incident, status=400, **forms_) -> HttpResponse:
    return render(
        request,
        "monitoring/incidents/detail.html",
        _detail_context(request, incident, **forms_),
        status=status,
    )


def _staff_post(request: HttpRequest, pk: int) -> Incident | None:
    """The incident for a staff action, or None for a GET (which goes back to the page)."""
    incident = visible_incident(request, pk)
    if request.method != "POST":
        return None
    require_change(request.user, incident)
    return incident


@login_required
def incident_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _staff_post(request, pk)
    if incident is None:
        return redirect("incident_detail", pk)
    try:
        incidents.acknowledge(incident, request.user, request=request)
    except IncidentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Incident acknowledged."))
    return redirect("incident_detail", incident.pk)


@login_required
def incident_note(request: HttpRequest, pk: int) -> HttpResponse:
    incident = visible_incident(request, pk)
    if request.method != "POST":
        return redirect("incident_detail", pk)
    require_change(request.user, incident, incidents.NOTE_RULE)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _redisplay(request, incident, note_form=form)
    try:
        incidents.add_note(incident, request.user, form.cleaned_data["text"], request=request)
    except IncidentError as exc:
        form.add_error(None, exc)
        return _redisplay(request, incident, note_form=form)
    messages.success(request, _("Note added."))
    return redirect("incident_detail", incident.pk)


@login_required
def incident_cause(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _staff_post(request, pk)
    if incident is None:
        return redirect("incident_detail", pk)
    form = CauseForm(request.POST)
    if not form.is_valid():
        return _redisplay(request, incident, cause_form=form)
    data = form.cleaned_data
    try:
        incidents.set_cause(
            incident,
            request.user,
            data["cause"],
            data["cause_detail"],
            impact=data["impact"],
            actions=data["actions"],
            prevention=data["prevention"],
            request=request,
        )
    except IncidentError as exc:
        form.add_error(None, exc)
        return _redisplay(request, incident, cause_form=form)
    messages.success(request, _("Cause and report saved."))
    return redirect("incident_detail", incident.pk)


@login_required
def incident_emergency(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _staff_post(request, pk)
    if incident is None:
        return redirect("incident_detail", pk)
    form = EmergencyForm(request.POST)
    if not form.is_valid():
        return _redisplay(request, incident, emergency_form=form)
    try:
        incidents.record_emergency_measure(
            incident,
            request.user,
            form.cleaned_data["text"],
            minutes=form.cleaned_data["minutes"],
            request=request,
        )
    except IncidentError as exc:
        form.add_error(None, exc)
        return _redisplay(request, incident, emergency_form=form)
    messages.success(request, _("Emergency measure recorded."))
    return redirect("incident_detail", incident.pk)


@login_required
def incident_stop(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _staff_post(request, pk)
    if incident is None:
        return redirect("incident_detail", pk)
    form = StopForm(request.POST)
    if not form.is_valid():
        return _redisplay(request, incident, stop_form=form)
    try:
        incidents.record_emergency_stop(
            incident,
            request.user,
            form.cleaned_data["reason"],
            at=form.cleaned_data["at"],
            request=request,
        )
    except IncidentError as exc:
        form.add_error(None, exc)
        return _redisplay(request, incident, stop_form=form)
    messages.success(request, _("Emergency stop recorded."))
    return redirect("incident_detail", incident.pk)


def _incident_form_action(request, pk, form_class, name, act, done) -> HttpResponse:
    """A staff action with a small form: validate, call ``act(incident, data)``, say ``done``;
    errors go back onto the incident's page with the form."""
    incident = _staff_post(request, pk)
    if incident is None:
        return redirect("incident_detail", pk)
    form = form_class(request.POST)
    if not form.is_valid():
        return _redisplay(request, incident, **{name: form})
    try:
        act(incident, form.cleaned_data)
    except IncidentError as exc:
        form.add_error(None if exc.field not in form.fields else exc.field, str(exc))
        return _redisplay(request, incident, **{name: form})
    messages.success(request, done)
    return redirect("incident_detail", incident.pk)


@login_required
def incident_recovery(request: HttpRequest, pk: int) -> HttpResponse:
    return _incident_form_action(
        request,
        pk,
        RecoveryForm,
        "recovery_form",
        lambda incident, data: incidents.record_recovery(
            incident, request.user, data["recovered_at"], request=request
        ),
        _("Recovery time recorded."),
    )


@login_required
def incident_wait(request: HttpRequest, pk: int) -> HttpResponse:
    return _incident_form_action(
        request,
        pk,
        WaitForm,
        "wait_form",
        lambda incident, data: incidents.wait_for_client(
            incident, request.user, data["awaited"], since=data["since"], request=request
        ),
        _("The incident is waiting for the client."),
    )


@login_required
def incident_wait_end(request: HttpRequest, pk: int) -> HttpResponse:
    return _incident_form_action(
        request,
        pk,
        WaitEndForm,
        "wait_end_form",
        lambda incident, data: incidents.end_client_wait(
            incident, request.user, until=data["until"], request=request
        ),
        _("The incident no longer waits for the client."),
    )


@login_required
def incident_close(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _staff_post(request, pk)
    if incident is None:
        return redirect("incident_detail", pk)
    try:
        incidents.close(incident, request.user, request=request)
    except IncidentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Incident closed."))
    return redirect("incident_detail", incident.pk)


@login_required
def incident_add(request: HttpRequest) -> HttpResponse:
    if not request.user.is_provider_staff:
        raise PermissionDenied
    initial = {"client": request.GET.get("client"), "total_outage": True, "notify": True}
    form = IncidentForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incidents.open_manual(
                data["client"],
                request.user,
                data["title"],
                started_at=data["started_at"],
                site=data["site"],
                server=data["server"],
                total_outage=data["total_outage"],
                notify=data["notify"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Incident opened."))
            return redirect("incident_detail", incident.pk)
    return render(request, "monitoring/incidents/form.html", {"form": form})


@login_required
def incident_report(request: HttpRequest, pk: int) -> HttpResponse:
    incident = visible_incident(request, pk)
    events = list(incident.events.select_related("user"))
    context = {
        "incident": incident,
        "events": events,
        "measures": [
            e
            for e in events
            if e.kind in (IncidentEventKind.EMERGENCY_MEASURE, IncidentEventKind.EMERGENCY_STOP)
        ],
        "downtime": incident.downtime(),
        "provider_name": provider_name(),
        "now": timezone.now(),
        "zone": timezone.get_current_timezone_name(),
    }
    return render(request, "monitoring/incidents/report.html", context)


urlpatterns = [
    path("incidents/", incident_list, name="incident_list"),
    path("incidents/add/", incident_add, name="incident_add"),
    path("incidents/<int:pk>/", incident_detail, name="incident_detail"),
    path("incidents/<int:pk>/report/", incident_report, name="incident_report"),
    path("incidents/<int:pk>/acknowledge/", incident_acknowledge, name="incident_acknowledge"),
    path("incidents/<int:pk>/note/", incident_note, name="incident_note"),
    path("incidents/<int:pk>/cause/", incident_cause, name="incident_cause"),
    path("incidents/<int:pk>/emergency/", incident_emergency, name="incident_emergency"),
    path("incidents/<int:pk>/stop/", incident_stop, name="incident_stop"),
    path("incidents/<int:pk>/close/", incident_close, name="incident_close"),
    path("incidents/<int:pk>/recovery/", incident_recovery, name="incident_recovery"),
    path("incidents/<int:pk>/waiting/", incident_wait, name="incident_wait"),
    path("incidents/<int:pk>/waiting/end/", incident_wait_end, name="incident_wait_end"),
]
