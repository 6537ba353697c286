"""Provider-wide announcements (NOT-04): terms changes, the end of a service, maintenance of
shared infrastructure, told to every affected client through the outbox.

An announcement is written by the operator in Japanese and English (the operator's own text,
stored per language as written). Its recipients are chosen by contract type (the service), terms
profile (the kind of contract) and server; :mod:`mamori.announcements.services` finds the
contracts in force that match, refuses a date that is too early for their notice periods
(:class:`NoticePeriod`, shipped with the seed contracts' values) and records each recipient
client once (:class:`Recipient`) before the notices are queued.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mamori.clients.models import Client, TermsProfile
from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet, visible_client_ids


class AnnouncementKind(models.TextChoices):
    TERMS_CHANGE = "terms_change", _("Change of terms")
    SERVICE_END = "service_end", _("End of a service")
    MAINTENANCE = "maintenance", _("Maintenance of shared infrastructure")


class AnnouncementState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")


class NoticePeriod(models.Model):
    """How long before the date an announcement of ``kind`` must reach a client whose contract
    has ``terms_profile``: ``days`` plus ``months`` (calendar months). Shipped with the seed
    contracts' periods (004 §2: 14 days, 004 §24: 2 months, 003 §23: 3 months); editable."""

    change_rule = Rule.STAFF
    terms_profile = models.ForeignKey(
        TermsProfile,
        on_delete=models.CASCADE,
        related_name="announcement_periods",
        verbose_name=_("terms profile"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=AnnouncementKind.choices)
    days = models.PositiveSmallIntegerField(_("days"), default=0)
    months = models.PositiveSmallIntegerField(_("months"), default=0)
    source = models.CharField(_("source"), max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["terms_profile__code", "kind"]
        verbose_name = _("announcement notice period")
        verbose_name_plural = _("announcement notice periods")
        constraints = [
            models.UniqueConstraint(
                fields=["terms_profile", "kind"], name="unique_announcement_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.terms_profile.code} {self.kind}: {self.months}m {self.days}d"


class AnnouncementQuerySet(ClientScopedQuerySet):
    client_lookup = "recipients__client"
    client_lookup_is_multi = True

    def visible_to(self, user):  # type: ignore[override]
        """Provider administrators and operators see every announcement; everyone else only
        those told to a client they see, once told."""
        ids = visible_client_ids(user)
        if ids is None:
            return self.all()
        return self.filter(
            recipients__client__in=ids, recipients__notified_at__isnull=False
        ).distinct()


class Announcement(models.Model):
    change_rule = Rule.STAFF
    kind = models.CharField(_("kind"), max_length=20, choices=AnnouncementKind.choices)
    effective_on = models.DateField(
        _("date"),
        help_text=_(
            "The day the new terms take effect, the service ends or the maintenance takes place."
        ),
    )
    subject_ja = models.CharField(_("subject (Japanese)"), max_length=200)
    subject_en = models.CharField(_("subject (English)"), max_length=200)
    body_ja = models.TextField(_("text (Japanese)"), max_length=20000)
    body_en = models.TextField(_("text (English)"), max_length=20000)
    contract_types = models.JSONField(
        _("contract types"),
        default=list,
        blank=True,
        help_text=_("The services concerned; none: every type."),
    )
    terms_profiles = models.ManyToManyField(
        TermsProfile,
        blank=True,
        related_name="announcements",
        verbose_name=_("terms profiles"),
        help_text=_("The kinds of contract concerned; none: every kind."),
    )
    servers = models.ManyToManyField(
        "inventory.Server",
        blank=True,
        related_name="announcements",
        verbose_name=_("servers"),
        help_text=_("Only the clients of these servers; none: every client."),
    )
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=AnnouncementState.choices,
        default=AnnouncementState.DRAFT,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    objects = AnnouncementQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")

    def __str__(self) -> str:
        return self.subject()

    def get_absolute_url(self) -> str:
        return reverse("announcement_detail", args=[self.pk])

    def subject(self, language: str | None = None) -> str:
        """The subject in ``language`` (default: the active language)."""
        from django.utils.translation import get_language

        lang = (language or get_language() or "ja")[:2]
        return self.subject_ja if lang == "ja" else self.subject_en

    def body(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        lang = (language or get_language() or "ja")[:2]
        return self.body_ja if lang == "ja" else self.body_en

    @property
    def is_draft(self) -> bool:
        return self.state == AnnouncementState.DRAFT


class Recipient(models.Model):
    """One affected client of an announcement, recorded once (unique) before its notices are
    queued; ``notified_at`` is set in the transaction that queued them."""

    announcement = models.ForeignKey(
        Announcement, on_delete=models.CASCADE, related_name="recipients"
    )
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="announcements_received"
    )
    contracts = models.JSONField(_("contracts"), default=list)
    notices = models.PositiveIntegerField(_("notices"), default=0)
    notified_at = models.DateTimeField(_("notified"), null=True, blank=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["client__code"]
        verbose_name = _("announcement recipient")
        verbose_name_plural = _("announcement recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["announcement", "client"], name="unique_announcement_client"
            )
        ]

    def __str__(self) -> str:
        return f"{self.announcement_id} → {self.client.code}"
