"""Deployment pages (CERT-09): where a managed certificate is installed (its targets: add, edit,
delete), a deployment's page (its steps, the files kept, the error), and "deploy now".

Everyone who sees the client reads deployments; provider staff who see the client change
targets and deploy (a target names a login from the vault). Every write is audited; everything
is fetched through ``visible_to`` (an outsider gets a 404).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mamori.core import audit
from mamori.inventory.models import Endpoint
from mamori.lifecycle import approvals, deploy
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


def is_staff(user, managed: ManagedCertificate) -> bool:
    return approvals.is_staff_for(user, managed)


def require_staff(request: HttpRequest, managed: ManagedCertificate) -> None:
    if not is_staff(request.user, managed):
        raise PermissionDenied


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


def target_changes(target: DeploymentTarget) -> dict:
    changes = {}
    for name in AUDITED_FIELDS:
        value = getattr(target, f"{name}_id" if name in ("endpoint", "ssh_secret") else name)
        changes[name] = value
    return changes


# --- the target form -------------------------------------------------------------------------


def _absolute(value: str) -> str:
    value = value.strip()
    if value and not value.startswith("/"):
        raise forms.ValidationError(_("Give an absolute path (starting with /)."))
    if "\n" in value or "\0" in value:
        raise forms.ValidationError(_("A path cannot contain line breaks."))
    return value


def _mode(value: str) -> str:
    value = value.strip()
    try:
        mode = int(value, 8)
    except ValueError:
        raise forms.ValidationError(_("Give an octal file mode, e.g. 0600.")) from None
    if not 0 <= mode <= 0o7777:
        raise forms.ValidationError(_("Give an octal file mode, e.g. 0600."))
    return f"{mode:04o}"


class TargetForm(forms.ModelForm):
    class Meta:
        model = DeploymentTarget
        fields = AUDITED_FIELDS
        widgets = {
            "ssh_host_key": forms.Textarea(attrs={"rows": 2, "class": "mono"}),
            "reload_command": forms.TextInput(attrs={"class": "mono"}),
        }

    def __init__(self, *args, managed: ManagedCertificate, **kwargs):
        super().__init__(*args, **kwargs)
        self.managed = managed
        self.fields["kind"].choices = TargetKind.choices
        self.fields["endpoint"].queryset = Endpoint.objects.filter(client=managed.client_id)
        self.fields["endpoint"].help_text = _(
            "After installing, Mamori connects here and checks that the new certificate is served."
        )
        self.fields["ssh_secret"].queryset = Secret.objects.live().filter(
            client=managed.client_id, kind__in=SSH_SECRET_KINDS
        )
        self.fields["reload_command"].help_text = _(
            'Run after the files are written, e.g. "systemctl reload nginx" (on the Mamori '
            "host: split like a shell command line, without a shell)."
        )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = DeploymentTarget.objects.filter(managed=self.managed, name=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("This certificate already has a target of this name."))
        return name

    def clean_cert_path(self):
        return _absolute(self.cleaned_data["cert_path"])

    def clean_chain_path(self):
        return _absolute(self.cleaned_data["chain_path"])

    def clean_fullchain_path(self):
        return _absolute(self.cleaned_data["fullchain_path"])

    def clean_key_path(self):
        return _absolute(self.cleaned_data["key_path"])

    def clean_cert_mode(self):
        return _mode(self.cleaned_data["cert_mode"])

    def clean_key_mode(self):
        return _mode(self.cleaned_data["key_mode"])

    def clean_reload_command(self):
        import shlex

        command = self.cleaned_data["reload_command"].strip()
        try:
            shlex.split(command)
        except ValueError as exc:
            raise forms.ValidationError(
                _("This command cannot be read: %(error)s") % {"error": exc}
            ) from None
        return command

    def clean(self):
        data = super().clean()
        if not (data.get("cert_path") or data.get("fullchain_path")):
            self.add_error(
                "fullchain_path", _("Name the certificate file, the certificate + chain, or both.")
            )
        paths = [data.get(f) for f in ("cert_path", "chain_path", "fullchain_path", "key_path")]
        paths = [p for p in paths if p]
        if len(paths) != len(set(paths)):
            self.add_error("key_path", _("Each file needs a path of its own."))
        if data.get("kind") == TargetKind.SSH:
            for field in ("ssh_host", "ssh_username", "ssh_secret", "ssh_host_key"):
                if not data.get(field):
                    self.add_error(field, _("Required for a target over SSH."))
            host_key = data.get("ssh_host_key")
            if host_key:
                from mamori.lifecycle.ssh import parse_host_key

                try:
                    parse_host_key(host_key)
                except ValueError:
                    self.add_error(
                        "ssh_host_key",
                        _(
                            'This is not an SSH public host key (e.g. "ssh-ed25519 AAAA...", '
                            "from ssh-keyscan or /etc/ssh/ssh_host_ed25519_key.pub)."
                        ),
                    )
        return data


# --- pages -----------------------------------------------------------------------------------


def _save_target(request, managed, form, action: str) -> DeploymentTarget:
    with transaction.atomic():
        target = form.save(commit=False)
        target.managed = managed
        target.save()
        audit.record(
            action,
            target,
            actor=request.user,
            request=request,
            changes=target_changes(target),
            client_id=managed.client_id,
        )
    return target


@login_required
def target_add(request: HttpRequest, managed_pk: int) -> HttpResponse:
    managed = visible_managed(request, managed_pk)
    require_staff(request, managed)
    form = TargetForm(request.POST or None, managed=managed)
    if request.method == "POST" and form.is_valid():
        target = _save_target(request, managed, form, "deployment_target.create")
        messages.success(request, _("Target %(name)s added.") % {"name": target.name})
        return redirect(managed_url(managed) + "#deployment")
    return render(request, "lifecycle/deploy_target_form.html", {"form": form, "managed": managed})


@login_required
def target_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = visible_target(request, pk)
    managed = target.managed
    require_staff(request, managed)
    form = TargetForm(request.POST or None, instance=target, managed=managed)
    if request.method == "POST" and form.is_valid():
        _save_target(request, managed, form, "deployment_target.update")
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
    require_staff(request, managed)
    busy = target.deployments.filter(state__in=OPEN_DEPLOYMENT_STATES).exists()
    if request.method == "POST":
        if busy:
            messages.error(request, _("A deployment to this target is under way: wait for it."))
            return redirect(managed_url(managed) + "#deployment")
        with transaction.atomic():
            audit.record(
                "deployment_target.delete",
                target,
                actor=request.user,
                request=request,
                changes=target_changes(target),
                client_id=managed.client_id,
            )
            target.delete()
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
        "is_staff": is_staff(request.user, managed),
        "backups": sorted(deployment.backup.items()),
    }
    return render(request, "lifecycle/deploy_detail.html", context)


@login_required
@require_POST
def deploy_now(request: HttpRequest, managed_pk: int) -> HttpResponse:
    managed = visible_managed(request, managed_pk)
    require_staff(request, managed)
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
