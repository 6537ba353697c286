"""What the periodic jobs did (:mod:`mamori.operations.jobs`): one row per job."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """The record of one periodic job, kept by whichever process runs it (the embedded runner
    or a Celery worker). Every change is one UPDATE with F() expressions, so concurrent runs in
    several processes count correctly on SQLite and PostgreSQL alike.

    ``last_error`` is the class name of the exception that ended the last failed run, never its
    message (which may carry an address, a path or a secret). ``lease_until`` and
    ``lease_owner`` keep a single-flight job to one run at a time across processes."""

    name = models.CharField(_("job"), max_length=100, unique=True)
    last_started_at = models.DateTimeField(_("last started"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)
    last_duration = models.FloatField(_("last duration (seconds)"), null=True, blank=True)
    runs = models.PositiveBigIntegerField(_("runs"), default=0)
    failures = models.PositiveBigIntegerField(_("failures"), default=0)
    last_error = models.CharField(_("last error"), max_length=100, blank=True)
    last_failed_at = models.DateTimeField(_("last failed"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("periodic job")
        verbose_name_plural = _("periodic jobs")

    def __str__(self) -> str:
        return self.name
