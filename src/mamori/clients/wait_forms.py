"""The forms of waiting on the client (CT-09), one for every kind of work that waits: an
incident's page and a desk request's both start and end a wait with these."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy


def moment_field(label, *, required=False, help_text=None) -> forms.DateTimeField:
    """A date and time typed in the browser's own picker."""
    return forms.DateTimeField(
        label=label,
        required=required,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=help_text,
    )


class WaitForm(forms.Form):
    awaited = forms.CharField(
        label=gettext_lazy("What is awaited from the client"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    since = moment_field(gettext_lazy("Waiting since"), help_text=gettext_lazy("Empty: now."))


class WaitEndForm(forms.Form):
    until = moment_field(gettext_lazy("Answered at"), help_text=gettext_lazy("Empty: now."))
