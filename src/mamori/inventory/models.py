"""What the provider looks after for a client: servers, sites, domains and TLS endpoints."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.core import outbound
from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet
from mamori.probe.netguard import AddressPolicy


class ServerKind(models.TextChoices):
    CLOUD = "cloud", _("Cloud")
    DEDICATED = "dedicated", _("Dedicated")
    VPS = "vps", _("VPS")
    SHARED = "shared", _("Shared hosting")


class Server(models.Model):
    """A managed server (CT-08)."""

    change_rule = Rule.EDITOR

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="servers")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=ServerKind.choices)
    provider = models.CharField(_("provider"), max_length=200, blank=True)
    os = models.CharField(_("OS"), max_length=200, blank=True)
    middleware = models.CharField(_("middleware"), max_length=500, blank=True)
    network = models.TextField(_("network"), blank=True, help_text=_("Addresses, VLANs, ..."))
    notes = models.TextField(_("notes"), blank=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("server")
        verbose_name_plural = _("servers")
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="unique_server_name")
        ]

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """A managed website (CT-07)."""

    change_rule = Rule.EDITOR

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("URL"), max_length=500)
    server = models.ForeignKey(
        Server,
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sites",
    )
    cms = models.CharField(_("CMS"), max_length=200, blank=True)
    related_systems = models.TextField(_("related systems"), blank=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        constraints = [models.UniqueConstraint(fields=["client", "url"], name="unique_site_url")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.server_id and self.client_id and self.server.client_id != self.client_id:
            raise ValidationError({"server": _("The server belongs to another client.")})


class Domain(models.Model):
    change_rule = Rule.EDITOR
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="domains")
    name = models.CharField(_("domain"), max_length=253)
    registrar = models.CharField(_("registrar"), max_length=200, blank=True)
    expires_on = models.DateField(_("registration expires"), null=True, blank=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("domain")
        verbose_name_plural = _("domains")
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="unique_domain_name")
        ]

    def __str__(self) -> str:
        return self.name


class EndpointState(models.TextChoices):
    UNKNOWN = "unknown", _("Not checked yet")
    OK = "ok", _("OK")
    PROBLEM = "problem", _("Problem")


class EndpointQuerySet(ClientScopedQuerySet):
    def due(self, now=None) -> EndpointQuerySet:
        return self.filter(enabled=True, next_check_at__lte=now or timezone.now())


class Endpoint(models.Model):
    """A TLS service to check: host, port and the server name (SNI) to ask for."""

    change_rule = Rule.EDITOR

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="endpoints")
    site = models.ForeignKey(
        Site,
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="endpoints",
    )
    server = models.ForeignKey(
        Server,
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="endpoints",
    )
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="endpoints",
        help_text=_(
            "Whose notice schedule applies; default: the client's SSL management contract."
        ),
    )
    host = models.CharField(_("host"), max_length=253)
    port = models.PositiveIntegerField(
        _("port"), default=443, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    sni = models.CharField(
        _("server name (SNI)"),
        max_length=253,
        blank=True,
        help_text=_(
            "Name sent in the handshake and checked against the certificate; default: the host."
        ),
    )
    trust_bundle = models.TextField(
        _("extra trust anchors (PEM)"),
        blank=True,
        help_text=_("For certificates from a private CA that only this endpoint uses."),
    )
    check_interval = models.PositiveIntegerField(
        _("check interval (seconds)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(60)],
        help_text=_("Empty: the default (every 6 hours)."),
    )
    enabled = models.BooleanField(_("checked"), default=True)
    allow_private_address = models.BooleanField(
        _("allow a private address"),
        default=False,
        help_text=_(
            "Check this endpoint even if its host is, or resolves to, a loopback, private or "
            "link-local address. Only the provider's administrators and operators may change it."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # Watch state, written only by the checker.
    next_check_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=EndpointState.choices, default=EndpointState.UNKNOWN
    )
    problems = models.JSONField(_("problems"), default=list, blank=True)
    last_result = models.JSONField(default=dict, blank=True)
    current_certificate = models.ForeignKey(
        "certificates.Certificate",
        verbose_name=_("certificate"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="current_endpoints",
    )
    # A connection failure is confirmed by a second check before it counts (no false alarms
    # from one lost packet): the unconfirmed problem set waits here.
    pending_problems = models.JSONField(default=None, null=True, blank=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["client", "host", "port"]
        verbose_name = _("endpoint")
        verbose_name_plural = _("endpoints")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "host", "port", "sni"], name="unique_endpoint"
            )
        ]

    def __str__(self) -> str:
        return self.label

    def get_absolute_url(self) -> str:
        return reverse("endpoint_detail", args=[self.pk])

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = host if self.port == 443 else f"{host}:{self.port}"
        if self.sni and self.sni != self.host:
            text += f" ({self.sni})"
        return text

    @property
    def server_name(self) -> str | None:
        """The SNI to send: explicit, else the host unless it is an IP literal."""
        if self.sni:
            return self.sni
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return self.host
        return None

    def interval(self) -> timedelta:
        return timedelta(seconds=self.check_interval or settings.MAMORI_CHECK_INTERVAL)

    def clean(self) -> None:
        self.host = self.host.strip().lower().strip("[]")
        self.sni = self.sni.strip().lower()
        for field in ("site", "server", "contract"):
            related = getattr(self, field)
            if related is not None and self.client_id and related.client_id != self.client_id:
                raise ValidationError({field: _("It belongs to another client.")})
        if self.trust_bundle.strip() and "-----BEGIN CERTIFICATE-----" not in self.trust_bundle:
            raise ValidationError({"trust_bundle": _("Paste one or more PEM certificates.")})
        self.clean_address()

    def clean_address(self) -> None:
        """Refuse a host that is certainly not public (an IP literal or localhost), unless
        allowed. A name is judged when the check connects (the problem address_refused)."""
        kind = outbound.policy(self.allow_private_address).refuses_literal(self.host)
        if kind is not None:
            raise ValidationError(
                {
                    "host": _(
                        "%(host)s is a %(kind)s address. Mamori checks only public addresses, "
                        "unless the provider's administrators or operators allow a private "
                        "address for this endpoint."
                    )
                    % {"host": self.host, "kind": outbound.kind_label(kind)}
                }
            )

    def address_policy(self) -> AddressPolicy:
        """Which addresses the check may connect to."""
        return outbound.policy(self.allow_private_address)
