"""Checks, their raw samples and roll-ups (MON-01, MON-02, MON-10).

``Check`` → ``Sample`` (one per run, kept ``MAMORI_RESULT_RETENTION_HOURS``) → ``Rollup``
(5-minute, hourly, daily aggregates). The confirmed state and the schedule live on the check;
the workflows are in :mod:`mamori.monitoring.services`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.core.scoping import ClientScopedQuerySet
from mamori.monitoring.kinds import CheckKind, validate_settings

MIN_INTERVAL = 30
MAX_TIMEOUT = 120


class CheckState(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    UP = "up", _("Up")
    DOWN = "down", _("Down")


class CheckQuerySet(ClientScopedQuerySet):
    def due(self, now):
        """Enabled checks whose slot has come and that no worker is running now."""
        return self.filter(enabled=True, next_run_at__lte=now).filter(
            models.Q(lease_until__isnull=True) | models.Q(lease_until__lte=now)
        )


class Check(models.Model):
    """One uptime check of a client's site or server."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="checks")
    site = models.ForeignKey(
        "inventory.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="checks",
    )
    server = models.ForeignKey(
        "inventory.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="checks",
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=8, choices=CheckKind.choices)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    interval_seconds = models.PositiveIntegerField(
        _("interval (seconds)"), default=60, validators=[MinValueValidator(MIN_INTERVAL)]
    )
    timeout_seconds = models.PositiveIntegerField(
        _("timeout (seconds)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TIMEOUT)],
    )
    failures_to_confirm = models.PositiveSmallIntegerField(
        _("failures to confirm"), default=2, validators=[MinValueValidator(1)]
    )
    recoveries_to_confirm = models.PositiveSmallIntegerField(
        _("successes to confirm recovery"), default=2, validators=[MinValueValidator(1)]
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    # Scheduling: the slot of the next run, and how long a worker holds the check.
    next_run_at = models.DateTimeField(_("next run"), default=timezone.now, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    # The confirmed state (MON-02) and what led to it.
    state = models.CharField(
        _("state"), max_length=8, choices=CheckState.choices, default=CheckState.UNKNOWN
    )
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    consecutive_successes = models.PositiveIntegerField(default=0, editable=False)
    state_changed_at = models.DateTimeField(_("state since"), null=True, blank=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_result = models.JSONField(_("last result"), default=dict, blank=True, editable=False)

    objects = CheckQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("check")
        verbose_name_plural = _("checks")
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="unique_check_name"),
            models.CheckConstraint(
                condition=models.Q(interval_seconds__gte=MIN_INTERVAL),
                name="check_interval_at_least_30s",
            ),
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__lt=models.F("interval_seconds")),
                name="check_timeout_below_interval",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.client_id and self.site_id and self.site.client_id != self.client_id:
            errors["site"] = [_("The site belongs to another client.")]
        if self.client_id and self.server_id and self.server.client_id != self.client_id:
            errors["server"] = [_("The server belongs to another client.")]
        if (
            self.timeout_seconds is not None
            and self.interval_seconds is not None
            and self.timeout_seconds >= self.interval_seconds
        ):
            errors.setdefault("timeout_seconds", []).append(
                _("The timeout must be shorter than the interval.")
            )
        problems = validate_settings(self.kind, self.settings)
        if problems:
            errors["settings"] = problems
        if errors:
            raise ValidationError(errors)


class SampleQuerySet(ClientScopedQuerySet):
    client_lookup = "uptime_check__client"


class Sample(models.Model):
    """One run of a check, as the probe reported it. Purged after the retention (MON-10)."""

    # Not "check": a field of that name would hide Model.check(), Django's system checks.
    uptime_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField(db_index=True)
    ok = models.BooleanField()
    duration_ms = models.PositiveIntegerField()
    error_code = models.CharField(max_length=32, blank=True)
    # Kept short and only when it says something (a failure or a flag): raw rows are many.
    detail = models.CharField(max_length=300, blank=True)

    objects = SampleQuerySet.as_manager()

    class Meta:
        ordering = ["uptime_check", "at"]
        indexes = [models.Index(fields=["uptime_check", "at"], name="sample_check_at")]

    def __str__(self) -> str:
        return f"{self.uptime_check_id} {self.at:%Y-%m-%d %H:%M:%S} {'up' if self.ok else 'down'}"


class Resolution(models.TextChoices):
    FIVE_MINUTES = "5m", _("5 minutes")
    HOUR = "1h", _("hour")
    DAY = "1d", _("day")


class RollupQuerySet(ClientScopedQuerySet):
    client_lookup = "uptime_check__client"


class Rollup(models.Model):
    """Samples of one check summed over one bucket (``start`` to ``start`` + resolution).

    Availability is ``up_count / count``; mean response time ``sum_ms / count``. ``p95_ms`` is
    exact for 5-minute buckets and empty for the coarser ones (percentiles do not add up).
    Daily buckets start at local midnight (``MAMORI_TIME_ZONE``).
    """

    uptime_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="rollups")
    resolution = models.CharField(max_length=2, choices=Resolution.choices)
    start = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField()
    up_count = models.PositiveIntegerField()
    sum_ms = models.BigIntegerField()
    min_ms = models.PositiveIntegerField()
    max_ms = models.PositiveIntegerField()
    p95_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = RollupQuerySet.as_manager()

    class Meta:
        ordering = ["uptime_check", "resolution", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["uptime_check", "resolution", "start"], name="unique_rollup_bucket"
            )
        ]

    def __str__(self) -> str:
        return f"{self.uptime_check_id} {self.resolution} {self.start:%Y-%m-%d %H:%M}"

    @property
    def availability(self) -> float:
        return self.up_count / self.count if self.count else 0.0
