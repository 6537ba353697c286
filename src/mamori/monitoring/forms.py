"""The check form (MON-01): common fields plus one fieldset per kind, mapped into ``settings``.

Per-kind fields are named ``<kind>_<setting>`` (``http_url``, ``tcp_port``...). Only the
selected kind's fieldset is read; its values become the check's ``settings`` and go through
:func:`mamori.monitoring.kinds.validate_settings`, whose problems land on the matching field.
The form works without JavaScript (every fieldset is shown; the others are ignored).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.clients.models import Client
from mamori.core.permissions import changeable
from mamori.core.widgets import ClientRecordSelect
from mamori.inventory.models import Server, Site
from mamori.monitoring.kinds import SETTINGS, CheckKind, validate_settings
from mamori.monitoring.models import Check

COMMON = [
    "client",
    "site",
    "server",
    "name",
    "kind",
    "interval_seconds",
    "timeout_seconds",
    "failures_to_confirm",
    "recoveries_to_confirm",
    "enabled",
]

RDTYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "CAA", "SOA", "SRV", "PTR")
METHODS = ("GET", "HEAD", "POST", "PUT", "OPTIONS")


def _lines(attrs=None):
    return forms.Textarea(attrs={"rows": 3, **(attrs or {})})


def kind_fields() -> dict[str, forms.Field]:
    """The per-kind fields, all optional at the form level (the kind decides)."""
    return {
        "http_url": forms.CharField(label=gettext_lazy("URL"), required=False, max_length=2000),
        "http_method": forms.ChoiceField(
            label=gettext_lazy("Method"),
            required=False,
            choices=[(m, m) for m in METHODS],
            initial="GET",
        ),
        "http_expect_status": forms.CharField(
            label=gettext_lazy("Expected status codes"),
            required=False,
            help_text=gettext_lazy("Separated by commas, e.g. 200, 301. Empty: any 2xx or 3xx."),
        ),
        "http_keyword": forms.CharField(
            label=gettext_lazy("Keyword"), required=False, max_length=500
        ),
        "http_keyword_absent": forms.BooleanField(
            label=gettext_lazy("The keyword must be absent"), required=False
        ),
        "http_max_response_ms": forms.IntegerField(
            label=gettext_lazy("Maximum response time (ms)"), required=False, min_value=1
        ),
        "http_follow_redirects": forms.BooleanField(
            label=gettext_lazy("Follow redirects"), required=False, initial=True
        ),
        "http_verify_tls": forms.BooleanField(
            label=gettext_lazy("Verify the TLS certificate"), required=False, initial=True
        ),
        "http_headers": forms.CharField(
            label=gettext_lazy("Request headers"),
            required=False,
            widget=_lines(),
            help_text=gettext_lazy("One per line: Name: value"),
        ),
        "tcp_host": forms.CharField(label=gettext_lazy("Host"), required=False, max_length=255),
        "tcp_port": forms.IntegerField(label=gettext_lazy("Port"), required=False),
        "dns_name": forms.CharField(label=gettext_lazy("Name"), required=False, max_length=255),
        "dns_rdtype": forms.ChoiceField(
            label=gettext_lazy("Record type"),
            required=False,
            choices=[(r, r) for r in RDTYPES],
            initial="A",
        ),
        "dns_expected": forms.CharField(
            label=gettext_lazy("Expected values"),
            required=False,
            widget=_lines(),
            help_text=gettext_lazy("One per line. Empty: any answer."),
        ),
        "dns_nameservers": forms.CharField(
            label=gettext_lazy("Resolvers"),
            required=False,
            help_text=gettext_lazy(
                "IP addresses separated by commas. Empty: the system's resolver."
            ),
        ),
        "icmp_host": forms.CharField(label=gettext_lazy("Host"), required=False, max_length=255),
        "rdap_domain": forms.CharField(
            label=gettext_lazy("Domain"), required=False, max_length=255
        ),
        "rdap_warn_days": forms.IntegerField(
            label=gettext_lazy("Warn days before expiry"), required=False
        ),
        "rdap_base_url": forms.CharField(
            label=gettext_lazy("RDAP server"),
            required=False,
            help_text=gettext_lazy("Only for registries the IANA list does not know."),
        ),
        "tls_host": forms.CharField(label=gettext_lazy("Host"), required=False, max_length=255),
        "tls_port": forms.IntegerField(label=gettext_lazy("Port"), required=False, initial=443),
        "tls_sni": forms.CharField(
            label=gettext_lazy("Server name (SNI)"),
            required=False,
            max_length=255,
            help_text=gettext_lazy("Empty: the host."),
        ),
    }


def _csv(value: str) -> list[str]:
    return [p.strip() for p in value.replace("\n", ",").split(",") if p.strip()]


class CheckForm(forms.ModelForm):
    class Meta:
        model = Check
        fields = COMMON
        labels = {"client": gettext_lazy("Client")}
        widgets = {"site": ClientRecordSelect, "server": ClientRecordSelect}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(kind_fields())
        clients = changeable(Client.objects.all(), user, Check.change_rule)
        self.fields["client"].queryset = clients
        self.fields["site"].queryset = Site.objects.filter(client__in=clients).select_related(
            "client"
        )
        self.fields["server"].queryset = Server.objects.filter(client__in=clients).select_related(
            "client"
        )
        self.fields["site"].label_from_instance = lambda o: f"{o} ({o.client.name})"
        self.fields["server"].label_from_instance = lambda o: f"{o} ({o.client.name})"
        self.fields["timeout_seconds"].help_text = _("Shorter than the interval.")
        self.fields["interval_seconds"].help_text = _("At least 30 seconds.")
        self.fields["enabled"].label = _("Run this check (untick to pause it)")
        if self.instance.pk and not self.is_bound:
            self._initial_from_settings(self.instance.kind, self.instance.settings or {})

    def _initial_from_settings(self, kind: str, settings: dict[str, Any]) -> None:
        for name, value in settings.items():
            field = f"{kind}_{name}"
            if field not in self.fields:
                continue
            if name == "expect_status":
                value = ", ".join(str(v) for v in value)
            elif name == "headers":
                value = "\n".join(f"{k}: {v}" for k, v in value.items())
            elif name == "expected":
                value = "\n".join(value)
            elif name == "nameservers":
                value = ", ".join(value)
            self.initial[field] = value

    def kind_fieldsets(self) -> list[tuple[str, str, list]]:
        """(kind, label, bound fields) per kind, for the template."""
        return [
            (kind, label, [self[f"{kind}_{name}"] for name in SETTINGS[kind]])
            for kind, label in CheckKind.choices
        ]

    def common_fields(self) -> list:
        return [self[name] for name in COMMON]

    def _settings_for(self, kind: str) -> dict[str, Any] | None:
        """The settings of the selected kind, or None after adding errors to its fields."""
        data = self.cleaned_data
        settings: dict[str, Any] = {}
        failed = False
        for name, (required, _rule) in SETTINGS[kind].items():
            field = f"{kind}_{name}"
            value = data.get(field)
            if field in self.errors:
                failed = True
                continue
            if isinstance(self.fields[field], forms.BooleanField):
                settings[name] = bool(value)
                continue
            if value in (None, ""):
                if required:
                    self.add_error(field, _("This field is required."))
                    failed = True
                continue
            if name == "expect_status":
                try:
                    value = [int(v) for v in _csv(value)]
                except ValueError:
                    self.add_error(field, _("Give status codes as numbers, e.g. 200, 301."))
                    failed = True
                    continue
            elif name == "headers":
                headers = {}
                for line in value.splitlines():
                    if not line.strip():
                        continue
                    key, sep, val = line.partition(":")
                    if not sep or not key.strip():
                        self.add_error(field, _("Write one header per line as Name: value."))
                        failed = True
                        break
                    headers[key.strip()] = val.strip()
                value = headers
            elif name == "expected":
                value = [v.strip() for v in value.splitlines() if v.strip()]
            elif name == "nameservers":
                value = _csv(value)
            elif isinstance(value, str):
                value = value.strip()
            settings[name] = value
        # A default the probe assumes anyway is left out of the stored settings.
        if kind == CheckKind.HTTP and settings.get("keyword_absent") is False:
            del settings["keyword_absent"]
        if failed:
            return None
        for problem in validate_settings(kind, settings):
            name, _sep, message = problem.partition(": ")
            field = f"{kind}_{name}"
            if field in self.fields:
                self.add_error(field, message)
            else:
                self.add_error(None, problem)
            failed = True
        return None if failed else settings

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        self._settings_failed = True
        if kind in SETTINGS:
            settings = self._settings_for(kind)
            if settings is not None:
                self._settings_failed = False
                self.instance.settings = settings
                self.instance.kind = kind
        return data

    def _update_errors(self, errors):
        # The model checks the settings again; their problems are already on the kind's fields.
        if getattr(self, "_settings_failed", False) and hasattr(errors, "error_dict"):
            errors.error_dict.pop("settings", None)
            if not errors.error_dict:
                return
        super()._update_errors(errors)
