"""Forms of the vault pages. The value field is write-only: it never shows a stored value."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from mamori.certificates.models import Certificate
from mamori.clients.models import Client
from mamori.core.filters import ALL, with_all
from mamori.core.models import User
from mamori.inventory.models import Server, Site
from mamori.vault.models import Secret, SecretKind
from mamori.vault.services import MAX_VALUE_BYTES


class SecretForm(forms.ModelForm):
    """Add a secret to ``client`` or change one. On change, an empty value keeps the old one."""

    value = forms.CharField(
        label=_("Secret value"),
        strip=False,
        max_length=MAX_VALUE_BYTES,
        widget=forms.Textarea(
            attrs={"rows": 3, "class": "mono", "autocomplete": "off", "spellcheck": "false"}
        ),
    )

    class Meta:
        model = Secret
        fields = ["kind", "name", "username", "location", "site", "server", "certificate", "notes"]
        widgets = {
            "name": forms.TextInput(attrs={"autofocus": True}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, client: Client, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.client = client
        self.fields["site"].queryset = Site.objects.visible_to(user).filter(client=client)
        self.fields["server"].queryset = Server.objects.visible_to(user).filter(client=client)
        self.fields["certificate"].queryset = (
            Certificate.objects.visible_to(user)
            .filter(sightings__endpoint__client=client)
            .distinct()
        )
        if self.instance.pk:
            self.fields["value"].required = False
            self.fields["value"].label = _("New secret value")
            self.fields["value"].help_text = _(
                "Leave empty to keep the current value. The current value is never shown here."
            )
        else:
            self.fields["value"].help_text = _(
                "Stored encrypted. Only staff assigned to the client can reveal it, stating why."
            )

    def metadata(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class RevealForm(forms.Form):
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=500,
        help_text=_("Why you need the value now; it goes on the audit trail."),
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. SSH login to handle a server outage")}
        ),
    )


class DestroyForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        help_text=_("Recorded with the destruction, e.g. the contract ended."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirm = forms.BooleanField(
        label=_(
            "I understand that the value cannot be recovered afterwards, not even from backups."
        )
    )


class SecretFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        label=_("Client"), queryset=Client.objects.none(), to_field_name="code", required=False
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=with_all(SecretKind.choices), required=False)
    destroyed = forms.BooleanField(label=_("Include destroyed"), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.visible_to(user)
        self.fields["client"].empty_label = ALL
