"""The announcement form: what, when, the operator's text in both languages, and whom."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mamori.announcements.models import AnnouncementKind
from mamori.clients.forms import REQUIRED
from mamori.clients.models import ContractType, TermsProfile
from mamori.inventory.models import Server


class ServerChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Server) -> str:
        return f"{obj.client.code} / {obj.name}"


class ProfileChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: TermsProfile) -> str:
        return obj.display_name()


class AnnouncementForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=AnnouncementKind.choices)
    effective_on = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_(
            "The day the new terms take effect, the service ends or the maintenance takes place. "
            "It must leave every affected contract its notice period."
        ),
    )
    subject_ja = forms.CharField(label=_("Subject (Japanese)"), max_length=200)
    body_ja = forms.CharField(
        label=_("Text (Japanese)"), max_length=20000, widget=forms.Textarea(attrs={"rows": 8})
    )
    subject_en = forms.CharField(label=_("Subject (English)"), max_length=200)
    body_en = forms.CharField(
        label=_("Text (English)"), max_length=20000, widget=forms.Textarea(attrs={"rows": 8})
    )
    contract_types = forms.MultipleChoiceField(
        label=_("Contract types"),
        choices=ContractType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The services concerned; none: every type."),
    )
    terms_profiles = ProfileChoice(
        label=_("Terms profiles"),
        queryset=TermsProfile.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The kinds of contract concerned; none: every kind."),
    )
    servers = ServerChoice(
        label=_("Servers"),
        queryset=Server.objects.select_related("client").order_by("client__code", "name"),
        required=False,
        help_text=_("Only the clients of these servers; none: every client."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["required"] = REQUIRED


def initial_of(announcement) -> dict:
    return {
        "kind": announcement.kind,
        "effective_on": announcement.effective_on,
        "subject_ja": announcement.subject_ja,
        "subject_en": announcement.subject_en,
        "body_ja": announcement.body_ja,
        "body_en": announcement.body_en,
        "contract_types": list(announcement.contract_types or []),
        "terms_profiles": list(announcement.terms_profiles.all()),
        "servers": list(announcement.servers.all()),
    }
