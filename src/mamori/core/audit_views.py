"""The audit trail in the web UI (ACC-03): a filtered list and one page per event.

Provider administrators read every event; a client administrator reads the events of their
own client (``AuditEvent.client``); every other role is refused (403). An event of a client the
user may not see is a 404, as everywhere else.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from mamori.clients.models import Client
from mamori.core import audit, sentences
from mamori.core.filters import ALL
from mamori.core.htmx import wants_partial
from mamori.core.models import AuditEvent
from mamori.core.scoping import visible_client_ids

PAGE_SIZE = 50
# How much of the changes the list shows; the event's page shows them all.
CHANGES_PREVIEW = 160

# Labels of the actions Mamori itself records; an action not listed is shown as its code.
ACTION_LABELS = {
    "login": _("Signed in"),
    "logout": _("Signed out"),
    "login.failed": _("Sign-in failed"),
    "endpoint.create": _("Endpoint added"),
    "endpoint.update": _("Endpoint changed"),
    "endpoint.delete": _("Endpoint deleted"),
    "endpoint.check_requested": _("Check requested"),
    "site.create": _("Site added"),
    "site.update": _("Site changed"),
    "site.delete": _("Site deleted"),
    "server.create": _("Server added"),
    "server.update": _("Server changed"),
    "server.delete": _("Server deleted"),
    "domain.create": _("Domain added"),
    "domain.update": _("Domain changed"),
    "domain.delete": _("Domain deleted"),
    "contract.create": _("Contract added"),
    "contract.update": _("Contract changed"),
    "contract.delete": _("Contract deleted"),
    "import.create": _("Imported (new)"),
    "import.update": _("Imported (changed)"),
    "export": _("Exported"),
    "retention.purge": _("Records purged after the retention period"),
    "api_token.create": _("API token created"),
    "api_token.revoke": _("API token revoked"),
    "user.password_change": _("Password changed"),
    "user.2fa_enable": _("Two-factor authentication turned on"),
    "user.2fa_disable": _("Two-factor authentication turned off"),
    "user.recovery_code_used": _("Recovery code used"),
    "user.recovery_codes_renew": _("Recovery codes renewed"),
    "access_policy.update": _("Access policy changed"),
    "acme_account.create": _("ACME account added"),
    "acme_account.register": _("ACME account registered"),
    "acme_account.register_failed": _("ACME account registration failed"),
    "approval.approve": _("Renewal approved"),
    "approval.request": _("Renewal approval requested"),
    "client.create": _("Client added"),
    "client.change": _("Client particulars changed"),
    "contact.create": _("Contact added"),
    "contact.delete": _("Contact deleted"),
    "contact.update": _("Contact changed"),
    "contact_channel.create": _("Chat channel added"),
    "contact_channel.delete": _("Chat channel removed"),
    "contact_channel.test": _("Test message sent"),
    "deployment.create": _("Deployment queued"),
    "deployment.run": _("Deployment run"),
    "deployment_target.create": _("Deployment target added"),
    "deployment_target.delete": _("Deployment target removed"),
    "managed.create": _("Managed certificate added"),
    "managed.hold": _("Renewal put on hold"),
    "managed.release": _("Renewal resumed"),
    "managed.update": _("Managed certificate changed"),
    "offboard.destroy": _("Client data destroyed"),
    "offboard.export": _("Client data exported"),
    "officer.delete": _("Information officer removed"),
    "officer.update": _("Information officer changed"),
    "order.attachment_read": _("Order attachment opened"),
    "order.certificate": _("Certificate received for an order"),
    "order.create": _("Certificate ordered"),
    "order.fee": _("Order fee recorded"),
    "order.message": _("Order message"),
    "revocation.done": _("Revocation recorded"),
    "revocation.request": _("Revocation requested"),
    "seal.create": _("Site seal added"),
    "secret.create": _("Secret stored"),
    "secret.destroy": _("Secret destroyed"),
    "secret.reveal": _("Secret revealed"),
    "secret.update": _("Secret details changed"),
    "secret.value_change": _("Secret value changed"),
    "task.close": _("Task closed"),
    "task.key_compromise": _("Key compromise reported"),
    "task.open": _("Task opened"),
    "task.reopen": _("Task reopened"),
    "task.resume": _("Task resumed"),
    "task.waiting": _("Task waiting for the client"),
    "user.create": _("User created"),
    "user.password_set": _("Password set"),
    "user.update": _("User changed"),
    "user.2fa_reset": _("Two-factor authentication reset"),
    "incident.open": _("Incident recorded"),
    "incident.acknowledge": _("Incident acknowledged"),
    "backup_job.create": _("Backup job added"),
    "backup_job.update": _("Backup job changed"),
    "backup_run.start": _("Backup started by hand"),
    "backup_job.backup_now": _("Backup asked for now"),
    "backup_job.drill_now": _("Restore drill asked for now"),
    "backup_run.drill": _("Restore drill started by hand"),
    "backup_run.restore": _("Backup restored"),
    "incident.note": _("Note added to an incident"),
    "incident.cause": _("Incident cause set"),
    "incident.emergency_measure": _("Emergency measure recorded"),
    "incident.emergency_stop": _("Emergency stop recorded"),
    "incident.close": _("Incident closed"),
    "maintenance.add": _("Maintenance window planned"),
    "maintenance.edit": _("Maintenance window changed"),
    "maintenance.cancel": _("Maintenance window cancelled"),
    "announcement.create": _("Announcement drafted"),
    "announcement.edit": _("Announcement draft changed"),
    "announcement.send": _("Announcement sent"),
    "announcement.period": _("Notice period of announcements changed"),
    "report.build": _("Monthly report built"),
    "report.release": _("Monthly report released"),
    "report.settings": _("Monthly report settings changed"),
    "check.create": _("Check added"),
    "check.update": _("Check changed"),
    "check.delete": _("Check deleted"),
    "check.pause": _("Check paused"),
    "check.resume": _("Check resumed"),
    "sla.compute": _("SLA month computed"),
    "sla.finalize": _("SLA month finalized for billing"),
    "sla_policy.create": _("SLA policy added"),
    "sla_policy.update": _("SLA policy changed"),
    "fee.create": _("Fee added"),
    "fee.update": _("Fee changed"),
    "charge.create": _("Charge recorded for billing"),
    "invoice.issue": _("Invoice issued"),
    # The work desk's requests (MNT-03).
    "request.create": _("Request filed"),
    "request.message.in": _("Client's message on a request"),
    "request.message.out": _("Reply to the client on a request"),
    "request.message.note": _("Internal note on a request"),
    "request.attachment": _("File added to a request"),
    "request.assign": _("Request assigned"),
    "request.resolve": _("Request resolved"),
    "request.close": _("Request closed"),
    "request.reopen": _("Request reopened"),
    "invoice.credit_note": _("Credit note issued"),
    "estimate.create": _("Estimate drafted"),
    "estimate.update": _("Draft estimate changed"),
    "estimate.issue": _("Estimate issued"),
    "estimate.accept": _("Estimate accepted"),
    "estimate.decline": _("Estimate declined"),
    "estimate.withdraw": _("Estimate withdrawn"),
    "estimate.expire": _("Estimate expired"),
    "fee.delete": _("Fee deleted"),
    "charge.interest": _("Late-payment interest charged"),
    "charge.surcharge": _("Fee-evasion surcharge charged"),
    "payment.create": _("Payment recorded"),
    "issuer.update": _("Invoice issuer changed"),
    "contract_change.create": _("Order or change request recorded"),
    "contract_change.accept": _("Order or change accepted"),
    "contract_change.decline": _("Order or change declined"),
    "terms_profile.create": _("Terms profile added"),
    "terms_profile.update": _("Terms profile changed"),
    "terms_profile.delete": _("Terms profile deleted"),
    "incident.recovery": _("Recovery time recorded"),
    # The work desk's scope of work.
    "catalogue.apply": _("Shipped catalogue applied"),
    "catalogue.create": _("Catalogue item added"),
    "catalogue.update": _("Catalogue item changed"),
    "catalogue.delete": _("Catalogue item deleted"),
    "request.classify": _("Request classified"),
    "work.create": _("Work logged"),
    "work.update": _("Work log entry changed"),
    "work.delete": _("Work log entry deleted"),
    # The work desk's support hours.
    "closed_day.add": _("Closed days added"),
    "closed_day.remove": _("Closed days removed"),
    "support_hours.set": _("Support hours set"),
    # The desk's waits (CT-09), suspension (NOT-05) and personal-data incidents (ACC-04).
    "request.wait": _("Request waiting for the client"),
    "request.wait_end": _("Request no longer waiting for the client"),
    "request.suspend": _("Request's work suspended"),
    "request.resume": _("Request's work resumed"),
    "data_incident.record": _("Personal data incident recorded and reported"),
    "data_incident.measures": _("Personal data incident: measures added"),
    # The desk's mailbox.
    "desk.mail.assign": _("Desk e-mail assigned to a client"),
    "software.setup_created": _("Software collection set up"),
    "software.setup_changed": _("Software collection setup changed"),
    "software.collected": _("Server software collected"),
    "weblogs.setup_saved": _("Access log setup saved"),
    "weblogs.collected": _("Access logs collected"),
    "weblogs.imported": _("Access log file counted"),
    "software.account_event_acknowledged": _("Server account change acknowledged"),
    "request.confidential": _("Request marked confidential"),
    # Vulnerabilities and updates (MNT-02).
    "advisories.import": _("Vulnerability data imported"),
    "advisories.scan": _("Vulnerability findings opened or closed"),
    "update.record": _("Update or repair recorded"),
    "update.start": _("Update queued to run over SSH"),
    "update.run": _("Update run over SSH"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def object_type_label(label: str) -> str:
    """The model's verbose name for ``app.Model``, else the label itself."""
    if not label:
        return ""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label


def compact_changes(
    changes: Any, limit: int | None = CHANGES_PREVIEW, object_type: str = ""
) -> str:
    """``changes`` on one line: ``field: value``, or ``field: old → new`` for a diff; a field of
    the ``object_type`` model is named as the model names it, in the reader's language."""
    if not isinstance(changes, dict):
        text = json.dumps(changes, ensure_ascii=False)
    else:
        parts = []
        for key, value in changes.items():
            field = _model_field(object_type, key)
            if isinstance(value, list) and len(value) == 2:
                value_text = f"{_short(value[0], field)} → {_short(value[1], field)}"
            else:
                value_text = _short(value, field)
            name = str(field.verbose_name) if field is not None else key
            parts.append(f"{name}: {value_text}")
        text = "; ".join(parts)
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def _model_field(object_type: str, key: str):
    """The field ``key`` of the model ``app.Model`` (its name and choices), else None."""
    try:
        field = apps.get_model(object_type)._meta.get_field(key)
    except (LookupError, ValueError, FieldDoesNotExist):
        return None
    return field if hasattr(field, "verbose_name") else None


def _short(value: Any, field=None) -> str:
    """One recorded value as people read it: a choice by its name, a yes or no, a stored
    sentence (:class:`~mamori.core.sentences.Text`) in the reader's language."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, dict) and "msgid" in value:
        return sentences.shown(value, "")
    if field is not None and field.choices and isinstance(value, str):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=40,
        help_text=_("An action, or its group: “endpoint” finds every endpoint action."),
    )
    client = forms.ModelChoiceField(
        label=_("Client"), queryset=Client.objects.none(), to_field_name="code", required=False
    )
    object_type = forms.ChoiceField(label=_("Object type"), required=False)
    date_from = forms.DateField(
        label=_("Since"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(label=_("Object"), required=False, max_length=200)

    def __init__(self, *args: Any, user, events, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if visible_client_ids(user) is None:
            self.fields["client"].queryset = Client.objects.order_by("code")
            self.fields["client"].empty_label = ALL
        else:
            # A client administrator reads their own client's events only.
            del self.fields["client"]
        types = events.order_by().values_list("object_type", flat=True).distinct()
        self.fields["object_type"].choices = [
            ("", ALL),
            *sorted(((t, object_type_label(t)) for t in types if t), key=lambda c: c[1]),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            audit.check_period(data.get("date_from"), data.get("date_to"))
        except ValidationError as exc:
            self.add_error("date_to", exc)
        return data

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for :func:`mamori.core.audit.filter_events`."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        client = data.get("client")
        return {
            "actor": data["actor"],
            "action": data["action"],
            "client": client.code if client else None,
            "object_type": data["object_type"],
            "date_from": data["date_from"],
            "date_to": data["date_to"],
            "text": data["q"],
        }


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    events = audit.readable_events(request.user)
    form = AuditFilterForm(request.GET or None, user=request.user, events=events)
    if form.is_bound and not form.is_valid():
        # A filter that cannot be applied (reversed dates) lists nothing and says why.
        events = events.none()
    else:
        events = audit.filter_events(events, **form.filters())
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_row(event) for event in page.object_list]
    template = "audit/_list_results.html" if wants_partial(request) else "audit/list.html"
    return render(request, template, {"form": form, "page": page, "rows": rows})


@login_required
def audit_detail(request: HttpRequest, sequence: int) -> HttpResponse:
    # Scope first (an event of another client is a 404), then the role (403), as for endpoints.
    event = get_object_or_404(
        AuditEvent.objects.visible_to(request.user).select_related("client"), sequence=sequence
    )
    if not audit.may_read_trail(request.user):
        raise PermissionDenied
    context = {
        "event": event,
        "row": _row(event, limit=None),
        "changes_json": json.dumps(event.changes, ensure_ascii=False, indent=2),
    }
    return render(request, "audit/detail.html", context)


def _row(event: AuditEvent, limit: int | None = CHANGES_PREVIEW) -> dict[str, Any]:
    return {
        "event": event,
        "action": action_label(event.action),
        "object_type": object_type_label(event.object_type),
        "changes": compact_changes(event.changes, limit, event.object_type),
    }
