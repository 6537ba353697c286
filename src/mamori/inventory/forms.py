"""Forms of the inventory pages: an endpoint, the endpoint list filter and the import upload."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from mamori.certificates.problems import problem_choices
from mamori.clients.models import Client, Contract
from mamori.core import outbound
from mamori.core.filters import ALL, with_all
from mamori.core.models import User
from mamori.inventory.models import Endpoint, EndpointState, Server, Site
from mamori.inventory.services import ENDPOINT_FIELDS, normalised
from mamori.inventory.transfer import MAX_FILE_BYTES


class EndpointForm(forms.ModelForm):
    """Add or change an endpoint. The client is one the user may see; the site, server and
    contract are limited to that client's."""

    class Meta:
        model = Endpoint
        fields = ["client", *ENDPOINT_FIELDS]
        labels = {"client": _("Client"), "enabled": _("Check this endpoint")}
        widgets = {
            "trust_bundle": forms.Textarea(attrs={"rows": 4, "class": "mono"}),
            "host": forms.TextInput(attrs={"placeholder": "www.example.co.jp", "autofocus": True}),
        }

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not outbound.may_allow_private_address(user):
            # Shown, but read-only: a value posted anyway is ignored for the saved one.
            self.fields["allow_private_address"].disabled = True
        clients = Client.objects.visible_to(user)
        self.fields["client"].queryset = clients
        if self.instance.pk:
            # An endpoint stays with its client (the inventory file keys it within the client):
            # shown, not changed.
            self.fields["client"].disabled = True
        if not self.is_bound and not self.instance.pk and "client" not in self.initial:
            only = list(clients[:2])
            if len(only) == 1:
                self.initial["client"] = only[0].pk
        client_id = self.selected_client_id()
        for name, model in (("site", Site), ("server", Server), ("contract", Contract)):
            qs = model.objects.visible_to(user)
            self.fields[name].queryset = qs.filter(client_id=client_id) if client_id else qs.none()
            if not client_id:
                self.fields[name].empty_label = _("Choose the client first")

    # A URL pasted as the host: the host (and a port written in it) are taken out of it, and
    # the page says so (``taken_from_url``).
    taken_from_url: str = ""
    url_port: int | None = None

    def clean_host(self) -> str:
        """The host read as the inventory import reads it (the same function, the same
        messages); a URL gives its host."""
        raw = self.cleaned_data.get("host") or ""
        text = raw.strip()
        if "://" in text:
            parts = urlsplit(text)
            try:
                port = parts.port
            except ValueError:
                port = None
            if parts.scheme.lower() in ("http", "https") and parts.hostname:
                self.taken_from_url = text
                self.url_port = port
                text = parts.hostname
        try:
            return normalised("endpoints", {"host": text})["host"]
        except ValidationError as e:
            raise forms.ValidationError(e.message_dict["host"]) from None

    def clean_sni(self) -> str:
        try:
            return normalised("endpoints", {"sni": self.cleaned_data.get("sni") or ""})["sni"]
        except ValidationError as e:
            raise forms.ValidationError(e.message_dict["sni"]) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.url_port and "port" not in self.errors and cleaned.get("port") in (None, 443):
            cleaned["port"] = self.url_port
        return cleaned

    def selected_client_id(self) -> int | None:
        """The client chosen in the submitted data, else the initial or saved one."""
        raw = (
            self.data.get(self.add_prefix("client"))
            if self.is_bound and not self.fields["client"].disabled
            else self.initial.get("client", self.instance.client_id)
        )
        if self.instance.pk:
            raw = self.instance.client_id
        if isinstance(raw, Client):
            return raw.pk
        try:
            client_id = int(raw)
        except (TypeError, ValueError):
            return None
        return client_id if self.fields["client"].queryset.filter(pk=client_id).exists() else None


class EndpointFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    client = forms.ModelChoiceField(
        label=_("Client"), queryset=Client.objects.none(), to_field_name="code", required=False
    )
    state = forms.ChoiceField(label=_("State"), required=False)
    problem = forms.ChoiceField(label=_("Problem"), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = Client.objects.visible_to(user)
        self.fields["client"].empty_label = ALL
        self.fields["state"].choices = with_all(EndpointState.choices)
        self.fields["problem"].choices = problem_choices()


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Inventory file"),
        help_text=_("YAML (.yaml, .yml) or CSV (.csv), as written by “mamori export”."),
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,.csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("The file is too large (at most %(mb)d MB)."),
                params={"mb": MAX_FILE_BYTES // (1024 * 1024)},
            )
        return upload
