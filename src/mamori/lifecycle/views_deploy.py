"""Deployment pages (CERT-09): where a managed certificate is installed (its targets: add, edit,
delete), a deployment's page (its steps, the files kept, the error), and "deploy now".

Everyone who sees the client reads deployments; provider staff who see the client set up
targets over SSH and deploy, provider administrators alone targets on the Mamori host
(:mod:`mamori.lifecycle.targets` has the rules). Every write is audited; everything is fetched
through ``visible_to`` (an outsider gets a 404).
"""

from __future__ import annotations

import copy

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.core.permissions import may_change, require_change
from mamori.inventory.models import Endpoint
from mamori.lifecycle import deploy, targets
from mamori.lifecycle.models import (
    OPEN_DEPLOYMENT_STATES,
    Deployment,
    DeploymentTarget,
    ManagedCertificate,
    TargetKind,
)
from mamori.vault.models import Secret, SecretKind

# Logins a target may use: an SSH key, or a password of a server login.
SSH_SECRET_KINDS = [SecretKind.SSH_KEY, SecretKind.SERVER_LOGIN, SecretKind.OTHER]
AUDITED_FIELDS = [
    "name",
    "kind",
    "endpoint",
    "ssh_host",
    "ssh_port",
    "ssh_username",
    "ssh_secret",
    "ssh_host_key",
    "cert_path",
    "chain_path",
    "fullchain_path",
    "key_path",
    "owner",
    "group",
    "cert_mode",
    "key_mode",
    "reload_command",
    "enabled",
]


def require_target_permission(
    request: HttpRequest, managed: ManagedCertificate, *changed: DeploymentTarget
) -> None:
    """Who may set up targets of ``managed`` (and change those ``changed``): one rule,
    :func:`targets.permission_problem`, for pages, API and import."""
    problem = targets.permission_problem(request.user, managed.client, changed)
    if problem:
        raise PermissionDenied(problem)


def visible_managed(request: HttpRequest, pk: int) -> ManagedCertificate:
    return get_object_or_404(
        ManagedCertificate.objects.visible_to(request.user).select_related("client"), pk=pk
    )


def visible_target(request: HttpRequest, pk: int) -> DeploymentTarget:
    return get_object_or_404(
        DeploymentTarget.objects.visible_to(request.user).select_related("managed__client"),
        pk=pk,
    )


def managed_url(managed: ManagedCertificate) -> str:
    return reverse("managed_detail", args=[managed.pk])


# --- the target form -------------------------------------------------------------------------


class TargetForm(forms.ModelForm):
    """The target's fields for ``user``; what a valid target is lives in the model
    (:func:`mamori.lifecycle.targets.problems`), who may set what in
    :func:`mamori.lifecycle.targets.permission_problem`: the API and the import use both too."""

    reload_command = forms.ChoiceField(
        label=gettext_lazy("reload command"),
        required=False,
        widget=forms.Select(attrs={"class": "mono"}),
    )

    class Meta:
        model = DeploymentTarget
        fields = AUDITED_FIELDS
        widgets = {"ssh_host_key": forms.Textarea(attrs={"rows": 2, "class": "mono"})}

    def __init__(self, *args, managed: ManagedCertificate, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.managed = managed
        self.user = user
        self.instance.managed = managed
        self.before = copy.copy(self.instance) if self.instance.pk else None
        local_allowed = targets.may_manage_local(user) and bool(settings.MAMORI_DEPLOY_ROOTS)
        kinds = [(v, label) for v, label in TargetKind.choices if v != TargetKind.LOCAL]
        if local_allowed or (self.before is not None and self.before.kind == TargetKind.LOCAL):
            kinds = list(TargetKind.choices)
        # Offered: what this user may set up here; accepted by the field: every kind, so that
        # a refusal says why (the model's rules and permission_problem), for the API too.
        self.fields["kind"].choices = TargetKind.choices
        self.fields["kind"].widget.choices = kinds
        if len(kinds) == 1:
            self.fields["kind"].initial = kinds[0][0]
        self.fields["endpoint"].queryset = Endpoint.objects.filter(client=managed.client_id)
        self.fields["endpoint"].help_text = _(
            "After installing, Mamori connects here and checks that the new certificate is served."
        )
        self.fields["ssh_secret"].queryset = Secret.objects.live().filter(
            client=managed.client_id, kind__in=SSH_SECRET_KINDS
        )
        commands = targets.allowed_commands()
        current = (self.instance.reload_command or "").strip()
        choices = [("", _("(none)"))] + [(c, c) for c in commands]
        if current and current not in commands:
            choices.append((current, _("%(command)s (not allowed)") % {"command": current}))
        self.fields["reload_command"].choices = choices
        self.fields["reload_command"].error_messages["invalid_choice"] = _(
            "Not one of the reload commands allowed on this Mamori host "
            "(MAMORI_DEPLOY_COMMANDS): %(commands)s."
        ) % {"commands": "; ".join(commands) or _("none")}
        self.fields["reload_command"].help_text = _(
            "Run after the files are written, without a shell: one of the commands the "
            "Mamori host allows (MAMORI_DEPLOY_COMMANDS)."
        )
        # Shown above the files: where a local target's files may lie.
        self.local_roots = list(settings.MAMORI_DEPLOY_ROOTS) if local_allowed else []

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = DeploymentTarget.objects.filter(managed=self.managed, name=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("This certificate already has a target of this name."))
        return name

    def _post_clean(self):
        super()._post_clean()  # the model's rules (targets.problems)
        problem = targets.permission_problem(
            self.user, self.managed.client, [self.before, self.instance]
        )
        if problem:
            self.add_error("kind" if "kind" not in self.errors else None, problem)


# --- pages -----------------------------------------------------------------------------------


def _save_target(request, form: TargetForm) -> DeploymentTarget:
    target = form.save(commit=False)
    return targets.save_target(target, before=form.before, actor=request.user, request=request)


@login_required
def target_add(request: HttpRequest, managed_pk: int) -> HttpResponse:
    managed = visible_managed(request, managed_pk)
    require_target_permission(request, managed)
    form = TargetForm(request.POST or None, managed=managed, user=request.user)
    if request.method == "POST" and form.is_valid():
        target = _save_target(request, form)
        messages.success(request, _("Target %(name)s added.") % {"name": target.name})
        return redirect(managed_url(managed) + "#deployment")
    return render(request, "lifecycle/deploy_target_form.html", {"form": form, "managed": managed})


@login_required
def target_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = visible_target(request, pk)
    managed = target.managed
    require_target_permission(request, managed, target)
    form = TargetForm(request.POST or None, instance=target, managed=managed, user=request.user)
    if request.method == "POST" and form.is_valid():
        _save_target(request, form)
        messages.success(request, _("Target %(name)s saved.") % {"name": target.name})
        return redirect(managed_url(managed) + "#deployment")
    return render(
        request,
        "lifecycle/deploy_target_form.html",
        {"form": form, "managed": managed, "target": target},
    )


@login_required
def target_delete(request: HttpRequest, pk: int) -> HttpResponse:
    target = visible_target(request, pk)
    managed = target.managed
    require_target_permission(request, managed, target)
    busy = target.deployments.filter(state__in=OPEN_DEPLOYMENT_STATES).exists()
    if request.method == "POST":
        if busy:
            messages.error(request, _("A deployment to this target is under way: wait for it."))
            return redirect(managed_url(managed) + "#deployment")
        targets.delete_target(target, actor=request.user, request=request)
        messages.success(request, _("Target %(name)s removed.") % {"name": target.name})
        return redirect(managed_url(managed) + "#deployment")
    return render(
        request,
        "lifecycle/deploy_target_delete.html",
        {"target": target, "managed": managed, "busy": busy},
    )


@login_required
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = get_object_or_404(
        Deployment.objects.visible_to(request.user).select_related(
            "target__managed__client", "target__endpoint", "certificate", "order", "created_by"
        ),
        pk=pk,
    )
    managed = deployment.target.managed
    context = {
        "deployment": deployment,
        "target": deployment.target,
        "managed": managed,
        "is_staff": may_change(request.user, managed),
        "backups": sorted(deployment.backup.items()),
    }
    return render(request, "lifecycle/deploy_detail.html", context)


@login_required
@require_POST
def deploy_now(request: HttpRequest, managed_pk: int) -> HttpResponse:
    managed = visible_managed(request, managed_pk)
    require_change(request.user, managed)
    target = None
    if request.POST.get("target"):
        target = get_object_or_404(
            DeploymentTarget.objects.filter(managed=managed), pk=request.POST["target"]
        )
    if managed.certificate_id is None:
        messages.error(request, _("There is no certificate to deploy yet."))
        return redirect(managed_url(managed) + "#deployment")
    try:
        done = deploy.deploy_now(managed, target=target, actor=request.user, request=request)
    except deploy.DeploymentError as exc:
        messages.error(request, str(exc))
        return redirect(managed_url(managed) + "#deployment")
    if not done:
        messages.warning(request, _("No enabled target to deploy to."))
    for d in done:
        if d.state == "succeeded":
            messages.success(
                request,
                _("Installed on %(target)s and served.") % {"target": d.target.name},
            )
        else:
            messages.error(
                request,
                _("Deployment to %(target)s: %(state)s. %(error)s")
                % {"target": d.target.name, "state": d.get_state_display(), "error": d.error},
            )
    if len(done) == 1:
        return redirect("deployment_detail", done[0].pk)
    return redirect(managed_url(managed) + "#deployment")


urlpatterns = [
    path("managed/<int:managed_pk>/targets/add/", target_add, name="deployment_target_add"),
    path("targets/<int:pk>/edit/", target_edit, name="deployment_target_edit"),
    path("targets/<int:pk>/delete/", target_delete, name="deployment_target_delete"),
    path("deployments/<int:pk>/", deployment_detail, name="deployment_detail"),
    path("managed/<int:managed_pk>/deploy/", deploy_now, name="deployment_deploy_now"),
]
