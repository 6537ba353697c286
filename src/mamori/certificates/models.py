"""The certificate inventory (CERT-01) and what happened to each certificate.

One row per certificate, keyed by its SHA-256 fingerprint, however many endpoints serve it.
``CertificateSighting`` records which endpoint served it from when to when; ``CertificateEvent``
records state changes (first seen, replaced, problems, recovery) that notices are made from.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.core.scoping import ClientScopedQuerySet


class CertificateQuerySet(ClientScopedQuerySet):
    client_lookup = "sightings__endpoint__client"
    client_lookup_is_multi = True


class Certificate(models.Model):
    fingerprint_sha256 = models.CharField(_("SHA-256 fingerprint"), max_length=64, unique=True)
    subject = models.CharField(_("subject"), max_length=1000)
    subject_cn = models.CharField(_("common name"), max_length=255, blank=True)
    sans = models.JSONField(_("subject alternative names"), default=list)
    issuer = models.CharField(_("issuer"), max_length=1000)
    issuer_cn = models.CharField(_("issuer name"), max_length=255, blank=True)
    serial = models.CharField(_("serial number"), max_length=64)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"), db_index=True)
    key_type = models.CharField(_("key type"), max_length=20)
    key_bits = models.PositiveIntegerField(_("key size (bits)"), null=True)
    signature_algorithm = models.CharField(_("signature algorithm"), max_length=60)
    self_signed = models.BooleanField(_("self-signed"), default=False)
    ocsp_urls = models.JSONField(default=list, blank=True)
    crl_urls = models.JSONField(default=list, blank=True)
    pem = models.TextField(_("certificate (PEM)"))
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["not_after"]
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")

    def __str__(self) -> str:
        return f"{self.subject_cn or self.subject} ({self.not_after:%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        return reverse("certificate_detail", args=[self.fingerprint_sha256])

    @property
    def lifetime_days(self) -> float:
        return (self.not_after - self.not_before).total_seconds() / 86400

    def days_left(self, now: datetime | None = None) -> float:
        return (self.not_after - (now or timezone.now())).total_seconds() / 86400

    @property
    def fingerprint_display(self) -> str:
        fp = self.fingerprint_sha256.upper()
        return ":".join(fp[i : i + 2] for i in range(0, len(fp), 2))


class SightingQuerySet(ClientScopedQuerySet):
    client_lookup = "endpoint__client"


class CertificateSighting(models.Model):
    """An endpoint served this certificate from ``first_seen_at`` until ``ended_at``."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="sightings")
    endpoint = models.ForeignKey(
        "inventory.Endpoint", on_delete=models.CASCADE, related_name="sightings"
    )
    chain_pem = models.TextField(_("chain as served"), blank=True)
    first_seen_at = models.DateTimeField(_("served since"))
    last_seen_at = models.DateTimeField(_("last seen"))
    ended_at = models.DateTimeField(_("replaced at"), null=True, blank=True)

    objects = SightingQuerySet.as_manager()

    class Meta:
        ordering = ["-first_seen_at"]
        verbose_name = _("served certificate")
        verbose_name_plural = _("served certificates")
        constraints = [
            # At most one open sighting per endpoint: what it serves now.
            models.UniqueConstraint(
                fields=["endpoint"],
                condition=models.Q(ended_at__isnull=True),
                name="one_current_sighting_per_endpoint",
            )
        ]

    def __str__(self) -> str:
        return f"{self.certificate} @ {self.endpoint}"


class EventKind(models.TextChoices):
    FIRST_SEEN = "first_seen", _("Certificate first seen")
    REPLACED = "replaced", _("Certificate replaced")
    PROBLEM = "problem", _("Problem detected")
    RECOVERED = "recovered", _("Problem resolved")
    EXPIRING = "expiring", _("Expiry notice threshold reached")


class EventQuerySet(ClientScopedQuerySet):
    client_lookup = "endpoint__client"


class CertificateEvent(models.Model):
    """A change of state seen by the checker; notices are made from these."""

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    kind = models.CharField(_("event"), max_length=20, choices=EventKind.choices)
    endpoint = models.ForeignKey(
        "inventory.Endpoint", on_delete=models.CASCADE, related_name="events"
    )
    certificate = models.ForeignKey(
        Certificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    previous_certificate = models.ForeignKey(
        Certificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unmanaged = models.BooleanField(
        _("not deployed by Mamori"),
        default=False,
        help_text=_("Someone else changed what the endpoint serves (CERT-14)."),
    )
    problems = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)
    threshold_days = models.PositiveIntegerField(null=True, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("certificate event")
        verbose_name_plural = _("certificate events")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.endpoint}"


class ExpectedQuerySet(ClientScopedQuerySet):
    client_lookup = "endpoint__client"


class ExpectedCertificate(models.Model):
    """A certificate Mamori itself is installing, or installed, on a server behind ``endpoint``
    (CERT-14). The certificate lifecycle writes the mark when a deployment starts and takes it
    away when the deployment fails; the watch reads it, so that Mamori's own change is recorded
    but not flagged as an unmanaged replacement."""

    endpoint = models.ForeignKey(
        "inventory.Endpoint", on_delete=models.CASCADE, related_name="expected_certificates"
    )
    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField(_("expected since"))

    objects = ExpectedQuerySet.as_manager()

    class Meta:
        verbose_name = _("certificate deployed by Mamori")
        verbose_name_plural = _("certificates deployed by Mamori")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "certificate"], name="one_mark_per_endpoint_and_certificate"
            )
        ]

    def __str__(self) -> str:
        return f"{self.certificate} expected @ {self.endpoint}"
