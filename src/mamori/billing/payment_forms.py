"""Forms of the billing pages of this part: the issuer's particulars, fees, payments,
contract changes and the fee-evasion surcharge. They only turn what the browser sends into
values; the write services (:mod:`mamori.billing.issuer`, ``fees``, ``payments``, ``changes``)
judge them, with the same messages as the API and the command line."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from mamori.billing.fees import FEE_FIELDS
from mamori.billing.issuer import ISSUER_FIELDS
from mamori.billing.models import (
    ChangeKind,
    Charge,
    ContractChange,
    Fee,
    FeeKind,
    IssuerProfile,
    Payment,
    TaxRate,
)
from mamori.clients.forms import REQUIRED, form_class, show_refusal

FeeForm = form_class(Fee, FEE_FIELDS)
IssuerForm = form_class(IssuerProfile, ISSUER_FIELDS)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ServiceForm(forms.Form):
    """A form whose values a write service judges; :meth:`refused` shows its refusal."""

    model: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["required"] = REQUIRED

    def refused(self, error) -> None:
        show_refusal(self, self.model, error)


class PaymentForm(ServiceForm):
    model = Payment

    amount = forms.DecimalField(label=_("amount"), min_value=1, decimal_places=0, max_digits=14)
    received_on = forms.DateField(label=_("received on"), widget=_date_input())
    note = forms.CharField(label=_("note"), required=False, max_length=200)


class SurchargeForm(ServiceForm):
    model = Charge

    evaded = forms.DecimalField(
        label=_("evaded amount"),
        min_value=1,
        decimal_places=0,
        max_digits=14,
        help_text=_("The surcharge is twice this amount (004 §32)."),
    )
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}))
    occurred_on = forms.DateField(label=_("date"), widget=_date_input())
    contract = forms.ModelChoiceField(label=_("contract"), queryset=None, required=False)

    def __init__(self, *args: Any, client=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contract"].queryset = client.contracts.all() if client else None


class InterestForm(ServiceForm):
    model = Charge

    on = forms.DateField(label=_("interest up to"), widget=_date_input())


#: How many fee changes one change form offers.
FEE_CHANGE_ROWS = 3


class ChangeForm(ServiceForm):
    """An order form or change request, with up to :data:`FEE_CHANGE_ROWS` fee changes."""

    model = ContractChange

    kind = forms.ChoiceField(label=_("kind"), choices=ChangeKind.choices)
    received_on = forms.DateField(label=_("received on"), widget=_date_input())
    summary = forms.CharField(label=_("what changes"), widget=forms.Textarea(attrs={"rows": 3}))
    document = forms.FileField(label=_("document"), required=False)
    personal = forms.BooleanField(
        label=_("the document holds personal data"),
        required=False,
        help_text=_("Every document is kept encrypted in the vault; reading it is audited."),
    )

    def __init__(self, *args: Any, contract=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fees = [("", _("— a new fee —"))]
        if contract is not None:
            fees += [
                (str(f.pk), f"{f} ({f.starts_on or contract.start:%Y-%m-%d}–)")
                for f in contract.fees.all()
            ]
        for n in range(1, FEE_CHANGE_ROWS + 1):
            self.fields[f"fee_{n}"] = forms.ChoiceField(
                label=_("fee"), choices=fees, required=False
            )
            self.fields[f"fee_kind_{n}"] = forms.ChoiceField(
                label=_("kind of fee"), choices=[("", "—"), *FeeKind.choices], required=False
            )
            self.fields[f"amount_{n}"] = forms.DecimalField(
                label=_("new amount"),
                required=False,
                min_value=0,
                decimal_places=0,
                help_text=_("Empty for a fee that ends."),
            )
            self.fields[f"tax_rate_{n}"] = forms.TypedChoiceField(
                label=_("tax rate"),
                choices=[("", "—"), *TaxRate.choices],
                coerce=int,
                required=False,
                empty_value=None,
            )
        self.contract = contract

    def fee_rows(self) -> list[list]:
        return [
            [self[f"fee_{n}"], self[f"fee_kind_{n}"], self[f"amount_{n}"], self[f"tax_rate_{n}"]]
            for n in range(1, FEE_CHANGE_ROWS + 1)
        ]

    def head_fields(self) -> list:
        return [self[name] for name in ("kind", "received_on", "summary", "document", "personal")]

    def fee_changes(self) -> list[dict[str, Any]]:
        entries = []
        for n in range(1, FEE_CHANGE_ROWS + 1):
            fee = self.cleaned_data.get(f"fee_{n}") or None
            kind = self.cleaned_data.get(f"fee_kind_{n}") or None
            amount = self.cleaned_data.get(f"amount_{n}")
            rate = self.cleaned_data.get(f"tax_rate_{n}")
            if fee is None and kind is None and amount is None:
                continue
            entry: dict[str, Any] = {"fee": fee, "amount": amount}
            if kind:
                entry["kind"] = kind
            if rate is not None:
                entry["tax_rate"] = rate
            entries.append(entry)
        return entries


class DecisionForm(ServiceForm):
    model = ContractChange

    decision = forms.ChoiceField(
        choices=[("accept", _("Accept")), ("decline", _("Decline"))], widget=forms.HiddenInput
    )
    decided_on = forms.DateField(label=_("accepted or declined on"), widget=_date_input())
