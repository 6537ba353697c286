"""The forms of the advisory pages: record an update done by hand, or one to run over SSH."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.advisories.models import UpdateKind, UpdateMethod
from mamori.clients.forms import REQUIRED

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class UpdateForm(forms.Form):
    package = forms.CharField(
        label=pgettext_lazy("update", "What"),
        max_length=200,
        help_text=_("The package, plugin or component (e.g. openssl, akismet)."),
    )
    from_version = forms.CharField(label=_("From version"), max_length=200, required=False)
    to_version = forms.CharField(label=_("To version"), max_length=200, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=UpdateKind.choices)
    method = forms.ChoiceField(
        label=_("How"),
        choices=UpdateMethod.choices,
        help_text=_("Done by hand: recorded now. Otherwise Mamori runs it on the server over SSH."),
    )
    wp_path = forms.CharField(
        label=_("WordPress directory"),
        max_length=500,
        required=False,
        help_text=_("For wp-cli: the site's directory on the server, e.g. /var/www/html."),
    )
    performed_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=DATETIME,
        help_text=_("Done by hand: when it was done. Empty: now."),
    )
    site = forms.ModelChoiceField(label=_("Site"), queryset=None, required=False)
    advisories = forms.CharField(
        label=_("Advisories addressed"),
        max_length=2000,
        required=False,
        help_text=_("Ids separated by spaces or commas, e.g. CVE-2024-1234 DSA-5678-1."),
    )
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    notify_client = forms.BooleanField(
        label=_("Tell the client afterwards"),
        required=False,
        initial=True,
        help_text=_("004 §8.3 allows urgent repairs without notice before or after."),
    )

    def __init__(self, *args, sites=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        for field in self.fields.values():
            field.error_messages["required"] = REQUIRED
