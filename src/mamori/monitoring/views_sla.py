"""SLA pages (MON-07): the month's figures and credit per client and policy, computing and
finalizing them, and the policies with their credit tiers.

Whoever sees a client reads its figures. Provider administrators and operators compute,
finalize and edit policies (the credit is money on the client's invoice: subcontractors do not).
Everything is fetched through ``visible_to``; every write is audited.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.permissions import Rule, changes_every_client
from mamori.inventory.models import Server, Site
from mamori.monitoring import sla
from mamori.monitoring.models import SlaCredit, SlaPolicy


def require_manager(request: HttpRequest) -> None:
    """SLA credits are money on the client's invoice and policies are provider-wide: computed,
    finalized and edited by staff who may change every client's records (the provider's
    administrators and operators), not by subcontractors."""
    if not changes_every_client(request.user, Rule.STAFF):
        raise PermissionDenied


def _month_param(request: HttpRequest) -> dt.date:
    text = request.POST.get("month") or request.GET.get("month")
    if not text:
        return sla.previous_month()
    try:
        return sla.parse_month(text)
    except sla.SlaError:
        return sla.previous_month()


def _table_url(month: dt.date, client: str = "") -> str:
    query = {"month": f"{month:%Y-%m}"} | ({"client": client} if client else {})
    return f"{reverse('sla_table')}?{urlencode(query)}"


# --- the month's table ---------------------------------------------------------------------------


@login_required
def sla_table(request: HttpRequest) -> HttpResponse:
    month = _month_param(request)
    clients = Client.objects.visible_to(request.user).order_by("code")
    code = request.GET.get("client", "")
    policies = SlaPolicy.objects.visible_to(request.user).select_related("client", "site", "server")
    chosen = None
    if code:
        chosen = clients.filter(code=code).first()
        policies = policies.filter(client=chosen) if chosen else policies.none()
    credits = {
        c.policy_id: c
        for c in SlaCredit.objects.filter(month=month, policy__in=policies).select_related("policy")
    }
    rows = [
        {
            "policy": policy,
            "credit": credits.get(policy.pk),
            "measured": sla.measured(policy, month),
        }
        for policy in policies.order_by("client__code", "name")
        if sla.policy_period(policy, month) is not None
    ]
    start, end = sla.month_bounds(month)
    context = {
        "month": month,
        "previous": sla.previous_month(month),
        "next": (month + dt.timedelta(days=32)).replace(day=1),
        "month_over": end <= timezone.now(),
        "month_begun": start <= timezone.now(),
        "rows": rows,
        "clients": clients,
        "chosen": chosen,
        "code": code,
        "may_manage": changes_every_client(request.user, Rule.STAFF),
    }
    return render(request, "monitoring/sla/table.html", context)


def _credit_action(request: HttpRequest, month: dt.date, code: str, act) -> HttpResponse:
    try:
        act()
    except sla.SlaError as exc:
        messages.error(request, str(exc))
    return redirect(_table_url(month, code))


@login_required
def sla_compute(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy.objects.visible_to(request.user), pk=pk)
    month = _month_param(request)
    if request.method != "POST":
        return redirect(_table_url(month, policy.client.code))
    require_manager(request)

    def act():
        # The month asked for, exactly: a wrong one is refused, not replaced by last month.
        sla.parse_month(request.POST.get("month", ""))
        credit = sla.compute_month(policy, month, actor=request.user, request=request)
        if credit.finalized_at:
            messages.info(request, _("This month is finalized: it was not computed again."))
        else:
            messages.success(request, _("The month is computed."))

    return _credit_action(request, month, request.POST.get("client", ""), act)


@login_required
def sla_finalize(request: HttpRequest, pk: int) -> HttpResponse:
    credit = get_object_or_404(
        SlaCredit.objects.visible_to(request.user).select_related("policy__client"), pk=pk
    )
    if request.method != "POST":
        return redirect(_table_url(credit.month, credit.policy.client.code))
    require_manager(request)

    def act():
        sla.finalize(credit, request.user, request=request)
        messages.success(request, _("The month is finalized: billing can use its credit."))

    return _credit_action(request, credit.month, request.POST.get("client", ""), act)


# --- policies -------------------------------------------------------------------------------------


def parse_tiers(text: str) -> list[dict]:
    """One tier per line: the availability (%) under which it applies and the credit (%),
    e.g. ``99.9 10``. Raises :class:`ValidationError` naming the line at fault."""
    tiers: list[dict] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.replace(",", " ").replace("%", " ").split()
        if not words:
            continue
        if len(words) != 2:
            raise ValidationError(
                _("Line %(n)s: write two numbers, the availability and the credit, e.g. 99.9 10.")
                % {"n": number}
            )
        try:
            below, credit = (Decimal(w) for w in words)
        except InvalidOperation:
            raise ValidationError(
                _("Line %(n)s: %(text)s is not a number.") % {"n": number, "text": line.strip()}
            ) from None
        if not (0 < below <= 100) or below.as_tuple().exponent < -3:
            raise ValidationError(
                _(
                    "Line %(n)s: the availability must be above 0 and at most 100, with at most 3 "
                    "decimals."
                )
                % {"n": number}
            )
        if not (0 <= credit <= 100) or credit.as_tuple().exponent < -2:
            raise ValidationError(
                _("Line %(n)s: the credit must be 0 to 100 %%, with at most 2 decimals.")
                % {"n": number}
            )
        for other in tiers:
            if Decimal(str(other["below"])) == below:
                raise ValidationError(
                    _("Line %(n)s: a tier below %(below)s %% is there already.")
                    % {"n": number, "below": below}
                )
        tiers.append({"below": _number(below), "credit_percent": _number(credit), "line": number})
    ordered = sorted(tiers, key=lambda t: -t["below"])
    for higher, lower in itertools.pairwise(ordered):
        if lower["credit_percent"] < higher["credit_percent"]:
            raise ValidationError(
                _(
                    "Line %(n)s: a lower availability must not earn a smaller credit than line "
                    "%(m)s."
                )
                % {"n": lower["line"], "m": higher["line"]}
            )
    return [{"below": t["below"], "credit_percent": t["credit_percent"]} for t in ordered]


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def parse_length_tiers(text: str) -> list[dict]:
    """One tier per line: the hours of an outage and the credit (%), e.g. ``12 25``. Raises
    :class:`ValidationError` naming the line at fault."""
    tiers: list[dict] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.replace(",", " ").replace("%", " ").replace("h", " ").split()
        if not words:
            continue
        if len(words) != 2:
            raise ValidationError(
                _("Line %(n)s: write two numbers, the hours and the credit, e.g. 12 25.")
                % {"n": number}
            )
        try:
            hours, credit = (Decimal(w) for w in words)
        except InvalidOperation:
            raise ValidationError(
                _("Line %(n)s: %(text)s is not a number.") % {"n": number, "text": line.strip()}
            ) from None
        if not (0 < hours <= 24 * 31) or hours.as_tuple().exponent < -2:
            raise ValidationError(
                _(
                    "Line %(n)s: the hours must be above 0 and at most a month, with at most 2 "
                    "decimals."
                )
                % {"n": number}
            )
        if not (0 <= credit <= 100) or credit.as_tuple().exponent < -2:
            raise ValidationError(
                _("Line %(n)s: the credit must be 0 to 100 %%, with at most 2 decimals.")
                % {"n": number}
            )
        if any(Decimal(str(other["hours"])) == hours for other in tiers):
            raise ValidationError(
                _("Line %(n)s: a tier of %(hours)s hours is there already.")
                % {"n": number, "hours": hours}
            )
        tiers.append({"hours": _number(hours), "credit_percent": _number(credit), "line": number})
    ordered = sorted(tiers, key=lambda t: t["hours"])
    for shorter, longer in itertools.pairwise(ordered):
        if longer["credit_percent"] < shorter["credit_percent"]:
            raise ValidationError(
                _("Line %(n)s: a longer outage must not earn a smaller credit than line %(m)s.")
                % {"n": longer["line"], "m": shorter["line"]}
            )
    return [{"hours": t["hours"], "credit_percent": t["credit_percent"]} for t in ordered]


def length_tiers_text(tiers: list[dict]) -> str:
    return "\n".join(f"{t['hours']} {t['credit_percent']}" for t in tiers)


def tiers_text(tiers: list[dict]) -> str:
    return "\n".join(f"{t['below']} {t['credit_percent']}" for t in tiers)


class SlaPolicyForm(forms.ModelForm):
    tiers_text = forms.CharField(
        label=gettext_lazy("Credit tiers by availability"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "99.9 10\n99.0 25\n95.0 50"}),
        help_text=gettext_lazy(
            "One tier per line: the availability (%) below which it applies, then the credit "
            "(% of the monthly fee). “99.0 25” means: under 99.0 % availability, 25 % off. "
            "The lowest matching tier applies."
        ),
    )

    length_tiers_text = forms.CharField(
        label=gettext_lazy("Credit tiers by outage length"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "6 10\n12 25\n24 50"}),
        help_text=gettext_lazy(
            "One tier per line: the hours of one continuous total outage, then the credit "
            "(% of the monthly fee). “12 25” means: an outage of 12 hours or more, 25 % off. "
            "The longest matching tier applies."
        ),
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "name",
            "site",
            "server",
            "monthly_fee",
            "currency",
            "target_percent",
            "long_outage_hours",
            "table",
            "valid_from",
            "valid_until",
        ]
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}),
            "valid_until": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, client: Client, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.client = client
        self.fields["site"].queryset = Site.objects.filter(client=client)
        self.fields["server"].queryset = Server.objects.filter(client=client)
        self.fields["site"].help_text = _("Empty: every check of the client.")
        if self.instance.pk:
            self.initial["tiers_text"] = tiers_text(self.instance.tiers)
            self.initial["length_tiers_text"] = length_tiers_text(self.instance.length_tiers)

    def clean_tiers_text(self) -> list[dict]:
        return parse_tiers(self.cleaned_data["tiers_text"])

    def clean_monthly_fee(self):
        fee = self.cleaned_data["monthly_fee"]
        if fee is not None and fee < 0:
            raise ValidationError(_("The fee cannot be negative."))
        return fee

    def clean_length_tiers_text(self) -> list[dict]:
        return parse_length_tiers(self.cleaned_data["length_tiers_text"])

    def clean(self):
        data = super().clean()
        if data.get("site") and data.get("server"):
            self.add_error("server", _("Choose a site or a server, not both."))
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("The end comes before the start."))
        return data

    def save(self, commit: bool = True) -> SlaPolicy:
        self.instance.tiers = self.cleaned_data["tiers_text"]
        self.instance.length_tiers = self.cleaned_data["length_tiers_text"]
        return super().save(commit)


def _save_policy(request: HttpRequest, form: SlaPolicyForm, action: str) -> SlaPolicy:
    with transaction.atomic():
        policy = form.save()
        changes = {name: form.cleaned_data.get(name) for name in form.changed_data}
        changes.pop("tiers_text", None)
        changes.pop("length_tiers_text", None)
        if "tiers_text" in form.changed_data or action == "sla_policy.create":
            changes["tiers"] = policy.tiers
        if "length_tiers_text" in form.changed_data or action == "sla_policy.create":
            changes["length_tiers"] = policy.length_tiers
        for name in ("site", "server"):
            if name in changes:
                changes[name] = str(changes[name]) if changes[name] else None
        audit.record(action, policy, request=request, changes=changes)
    return policy


@login_required
def sla_policy_add(request: HttpRequest, code: str) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user), code=code)
    require_manager(request)
    form = SlaPolicyForm(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        _save_policy(request, form, "sla_policy.create")
        messages.success(request, _("SLA policy added."))
        return redirect(_table_url(_month_param(request), client.code))
    return render(
        request, "monitoring/sla/policy_form.html", {"form": form, "client": client, "policy": None}
    )


@login_required
def sla_policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(
        SlaPolicy.objects.visible_to(request.user).select_related("client"), pk=pk
    )
    require_manager(request)
    form = SlaPolicyForm(request.POST or None, instance=policy, client=policy.client)
    if request.method == "POST" and form.is_valid():
        _save_policy(request, form, "sla_policy.update")
        messages.success(
            request, _("SLA policy saved. Months already computed change when computed again.")
        )
        return redirect(_table_url(_month_param(request), policy.client.code))
    return render(
        request,
        "monitoring/sla/policy_form.html",
        {"form": form, "client": policy.client, "policy": policy},
    )


urlpatterns = [
    path("sla/", sla_table, name="sla_table"),
    path("sla/policies/<int:pk>/compute/", sla_compute, name="sla_compute"),
    path("sla/credits/<int:pk>/finalize/", sla_finalize, name="sla_finalize"),
    path("sla/clients/<str:code>/policies/add/", sla_policy_add, name="sla_policy_add"),
    path("sla/policies/<int:pk>/edit/", sla_policy_edit, name="sla_policy_edit"),
]
