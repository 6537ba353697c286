"""Forms of a client's records (the client itself, contacts, contracts, servers, sites, domains).

The forms only turn what the browser sends into values; what a valid record is stays where the
inventory import and the API learn it (:func:`mamori.inventory.services.normalised` and the
model), so these forms add no rules of their own. Text fields are plain text fields: an e-mail
address or URL is judged by the import's reading of it, with the import's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from mamori.clients import services as client_services
from mamori.clients.models import Client, Contact, Contract, NoticeTopic, default_notice_days
from mamori.inventory import services as inventory_services
from mamori.inventory.models import Domain, Server, Site
from mamori.inventory.services import Refused
from mamori.inventory.transfer.schema import SECTIONS, FieldProblem, convert

REQUIRED = _("A value is required.")


class RecordForm(forms.Form):
    """A form of one kind of record; ``client`` limits the records it may refer to."""

    model: type[models.Model]
    field_names: tuple[str, ...] = ()

    def __init__(
        self,
        *args: Any,
        client: Client | None = None,
        instance: models.Model | None = None,
        **kwargs: Any,
    ) -> None:
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_of(instance, self.field_names)
        super().__init__(*args, **kwargs)
        self.client = client
        self.instance = instance
        for field in self.fields.values():
            field.error_messages["required"] = REQUIRED
        if "server" in self.fields:
            self.fields["server"].queryset = Server.objects.filter(client=client)

    def clean_expiry_notice_days(self) -> list[int]:
        """Days written as the import's CSV writes a list: ``60, 30, 14``."""
        spec = SECTIONS["contracts"].spec("expiry_notice_days")
        try:
            return convert(spec, self.cleaned_data["expiry_notice_days"], from_text=True)
        except FieldProblem as e:
            raise ValidationError(str(e)) from None

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.field_names}

    def refused(self, error: ValidationError | Refused) -> None:
        show_refusal(self, self.model, error)


def show_refusal(
    form: forms.BaseForm, model: type[models.Model], error: ValidationError | Refused
) -> None:
    """Show on ``form`` why a write service refused its values, at the fields it names (a
    field the form does not have is named in the message)."""
    if isinstance(error, Refused):
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, items in error.error_dict.items():
        target = name if name in form.fields else None
        if name == NON_FIELD_ERRORS:
            for item in items:
                field, message = _duplicate(form, model, item)
                form.add_error(field, message)
            continue
        if target is None:
            label = model._meta.get_field(name).verbose_name
            items = [ValidationError(f"{label}: {' '.join(e.messages)}") for e in items]
        form.add_error(target, items)


def _duplicate(
    form: forms.BaseForm, model: type[models.Model], item: ValidationError
) -> tuple[str | None, ValidationError | str]:
    """A record that would repeat another's key, said at the field of the key: "the client
    already has a contact with this e-mail" rather than the database's constraint."""
    check = (item.params or {}).get("unique_check") or ()
    if item.code not in ("unique", "unique_together") or not check:
        return None, item
    fields = [f for f in check if f != "client"]
    labels = " / ".join(str(model._meta.get_field(f).verbose_name) for f in fields)
    text = (
        _("The client already has a %(record)s with this %(fields)s.")
        if "client" in check
        else _("A %(record)s with this %(fields)s already exists.")
    )
    message = text % {
        "record": model._meta.verbose_name,
        "fields": labels,
    }
    target = next((f for f in fields if f in form.fields), None)
    return target, message


def initial_of(instance: models.Model, names: tuple[str, ...]) -> dict[str, Any]:
    initial = {}
    for name in names:
        value = getattr(instance, name)
        if name == "expiry_notice_days":
            value = ", ".join(str(d) for d in value)
        elif isinstance(value, models.Model):
            value = value.pk
        initial[name] = value
    return initial


def _formfield(model_field: models.Field, **kwargs: Any) -> forms.Field | None:
    if isinstance(model_field, models.URLField):
        kwargs["assume_scheme"] = "https"  # replaced below by a text field
    return model_field.formfield(**kwargs)


def form_class(model: type[models.Model], names: tuple[str, ...]) -> type[RecordForm]:
    """A :class:`RecordForm` for ``names`` of ``model``, with the model's labels and choices."""
    fields: dict[str, Any] = dict(
        forms.fields_for_model(model, fields=names, formfield_callback=_formfield)
    )
    for name in names:
        model_field = model._meta.get_field(name)
        field = fields.get(name)
        label = capfirst(model_field.verbose_name)  # lazy: in the reader's language
        if name == "notify":
            fields[name] = forms.MultipleChoiceField(
                label=label,
                choices=NoticeTopic.choices,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                help_text=model_field.help_text,
            )
        elif name == "expiry_notice_days":
            fields[name] = forms.CharField(
                label=label,
                initial=lambda: ", ".join(str(d) for d in default_notice_days()),
                help_text=_("Days before expiry, separated by commas, e.g. 60, 30, 14, 7, 1."),
            )
        elif isinstance(model_field, models.EmailField | models.URLField) or isinstance(
            field, forms.CharField
        ):
            widget = field.widget if isinstance(field.widget, forms.Textarea) else forms.TextInput
            if isinstance(widget, forms.Textarea):
                widget.attrs["rows"] = 3
            fields[name] = forms.CharField(
                label=label,
                required=not model_field.blank,
                widget=widget,
                help_text=model_field.help_text,
                strip=False,
            )
        elif isinstance(model_field, models.DateField):
            fields[name] = forms.DateField(
                label=label,
                required=not model_field.blank,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            )
    return type(
        f"{model.__name__}Form",
        (RecordForm,),
        {**fields, "model": model, "field_names": names},
    )


@dataclass(frozen=True)
class RecordKind:
    """A kind of a client's record: its form and its write services."""

    name: str  # as the inventory file calls the list: "sites"
    model: type[models.Model]
    form: type[RecordForm]
    create: Any
    change: Any
    delete: Any
    anchor: str  # the card of the client's page that lists them

    def label(self, obj: models.Model) -> str:
        if isinstance(obj, Contact):
            return obj.name or obj.email
        return str(obj)


KINDS: dict[str, RecordKind] = {
    kind.name: kind
    for kind in (
        RecordKind(
            "contacts",
            Contact,
            form_class(Contact, client_services.CONTACT_FIELDS),
            client_services.create_contact,
            client_services.change_contact,
            client_services.delete_contact,
            "contacts",
        ),
        RecordKind(
            "contracts",
            Contract,
            form_class(Contract, client_services.CONTRACT_FIELDS),
            client_services.create_contract,
            client_services.change_contract,
            client_services.delete_contract,
            "contracts",
        ),
        RecordKind(
            "servers",
            Server,
            form_class(Server, inventory_services.SERVER_FIELDS),
            inventory_services.create_server,
            inventory_services.change_server,
            inventory_services.delete_server,
            "servers",
        ),
        RecordKind(
            "sites",
            Site,
            form_class(Site, inventory_services.SITE_FIELDS),
            inventory_services.create_site,
            inventory_services.change_site,
            inventory_services.delete_site,
            "sites",
        ),
        RecordKind(
            "domains",
            Domain,
            form_class(Domain, inventory_services.DOMAIN_FIELDS),
            inventory_services.create_domain,
            inventory_services.change_domain,
            inventory_services.delete_domain,
            "domains",
        ),
    )
}

ClientForm = form_class(Client, client_services.CLIENT_FIELDS)
