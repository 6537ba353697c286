"""Pages of waiting on the client, the one-month rule and suspension (CT-09, NOT-05) and of
personal-data incidents (ACC-04). Every write goes through :mod:`mamori.desk.waits`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.clients.models import Client, ClientWait, Contact
from mamori.clients.wait_forms import WaitEndForm, WaitForm, moment_field
from mamori.core.models import Role
from mamori.core.permissions import Rule, may_change, require_change
from mamori.desk import waits
from mamori.desk.models import DataIncident, DataIncidentKind, Request
from mamori.desk.services import DeskError


class SuspendForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why the work is suspended"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("The client is told, with this reason, once."),
    )


class DataIncidentForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=DataIncidentKind.choices)
    what = forms.CharField(
        label=gettext_lazy("What data"), widget=forms.Textarea(attrs={"rows": 3})
    )
    whose = forms.CharField(
        label=gettext_lazy("Whose data"), widget=forms.Textarea(attrs={"rows": 2})
    )
    contacts = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Contacts concerned"),
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    occurred_at = moment_field(
        gettext_lazy("Occurred"), help_text=gettext_lazy("Empty: not known.")
    )
    discovered_at = moment_field(gettext_lazy("Discovered"), required=True)
    measures = forms.CharField(
        label=gettext_lazy("Measures taken"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, client: Client, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contacts"].queryset = Contact.objects.filter(client=client).order_by("name")


class MeasuresForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Measure taken or correction"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Added to the record with the time; what is there stays."),
    )


# --- a request's waits and suspension -----------------------------------------------------------


def _request(request: HttpRequest, pk: int) -> Request:
    return get_object_or_404(
        Request.objects.visible_to(request.user).select_related("client", "contact"), pk=pk
    )


@login_required
def request_waits(request: HttpRequest, pk: int) -> HttpResponse:
    """The request's waits on the client and its suspension, as on the request page."""
    req = _request(request, pk)
    return render(request, "desk/request_waits.html", {"req": req})


def _act(request: HttpRequest, pk: int, form_class, act, done) -> HttpResponse:
    req = _request(request, pk)
    require_change(request.user, req, Rule.STAFF)
    form = form_class(request.POST)
    if not form.is_valid():
        errors = [str(e) for errs in form.errors.values() for e in errs]
        messages.error(request, " ".join(errors))
        return redirect(waits.request_url(req))
    try:
        act(req, form.cleaned_data)
    except DeskError as exc:
        messages.error(request, str(exc))
        return redirect(waits.request_url(req))
    messages.success(request, done)
    return redirect(waits.request_url(req))


class _NoFields(forms.Form):
    pass


@login_required
@require_POST
def request_wait(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        WaitForm,
        lambda req, data: waits.wait_on_client(
            req, request.user, data["awaited"], since=data["since"], http_request=request
        ),
        _("The request is waiting for the client."),
    )


@login_required
@require_POST
def request_wait_end(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        WaitEndForm,
        lambda req, data: waits.end_wait(
            req, request.user, until=data["until"], http_request=request
        ),
        _("The request no longer waits for the client."),
    )


@login_required
@require_POST
def request_suspend(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        SuspendForm,
        lambda req, data: waits.suspend(req, request.user, data["reason"], http_request=request),
        _("The work is suspended; the client is told."),
    )


@login_required
@require_POST
def request_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        _NoFields,
        lambda req, data: waits.resume(req, request.user, http_request=request),
        _("The work is resumed."),
    )


# --- unanswered for a month ---------------------------------------------------------------------


@login_required
def desk_unanswered(request: HttpRequest) -> HttpResponse:
    """Questions and waits unanswered for a month (NOT-05), for the provider's staff."""
    if not request.user.is_provider_staff:
        raise PermissionDenied
    items = waits.unanswered(request.user)
    return render(request, "desk/unanswered.html", {"items": items})


# --- personal-data incidents --------------------------------------------------------------------


def may_read_data_incidents(user, client) -> bool:
    """Provider staff who see the client, and the client's administrators (not its viewers)."""
    return user.is_provider_staff or (
        user.role == Role.CLIENT_ADMIN and user.client_id == client.pk
    )


@login_required
def data_incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(
        DataIncident.objects.visible_to(request.user).select_related("client", "recorded_by"),
        pk=pk,
    )
    if not may_read_data_incidents(request.user, incident.client):
        raise PermissionDenied
    may = may_change(request.user, incident, Rule.STAFF)
    return render(
        request,
        "desk/data_incident_detail.html",
        {
            "incident": incident,
            "contacts": incident.contacts.order_by("name"),
            "may_change": may,
            "form": MeasuresForm() if may else None,
        },
    )


@login_required
def data_incident_add(request: HttpRequest, code: str) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    require_change(request.user, client, Rule.STAFF)
    form = DataIncidentForm(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = waits.record_data_incident(
                client,
                kind=data["kind"],
                what=data["what"],
                whose=data["whose"],
                contacts=data["contacts"],
                occurred_at=data["occurred_at"],
                discovered_at=data["discovered_at"],
                measures=data["measures"],
                actor=request.user,
                http_request=request,
            )
        except DeskError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, _("Recorded; the client is being told now."))
            return redirect(incident.get_absolute_url())
    return render(
        request,
        "desk/data_incident_form.html",
        {"client": client, "form": form, "now": timezone.now()},
    )


@login_required
@require_POST
def data_incident_measures(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(DataIncident.objects.visible_to(request.user), pk=pk)
    require_change(request.user, incident, Rule.STAFF)
    form = MeasuresForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say what was done."))
    else:
        try:
            waits.add_measures(
                incident, request.user, form.cleaned_data["text"], http_request=request
            )
        except DeskError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Added to the record."))
    return redirect(incident.get_absolute_url())


def open_wait(req: Request) -> ClientWait | None:
    return ClientWait.objects.of(req).open().first()
