"""The monthly report of a client (RPT-01): one row per client, month and version.

The figures are a JSON snapshot of codes and numbers (never sentences), taken by
:func:`mamori.reports.build.build` from the same functions the pages and the API use; the
words are put around them when the report is shown or printed, in the reader's language. A
released version never changes: a correction is a new version, the old one kept.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet


class ReportState(models.TextChoices):
    DRAFT = "draft", _("Draft, for review")
    RELEASED = "released", _("Released")
    SENT = "sent", _("Released and sent")


class ReportQuerySet(ClientScopedQuerySet):
    def released(self):
        return self.exclude(state=ReportState.DRAFT)


class Report(models.Model):
    change_rule = Rule.STAFF

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="monthly_reports"
    )
    month = models.DateField(_("month"))  # the first day of the month
    version = models.PositiveIntegerField(_("version"), default=1)
    state = models.CharField(
        _("state"), max_length=10, choices=ReportState.choices, default=ReportState.DRAFT
    )
    figures = models.JSONField(_("figures"), default=dict)
    built_at = models.DateTimeField(_("built"), default=timezone.now)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("released by"),
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    notices = models.PositiveIntegerField(_("notices queued"), default=0)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "client__code", "-version"]
        verbose_name = _("monthly report")
        verbose_name_plural = _("monthly reports")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "month", "version"], name="unique_report_client_month_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client.code} {self.month:%Y-%m} v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse("report_detail", args=[self.pk])

    @property
    def released(self) -> bool:
        return self.state != ReportState.DRAFT


class ReportSettingsQuerySet(ClientScopedQuerySet):
    pass


class ReportSettings(models.Model):
    """When a client's report is built and whether it is released without review."""

    change_rule = Rule.STAFF

    client = models.OneToOneField(
        "clients.Client", on_delete=models.CASCADE, related_name="report_settings"
    )
    business_day = models.PositiveSmallIntegerField(
        _("built on business day"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(15)],
        help_text=_("The Nth Japanese business day of the next month (5: the 5th)."),
    )
    auto_release = models.BooleanField(
        _("release without review"),
        default=False,
        help_text=_("The contract lets the report go out as built, without an operator's review."),
    )

    objects = ReportSettingsQuerySet.as_manager()

    class Meta:
        verbose_name = _("report settings")
        verbose_name_plural = _("report settings")

    def __str__(self) -> str:
        return f"{self.client_id}: day {self.business_day}"
