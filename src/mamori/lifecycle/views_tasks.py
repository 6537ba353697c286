"""Tasks, revocations, changes of the client's particulars and site seals (CERT-10..13, CT-09,
CT-10).

- Tasks: the list and a task's page; provider staff record that it waits for the client (what,
  since when), resume it and close it with what was done.
- Revocations: the list; a request (the client's administrators or provider staff: reason, who
  asked, when); provider staff record that a commercial CA revoked.
- A suspected key compromise (opens the revoke-and-re-issue task).
- Changes of the client's particulars (provider staff), which open re-issue tasks.
- Site seals: the list and adding one.

Everything is fetched through ``visible_to``; every write is audited.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.certificates.models import Certificate
from mamori.clients.models import Client
from mamori.core.permissions import changeable, may_change, require_change
from mamori.inventory.models import Site
from mamori.lifecycle import changes, revocation, seals, tasks
from mamori.lifecycle.models import (
    Awaiting,
    ClientChange,
    ClientChangeField,
    ManagedCertificate,
    Revocation,
    RevocationReason,
    RevocationState,
    SiteSeal,
    Task,
    TaskState,
)
from mamori.vault import services as vault


def require_editor(request: HttpRequest) -> None:
    if not request.user.can_edit:
        raise PermissionDenied


def error_text(error: ValidationError) -> str:
    return " ".join(str(m) for m in error.messages)


# --- tasks -----------------------------------------------------------------------------------


class WaitForm(forms.Form):
    awaiting = forms.ChoiceField(
        label=gettext_lazy("Waiting for"), choices=[c for c in Awaiting.choices if c[0]]
    )
    note = forms.CharField(label=gettext_lazy("What the client was asked for"), max_length=2000)


class CloseForm(forms.Form):
    resolution = forms.CharField(
        label=gettext_lazy("What was done"), widget=forms.Textarea(attrs={"rows": 3})
    )
    canceled = forms.BooleanField(label=gettext_lazy("Canceled (not needed)"), required=False)


def visible_task(request: HttpRequest, pk: int) -> Task:
    return get_object_or_404(
        Task.objects.visible_to(request.user).select_related(
            "client", "managed", "certificate", "site", "closed_by"
        ),
        pk=pk,
    )


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    qs = Task.objects.visible_to(request.user).select_related("client", "managed", "site")
    state = request.GET.get("state", "open")
    if state in TaskState.values:
        qs = qs.filter(state=state)
    return render(
        request,
        "lifecycle/task_list.html",
        {"tasks": qs[:500], "state": state, "states": TaskState.choices},
    )


@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = visible_task(request, pk)
    context = {
        "task": task,
        "is_staff": may_change(request.user, task),
        "wait_form": WaitForm(),
        "close_form": CloseForm(),
        "now": timezone.now(),
    }
    return render(request, "lifecycle/task_detail.html", context)


def _task_action(request: HttpRequest, pk: int, action) -> HttpResponse:
    if request.method != "POST":
        return redirect("task_detail", pk)
    task = visible_task(request, pk)
    require_change(request.user, task)
    try:
        action(task)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    return redirect("task_detail", task.pk)


@login_required
def task_wait(request: HttpRequest, pk: int) -> HttpResponse:
    def act(task):
        form = WaitForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_("Choose what is awaited and say what was asked."))
        tasks.set_waiting(
            task,
            form.cleaned_data["awaiting"],
            form.cleaned_data["note"],
            actor=request.user,
            request=request,
        )
        messages.success(request, _("The task waits for the client."))

    return _task_action(request, pk, act)


@login_required
def task_resume(request: HttpRequest, pk: int) -> HttpResponse:
    def act(task):
        tasks.resume(task, actor=request.user, request=request)
        messages.success(request, _("The task is no longer waiting."))

    return _task_action(request, pk, act)


@login_required
def task_close(request: HttpRequest, pk: int) -> HttpResponse:
    def act(task):
        form = CloseForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_("Say what was done."))
        tasks.close_task(
            task,
            actor=request.user,
            resolution=form.cleaned_data["resolution"],
            state=TaskState.CANCELED if form.cleaned_data["canceled"] else TaskState.DONE,
            request=request,
        )
        messages.success(request, _("Task closed."))

    return _task_action(request, pk, act)


# --- revocations -----------------------------------------------------------------------------


class RevocationForm(forms.Form):
    certificate = forms.CharField(
        label=gettext_lazy("Certificate (SHA-256 fingerprint)"), max_length=95
    )
    reason = forms.TypedChoiceField(
        label=gettext_lazy("Reason (RFC 5280)"), choices=RevocationReason.choices, coerce=int
    )
    requested_by = forms.CharField(label=gettext_lazy("Asked by"), max_length=200)
    requested_at = forms.DateTimeField(
        label=gettext_lazy("Asked at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Empty: now."),
    )
    reissue = forms.BooleanField(
        label=gettext_lazy("Re-issue and install a replacement"), required=False, initial=True
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_certificate(self):
        value = self.cleaned_data["certificate"].replace(":", "").strip().lower()
        cert = Certificate.objects.visible_to(self.user).filter(fingerprint_sha256=value).first()
        if cert is None:
            raise ValidationError(_("No certificate you can see has this fingerprint."))
        return cert


@login_required
def revocation_list(request: HttpRequest) -> HttpResponse:
    qs = Revocation.objects.visible_to(request.user).select_related(
        "client", "certificate", "managed", "recorded_by"
    )
    staff_clients = set(
        changeable(Client.objects.all(), request.user, Revocation.change_rule).values_list(
            "pk", flat=True
        )
    )
    return render(
        request,
        "lifecycle/revocation_list.html",
        {"revocations": qs[:500], "staff_clients": staff_clients},
    )


@login_required
def revocation_request(request: HttpRequest) -> HttpResponse:
    require_editor(request)
    initial = {"certificate": request.GET.get("certificate", ""), "reissue": True}
    form = RevocationForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        cert = data["certificate"]
        managed = (
            ManagedCertificate.objects.visible_to(request.user).filter(certificate=cert).first()
        )
        try:
            rev = revocation.request_revocation(
                cert,
                reason=data["reason"],
                requested_by=data["requested_by"],
                requested_at=data["requested_at"] or timezone.now(),
                actor=request.user,
                managed=managed,
                reissue=data["reissue"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        except vault.VaultError as exc:
            form.add_error(None, _("The vault is not available: %(error)s") % {"error": exc})
        else:
            if rev.state == RevocationState.FAILED:
                messages.error(request, _("The CA did not revoke it: %(e)s") % {"e": rev.error})
            elif rev.state == RevocationState.PENDING:
                messages.success(
                    request, _("Recorded. Ask the CA to revoke it, then record that it did.")
                )
            else:
                messages.success(request, _("The certificate is revoked."))
            return redirect("revocation_list")
    return render(request, "lifecycle/revocation_form.html", {"form": form})


@login_required
def revocation_mark(request: HttpRequest, pk: int) -> HttpResponse:
    rev = get_object_or_404(Revocation.objects.visible_to(request.user), pk=pk)
    require_change(request.user, rev)
    if request.method == "POST":
        try:
            revocation.mark_revoked(
                rev,
                ca_reference=request.POST.get("ca_reference", ""),
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("Recorded as revoked by the CA."))
    return redirect("revocation_list")


class CompromiseForm(forms.Form):
    reported_by = forms.CharField(label=gettext_lazy("Reported by"), max_length=200)


@login_required
def key_compromise(request: HttpRequest, pk: int) -> HttpResponse:
    managed = get_object_or_404(
        ManagedCertificate.objects.visible_to(request.user).select_related("client"), pk=pk
    )
    require_editor(request)
    form = CompromiseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        task = revocation.report_key_compromise(
            managed,
            reported_by=form.cleaned_data["reported_by"],
            actor=request.user,
            request=request,
        )
        messages.success(request, _("A revoke-and-re-issue task is open."))
        return redirect("task_detail", task.pk)
    return render(request, "lifecycle/change_compromise.html", {"form": form, "managed": managed})


# --- changes of the client's particulars ------------------------------------------------------


class ChangeForm(forms.Form):
    field = forms.ChoiceField(label=gettext_lazy("What changed"), choices=ClientChangeField.choices)
    new_value = forms.CharField(label=gettext_lazy("New value"), max_length=300)
    effective_on = forms.DateField(
        label=gettext_lazy("Effective"), widget=forms.DateInput(attrs={"type": "date"})
    )


@login_required
def client_change(request: HttpRequest, code: str) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    require_change(request.user, client, ClientChange.change_rule)
    form = ChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            changes.record_client_change(
                client,
                data["field"],
                data["new_value"],
                data["effective_on"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, _("Change recorded."))
            return redirect("client_change", client.code)
    context = {
        "client": client,
        "form": form,
        "changes": ClientChange.objects.filter(client=client).select_related("recorded_by"),
        "tasks": Task.objects.filter(client=client, key__startswith="reissue:change:"),
    }
    return render(request, "lifecycle/change_form.html", context)


# --- site seals ------------------------------------------------------------------------------


class SealForm(forms.Form):
    site = forms.ModelChoiceField(label=gettext_lazy("Site"), queryset=Site.objects.none())
    ca_name = forms.CharField(label=gettext_lazy("Certificate authority"), max_length=200)
    page_url = forms.URLField(
        label=gettext_lazy("Page showing the seal"), max_length=500, assume_scheme="https"
    )
    marker = forms.CharField(
        label=gettext_lazy("Seal marker"),
        max_length=500,
        help_text=SiteSeal._meta.get_field("marker").help_text,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.visible_to(user).select_related("client")


@login_required
def seal_list(request: HttpRequest) -> HttpResponse:
    qs = SiteSeal.objects.visible_to(request.user).select_related("site__client", "certificate")
    return render(request, "lifecycle/seal_list.html", {"seals": qs})


@login_required
def seal_add(request: HttpRequest) -> HttpResponse:
    require_editor(request)
    form = SealForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            seals.add_seal(
                data["site"],
                ca_name=data["ca_name"],
                page_url=data["page_url"],
                marker=data["marker"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, _("Site seal recorded."))
            return redirect("seal_list")
    return render(request, "lifecycle/seal_form.html", {"form": form})


urlpatterns = [
    path("tasks/", task_list, name="task_list"),
    path("tasks/<int:pk>/", task_detail, name="task_detail"),
    path("tasks/<int:pk>/wait/", task_wait, name="task_wait"),
    path("tasks/<int:pk>/resume/", task_resume, name="task_resume"),
    path("tasks/<int:pk>/close/", task_close, name="task_close"),
    path("revocations/", revocation_list, name="revocation_list"),
    path("revocations/new/", revocation_request, name="revocation_request"),
    path("revocations/<int:pk>/done/", revocation_mark, name="revocation_mark"),
    path("managed/<int:pk>/compromise/", key_compromise, name="key_compromise"),
    path("clients/<str:code>/changes/", client_change, name="client_change"),
    path("seals/", seal_list, name="seal_list"),
    path("seals/add/", seal_add, name="seal_add"),
]
