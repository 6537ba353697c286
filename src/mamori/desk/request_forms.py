"""Forms of the request pages: a new request, a message on one, the operators' actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.clients.models import Client, Contact, Contract
from mamori.core.filters import ALL
from mamori.core.models import User
from mamori.core.permissions import Rule, may_change
from mamori.desk.models import Channel, RequestState
from mamori.desk.services import MAX_ATTACHMENT

#: Files one form may carry.
MAX_FILES = 10


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FilesField(forms.FileField):
    """Several files at once (optional), each at most :data:`MAX_ATTACHMENT` bytes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > MAX_FILES:
            raise forms.ValidationError(_("At most %(n)d files at once.") % {"n": MAX_FILES})
        cleaned = [super(FilesField, self).clean(f, initial) for f in files]
        for upload in cleaned:
            if upload.size > MAX_ATTACHMENT:
                raise forms.ValidationError(
                    _("%(name)s is larger than %(mb)d MB.")
                    % {"name": upload.name, "mb": MAX_ATTACHMENT // 2**20}
                )
        return cleaned


class RequestForm(forms.Form):
    """A new request: in the portal (the client's administrator) or entered by an operator
    (a phone call: the caller's name, or a contact of the client)."""

    subject = forms.CharField(label=pgettext_lazy("request", "Subject"), max_length=300)
    body = forms.CharField(
        label=_("What should be done?"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20000,
        help_text=_("The page, the text or image to change, and by when if it matters."),
    )
    contract = forms.ModelChoiceField(
        label=_("Contract"), queryset=Contract.objects.none(), required=False
    )
    channel = forms.ChoiceField(
        label=_("Received by"),
        choices=[(Channel.PHONE, Channel.PHONE.label), (Channel.EMAIL, Channel.EMAIL.label)],
        initial=Channel.PHONE,
    )
    contact = forms.ModelChoiceField(
        label=_("Contact"), queryset=Contact.objects.none(), required=False
    )
    requester = forms.CharField(
        label=_("Caller's name"),
        max_length=300,
        required=False,
        help_text=_("When the caller is not one of the client's contacts."),
    )
    confidential = forms.BooleanField(
        label=_("Confidential"),
        required=False,
        help_text=_("Attachments are kept encrypted; only the staff assigned to you read them."),
    )
    files = FilesField(label=_("Attachments"))

    def __init__(self, *args: Any, client: Client, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client
        contracts = Contract.objects.filter(client=client).order_by("-start", "type")
        if contracts.count() > 1:
            self.fields["contract"].queryset = contracts
            self.fields["contract"].empty_label = _("Not sure")
        else:
            del self.fields["contract"]
        if staff:
            self.fields["contact"].queryset = Contact.objects.filter(client=client)
            self.fields["contact"].empty_label = "—"
            self.fields["body"].label = _("What the client asks for")
            self.fields["body"].help_text = ""
            self.fields["confidential"].help_text = _("Attachments are kept in the vault.")
        else:
            for name in ("channel", "contact", "requester"):
                del self.fields[name]

    def clean(self):
        data = super().clean()
        if "requester" in self.fields and not data.get("contact") and not data.get("requester"):
            self.add_error("requester", _("Choose the contact, or write the caller's name."))
        return data


class MessageForm(forms.Form):
    """A message on a request: the client's, or the provider's reply, question or note."""

    KINDS = [
        ("reply", _("Reply to the client")),
        ("question", _("Question to the client")),
        ("note", _("Internal note")),
    ]
    kind = forms.ChoiceField(label=_("Kind"), choices=KINDS, initial="reply")
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), max_length=20000
    )
    files = FilesField(label=_("Attachments"))

    def __init__(self, *args: Any, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not staff:
            del self.fields["kind"]
            self.fields["body"].label = _("Your message")


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assigned to"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args: Any, req, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_for(req)
        self.fields["assignee"].empty_label = _("Nobody")


def staff_for(req) -> Any:
    """Provider staff who may work on ``req`` (:func:`may_change` under the STAFF rule)."""
    from mamori.core.models import Role

    users = User.objects.filter(
        is_active=True, role__in=[Role.PROVIDER_ADMIN, Role.OPERATOR, Role.SUBCONTRACTOR]
    )
    ids = [u.pk for u in users if may_change(u, req, Rule.STAFF)]
    return User.objects.filter(pk__in=ids).order_by("username")


class PurposeForm(forms.Form):
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=500,
        help_text=_("Why you open this confidential file (recorded in the audit trail)."),
    )


#: The queue's state filter: the active requests (default), one state, or all of them.
ACTIVE = "active"
EVERY = "all"


class QueueFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        label=_("Client"), queryset=Client.objects.none(), to_field_name="code", required=False
    )
    state = forms.ChoiceField(label=_("State"), required=False)

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.visible_to(user)
        self.fields["client"].empty_label = ALL
        self.fields["state"].choices = [
            (ACTIVE, _("Open (not resolved)")),
            *RequestState.choices,
            (EVERY, ALL),
        ]
