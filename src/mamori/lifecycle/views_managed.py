"""Managed-certificate pages: the list with each one's state, a certificate's page (schedule,
instruction, orders, approvals, holds and the notices that asked, failures, tasks, deployment),
add/edit for provider staff, the buttons (issue, renew, record an approval, hold, release), and
the client's approval page (approve or decline with a note).

Everything is fetched through ``visible_to`` (an outsider gets a 404); provider staff who see the
client change things; the client's administrators approve or decline; every write is audited.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mamori.clients.models import Client, Contract, ContractType
from mamori.core import audit
from mamori.core.models import AuditEvent
from mamori.core.permissions import changeable, may_change, require_change
from mamori.core.widgets import ClientRecordSelect
from mamori.lifecycle import approvals, keys, orders, renewal
from mamori.lifecycle.models import (
    AcmeAccount,
    Approval,
    ApprovalChannel,
    ApprovalState,
    Awaiting,
    ChallengeMethod,
    IssuerKind,
    ManagedCertificate,
    RenewalInstruction,
)
from mamori.notices.models import Notice
from mamori.vault.models import Secret

STATE_LABELS = renewal.STATE_LABELS
HOLD_CHOICES = [(a.value, a.label) for a in Awaiting if a in renewal.HOLD_REASONS]
RECORD_CHANNELS = [(c.value, c.label) for c in ApprovalChannel if c in approvals.RECORDED_CHANNELS]


def visible_managed(request: HttpRequest, pk: int) -> ManagedCertificate:
    return get_object_or_404(
        ManagedCertificate.objects.visible_to(request.user).select_related(
            "client", "certificate", "acme_account", "contract"
        ),
        pk=pk,
    )


def with_status(items, now):
    for m in items:
        m.status = renewal.status_of(m, now)
        m.status_label = STATE_LABELS[m.status.code]
    return items


# --- the list and a certificate's page -------------------------------------------------------


@login_required
def managed_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    managed = ManagedCertificate.objects.visible_to(user).select_related("client", "certificate")
    client_code = request.GET.get("client", "")
    if client_code:
        managed = managed.filter(client__code=client_code)
    now = timezone.now()
    items = with_status(list(managed.order_by("client__code", "name")), now)
    state = request.GET.get("state", "")
    if state in STATE_LABELS:
        items = [m for m in items if m.status.code == state]
    staff_clients = changeable(Client.objects.all(), user, ManagedCertificate.change_rule)
    waiting = (
        Approval.objects.visible_to(user)
        .filter(state=ApprovalState.REQUESTED)
        .select_related("managed__client")
    )
    context = {
        "items": items,
        "state": state,
        "states": STATE_LABELS,
        "may_add": staff_clients.exists(),
        "waiting": waiting,
        "now": now,
    }
    return render(request, "lifecycle/managed_list.html", context)


@login_required
def managed_detail(request: HttpRequest, pk: int) -> HttpResponse:
    managed = visible_managed(request, pk)
    user = request.user
    now = timezone.now()
    with_status([managed], now)
    order_list = list(managed.orders.select_related("certificate", "approval")[:50])
    tasks = list(managed.tasks.filter(state="open"))
    prefix = renewal.notice_prefix(managed)
    asked = Notice.objects.visible_to(user).filter(key__startswith=prefix)
    if managed.certificate_id:
        asked = Notice.objects.visible_to(user).filter(
            Q(key__startswith=prefix)
            | Q(certificate_id=managed.certificate_id, kind__in=["renewal_on_hold"])
        )
    history = AuditEvent.objects.filter(
        object_type=ManagedCertificate._meta.label,
        object_id=str(managed.pk),
        action__in=["managed.hold", "managed.release"],
    ).order_by("-sequence")[:20]
    is_staff = may_change(user, managed)
    open_request = renewal.current_approval(managed, ApprovalState.REQUESTED)
    context = {
        "managed": managed,
        "now": now,
        "instruction": managed.effective_instruction(),
        "instruction_label": RenewalInstruction(managed.effective_instruction()).label,
        "instruction_from": _instruction_source(managed),
        "overdue": managed.certificate_id is not None and renewal.is_overdue(managed, now),
        "revocation": managed.certificate_id and renewal.revocation_of(managed.certificate_id),
        "overdue_at": renewal.overdue_at(managed),
        "on_hold": renewal.is_on_hold(managed),
        "orders": order_list,
        "open_order": orders.open_order(managed),
        "approvals": managed.approvals.select_related("decided_by", "renewal_of")[:20],
        "open_request": open_request,
        "may_decide": open_request is not None and approvals.may_decide(user, managed),
        "notices": asked.order_by("-created_at")[:50],
        "hold_history": history,
        "failures": managed.failures.open(),
        "tasks": tasks,
        "is_staff": is_staff,
        "hold_form": HoldForm(),
    }
    return render(request, "lifecycle/managed_detail.html", context)


def _instruction_source(managed: ManagedCertificate) -> str:
    if managed.renewal_instruction:
        return _("set for this certificate")
    if managed.contract_id:
        return _("from its contract")
    if Contract.objects.filter(client_id=managed.client_id, type=ContractType.SSL_MANAGEMENT):
        return _("from the client's SSL management contract")
    return _("default: nothing is renewed without the client's approval")


# --- add and edit ----------------------------------------------------------------------------


class NamesField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        names = [n.strip() for n in text.replace(",", "\n").splitlines() if n.strip()]
        result = []
        for name in names:
            try:
                normal = keys.normalise_name(name)
            except ValueError as e:
                raise ValidationError(_("%(name)s: %(error)s") % {"name": name, "error": e}) from e
            if normal not in result:
                result.append(normal)
        return result


class JSONSettingsField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3, "class": "mono"})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False, indent=1) if value else ""
        return value

    def to_python(self, value):
        text = (super().to_python(value) or "").strip()
        if not text:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValidationError(_("Not valid JSON: %(error)s") % {"error": e.msg}) from e
        if not isinstance(data, dict):
            raise ValidationError(_('Write an object: {"webroot": "/var/www/html"}.'))
        return data


class ManagedForm(forms.ModelForm):
    names = NamesField(
        label=gettext_lazy("Names"),
        help_text=gettext_lazy("DNS names, one a line; the first is the common name."),
    )
    challenge_settings = JSONSettingsField(
        label=gettext_lazy("Challenge settings"),
        required=False,
        help_text=gettext_lazy(
            'JSON, e.g. {"webroot": "/var/www/html"} or {"provider": "powerdns", '
            '"zone": "example.jp"}; never a secret (those go in the vault).'
        ),
    )

    class Meta:
        model = ManagedCertificate
        fields = [
            "client",
            "name",
            "names",
            "key_type",
            "key_policy",
            "issuer",
            "acme_account",
            "acme_profile",
            "ca_name",
            "product",
            "challenge",
            "challenge_settings",
            "challenge_secret",
            "renewal_instruction",
            "contract",
            "enabled",
        ]
        labels = {"client": gettext_lazy("Client")}

    def __init__(self, *args, user, client: Client | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        clients = changeable(Client.objects.all(), user, ManagedCertificate.change_rule)
        self.fields["client"].queryset = clients
        fixed = client or (self.instance.client if self.instance.pk else None)
        if fixed is not None:
            self.fields["client"].initial = fixed.pk
            self.fields["client"].disabled = True
        scope = Q(client=fixed) if fixed is not None else Q(client__in=clients)
        # Only the chosen client's are listed (mamori.js); the server refuses another's (clean).
        for name in ("acme_account", "challenge_secret", "contract"):
            self.fields[name].widget = ClientRecordSelect()
        self.fields["acme_account"].queryset = AcmeAccount.objects.filter(scope)
        self.fields["challenge_secret"].queryset = Secret.objects.live().filter(scope)
        self.fields["contract"].queryset = Contract.objects.filter(scope)

    def clean(self):
        data = super().clean()
        client = data.get("client")
        for name in ("acme_account", "challenge_secret", "contract"):
            value = data.get(name)
            if value is not None and client is not None and value.client_id != client.pk:
                self.add_error(name, _("Not one of this client's."))
        if data.get("issuer") == IssuerKind.ACME:
            if not data.get("acme_account"):
                self.add_error("acme_account", _("An ACME certificate needs an ACME account."))
            if not data.get("challenge"):
                self.add_error("challenge", _("Choose how Mamori proves control of the names."))
        if data.get("challenge") == ChallengeMethod.HTTP_WEBROOT and not (
            data.get("challenge_settings") or {}
        ).get("webroot"):
            self.add_error("challenge_settings", _('Give the webroot: {"webroot": "/path"}.'))
        return data


def _changes(form: ManagedForm) -> dict:
    return {name: form.cleaned_data.get(name) for name in form.changed_data} | {
        "client": form.cleaned_data["client"].code
    }


@login_required
def managed_add(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_provider_staff:
        raise PermissionDenied
    client = None
    if request.GET.get("client"):
        client = get_object_or_404(Client.objects.visible_to(user), code=request.GET["client"])
        require_change(request.user, client, ManagedCertificate.change_rule)
    form = ManagedForm(request.POST or None, user=user, client=client)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            managed = form.save()
            audit.record("managed.create", managed, request=request, changes=_changes(form))
        messages.success(request, _("Managed certificate %(name)s added.") % {"name": managed})
        return redirect(managed)
    return render(request, "lifecycle/managed_form.html", {"form": form, "managed": None})


@login_required
def managed_edit(request: HttpRequest, pk: int) -> HttpResponse:
    managed = visible_managed(request, pk)
    require_change(request.user, managed)
    form = ManagedForm(request.POST or None, instance=managed, user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            managed = form.save()
            if {"names", "issuer", "acme_account"} & set(form.changed_data):
                # A new schedule for what the certificate now is.
                ManagedCertificate.objects.filter(pk=managed.pk).update(renew_at=None)
            audit.record("managed.update", managed, request=request, changes=_changes(form))
        messages.success(request, _("Saved."))
        return redirect(managed)
    return render(request, "lifecycle/managed_form.html", {"form": form, "managed": managed})


# --- the buttons -----------------------------------------------------------------------------


def _order_now(request: HttpRequest, pk: int, action) -> HttpResponse:
    managed = visible_managed(request, pk)
    require_change(request.user, managed)
    try:
        order = action(managed, actor=request.user, request=request)
    except renewal.RenewalError as e:
        messages.error(request, str(e))
    except orders.OrderInFlight as e:
        messages.info(request, _("An order is already open: #%(n)s.") % {"n": e.order.pk})
    except ValueError as e:
        messages.error(request, _("The order cannot be placed: %(error)s") % {"error": e})
    else:
        if order.issuer == IssuerKind.MANUAL:
            text = _("Order #%(n)s recorded: apply at the CA from the order's page.")
        else:
            text = _("Order #%(n)s recorded; Mamori works on it in the background.")
        messages.success(request, text % {"n": order.pk})
        return redirect(order)
    return redirect(managed)


@login_required
@require_POST
def managed_issue(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_now(request, pk, renewal.issue_now)


@login_required
@require_POST
def managed_renew(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_now(request, pk, renewal.renew_now)


class RecordApprovalForm(forms.Form):
    given_by = forms.CharField(
        label=gettext_lazy("Given by"),
        max_length=200,
        help_text=gettext_lazy("Who at the client said yes."),
    )
    channel = forms.ChoiceField(label=gettext_lazy("How"), choices=RECORD_CHANNELS)
    at = forms.DateTimeField(
        label=gettext_lazy("When"),
        required=False,
        help_text=gettext_lazy("Empty: now. Format 2026-05-01 14:30."),
    )
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea)


@login_required
def managed_record_approval(request: HttpRequest, pk: int) -> HttpResponse:
    managed = visible_managed(request, pk)
    require_change(request.user, managed)
    form = RecordApprovalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            approvals.record_approval(
                managed,
                actor=request.user,
                given_by=data["given_by"],
                channel=data["channel"],
                at=data["at"],
                note=data["note"],
                request=request,
            )
        except approvals.ApprovalError as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, _("Approval recorded; the renewal will be ordered."))
            return redirect(managed)
    return render(
        request, "lifecycle/managed_record_approval.html", {"form": form, "managed": managed}
    )


class HoldForm(forms.Form):
    awaiting = forms.ChoiceField(label=gettext_lazy("Waiting for"), choices=HOLD_CHOICES)
    note = forms.CharField(
        label=gettext_lazy("What exactly"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Sent to the client in the notice that asks for it."),
    )
    notify = forms.BooleanField(
        label=gettext_lazy("Ask the client by e-mail"), required=False, initial=True
    )


@login_required
def managed_hold(request: HttpRequest, pk: int) -> HttpResponse:
    managed = visible_managed(request, pk)
    require_change(request.user, managed)
    form = HoldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        renewal.put_on_hold(
            managed,
            data["awaiting"],
            data["note"],
            actor=request.user,
            notify=data["notify"],
            request=request,
        )
        messages.success(request, _("The renewal is on hold."))
        return redirect(managed)
    return render(request, "lifecycle/managed_hold.html", {"form": form, "managed": managed})


@login_required
@require_POST
def managed_release(request: HttpRequest, pk: int) -> HttpResponse:
    managed = visible_managed(request, pk)
    require_change(request.user, managed)
    was_on_hold = renewal.is_on_hold(managed)
    try:
        renewal.release_hold(
            managed,
            actor=request.user,
            note=request.POST.get("note", ""),
            request=request,
            strict=False,
        )
    except renewal.RenewalError as e:
        messages.info(request, str(e))
    else:
        if was_on_hold:
            messages.success(request, _("Hold released; the renewal goes on."))
        else:
            messages.info(request, _("The renewal was not on hold."))
    return redirect(managed)


# --- the client's approval page --------------------------------------------------------------


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[("approve", gettext_lazy("Approve")), ("decline", gettext_lazy("Decline"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # Provider staff recording the client's answer on its behalf.
    given_by = forms.CharField(label=gettext_lazy("Given by"), max_length=200, required=False)
    channel = forms.ChoiceField(label=gettext_lazy("How"), choices=RECORD_CHANNELS, required=False)


def renewal_terms(approval: Approval) -> dict:
    """What the client needs to decide (issue 15): what will be renewed and installed where, the
    CA's fee if it is known (the last order's; none for an ACME CA), by when an answer is needed
    and when the current certificate expires. Dates and amounts, no sentences: the template
    words them in the reader's language."""
    managed = approval.managed
    now = timezone.now()
    current = approval.renewal_of
    expires = current.not_after if current else None
    last_fee = (
        managed.orders.filter(fee_amount__isnull=False).order_by("-created_at", "-pk").first()
    )
    contract = managed.contract or (
        Contract.objects.filter(client_id=managed.client_id, type=ContractType.SSL_MANAGEMENT)
        .order_by("-start")
        .first()
    )
    return {
        "expires": expires,
        "days_left": max(int((expires - now).total_seconds() // 86400), 0) if expires else None,
        "expired": expires is not None and expires <= now,
        # The renewal starts at renew_at; once that has passed, the answer is needed now.
        "answer_by": managed.renew_at if managed.renew_at and managed.renew_at > now else None,
        "free_ca": managed.issuer == IssuerKind.ACME,
        "ca_name": managed.ca_name,
        "fee": last_fee,
        "contract": contract,
        "targets": [t.name for t in managed.targets.filter(enabled=True).order_by("name")],
    }


@login_required
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    approval = get_object_or_404(
        Approval.objects.visible_to(request.user).select_related(
            "managed__client", "managed__certificate", "renewal_of", "decided_by"
        ),
        pk=pk,
    )
    managed = approval.managed
    user = request.user
    if not approvals.may_decide(user, managed):
        raise PermissionDenied
    on_behalf = not approvals.is_client_admin_of(user, managed)
    form = DecisionForm(request.POST or None)
    context = {
        "approval": approval,
        "managed": managed,
        "form": form,
        "on_behalf": on_behalf,
        "is_open": approval.state == ApprovalState.REQUESTED,
        **renewal_terms(approval),
    }
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        decide = approvals.approve if data["decision"] == "approve" else approvals.decline
        if on_behalf and not (data["channel"] and data["given_by"].strip()):
            form.add_error(
                None, _("Recording the client's answer: say who gave it and how (given by, how).")
            )
            return render(request, "lifecycle/managed_approval.html", context)
        try:
            decide(
                approval,
                actor=user,
                channel=data["channel"] if on_behalf else ApprovalChannel.PORTAL,
                given_by=data["given_by"],
                note=data["note"],
                request=request,
            )
        except approvals.ApprovalError as e:
            form.add_error(None, str(e))
        else:
            if data["decision"] == "approve":
                messages.success(
                    request, _("Thank you: the renewal is approved and will go ahead.")
                )
            else:
                messages.success(request, _("The renewal is declined; nothing will be ordered."))
            return redirect("approval_decide", pk=approval.pk)
    return render(request, "lifecycle/managed_approval.html", context)


urlpatterns = [
    path("", managed_list, name="managed_list"),
    path("managed/add/", managed_add, name="managed_add"),
    path("managed/<int:pk>/", managed_detail, name="managed_detail"),
    path("managed/<int:pk>/edit/", managed_edit, name="managed_edit"),
    path("managed/<int:pk>/issue/", managed_issue, name="managed_issue"),
    path("managed/<int:pk>/renew/", managed_renew, name="managed_renew"),
    path("managed/<int:pk>/approval/", managed_record_approval, name="managed_record_approval"),
    path("managed/<int:pk>/hold/", managed_hold, name="managed_hold"),
    path("managed/<int:pk>/release/", managed_release, name="managed_release"),
    path("approvals/<int:pk>/", approval_decide, name="approval_decide"),
]
