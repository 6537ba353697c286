"""Checks, their raw samples and roll-ups (MON-01, MON-02, MON-10).

``Check`` → ``Sample`` (one per run, kept ``MAMORI_RESULT_RETENTION_HOURS``) → ``Rollup``
(5-minute, hourly, daily aggregates). The confirmed state and the schedule live on the check;
the workflows are in :mod:`mamori.monitoring.services`.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet
from mamori.monitoring.kinds import CheckKind, validate_settings

MIN_INTERVAL = 30
MAX_TIMEOUT = 120
#: The longest notice period of a maintenance window: a year.
MAX_NOTIFY_HOURS = 24 * 366


def scope_errors(obj: models.Model) -> dict[str, list[str]]:
    """Errors for a ``site`` or ``server`` of ``obj`` that belongs to another client than
    ``obj.client``."""
    errors: dict[str, list[str]] = {}
    if obj.client_id and obj.site_id and obj.site.client_id != obj.client_id:
        errors["site"] = [_("The site belongs to another client.")]
    if obj.client_id and obj.server_id and obj.server.client_id != obj.client_id:
        errors["server"] = [_("The server belongs to another client.")]
    return errors


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

    change_rule = Rule.STAFF

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
    enabled = models.BooleanField(pgettext_lazy("monitoring", "enabled"), default=True)

    # Scheduling: the slot of the next run, and how long a worker holds the check.
    next_run_at = models.DateTimeField(_("next run"), default=timezone.now, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The slot a worker holds under the lease and has not recorded yet (scaled-out mode hands
    # it to another worker when the lease runs out: no run is lost).
    running_slot = models.DateTimeField(null=True, blank=True, editable=False)

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

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("check_detail", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        errors.update(scope_errors(self))
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
    # The probe's technical line (English, for operators and logs); kept short and only when it
    # says something (a failure or a flag): raw rows are many.
    detail = models.CharField(max_length=300, blank=True)
    # What the sentence shown to people needs (mamori.monitoring.outcomes), with the same rule.
    params = models.JSONField(default=dict, blank=True)

    objects = SampleQuerySet.as_manager()

    class Meta:
        ordering = ["uptime_check", "at"]
        constraints = [
            # One result per check and slot: a batch run again (a redelivered task, a retry)
            # records nothing twice.
            models.UniqueConstraint(fields=["uptime_check", "at"], name="one_sample_per_slot")
        ]

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


# --- incidents (MON-03, MON-04, MON-05, MON-08, MON-09) -----------------------------------------


class IncidentState(models.TextChoices):
    OPEN = "open", pgettext_lazy("incident", "Open")
    RECOVERED = "recovered", _("Recovered")
    CLOSED = "closed", pgettext_lazy("incident", "Closed")


class Cause(models.TextChoices):
    """Who or what caused an incident (MON-05). Only the provider's own causes count against
    the SLA (004 §36.1); carriers (§36.3), cloud and hosting vendors (§36.4), the client's own
    change or instruction, attacks and force majeure do not. ``UNATTRIBUTED`` counts until an
    operator sets the cause: the SLA is never flattered by a missing attribution."""

    UNATTRIBUTED = "unattributed", _("Not yet attributed")
    PROVIDER = "provider", pgettext_lazy("cause", "Provider")
    CERTIFICATE_AUTHORITY = "certificate_authority", _("Certificate authority")
    HOSTING = "hosting", _("Hosting or cloud provider")
    CARRIER = "carrier", _("Network carrier")
    DOMAIN_EXPIRY = "domain_expiry", _("Domain expiry")
    CLIENT = "client", _("Client's own change or instruction")
    ATTACK = "attack", _("Third-party attack")
    FORCE_MAJEURE = "force_majeure", _("Force majeure")


#: Causes whose downtime counts against the provider's SLA.
SLA_CAUSES = frozenset({Cause.UNATTRIBUTED, Cause.PROVIDER})


class IncidentQuerySet(ClientScopedQuerySet):
    def open(self):
        return self.filter(state=IncidentState.OPEN)


class Incident(models.Model):
    """An outage of a client's site or server, from detection to closure (MON-03).

    Opened by a check's confirmed failure (``uptime_check`` set) or by an operator. The
    downtime runs from ``started_at`` (the first failed run) to ``recovered_at`` (the first
    successful run of the confirmed recovery); ``total_outage`` marks the service as wholly
    unusable (the 6-hour rule of 004 §30.4 counts only those). Every step is an
    :class:`IncidentEvent` on its timeline.
    """

    change_rule = Rule.STAFF

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="incidents")
    uptime_check = models.ForeignKey(
        Check,
        verbose_name=_("check"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    site = models.ForeignKey(
        "inventory.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    server = models.ForeignKey(
        "inventory.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    title = models.CharField(pgettext_lazy("monitoring", "title"), max_length=300)
    state = models.CharField(
        _("state"), max_length=10, choices=IncidentState.choices, default=IncidentState.OPEN
    )
    total_outage = models.BooleanField(
        _("total outage"),
        default=True,
        help_text=_("The service could not be used at all (counts for the 6-hour rule)."),
    )
    started_at = models.DateTimeField(_("started"), db_index=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recovered_at = models.DateTimeField(_("recovered"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cause = models.CharField(
        _("cause"), max_length=24, choices=Cause.choices, default=Cause.UNATTRIBUTED
    )
    cause_detail = models.TextField(_("cause in detail"), blank=True)
    impact = models.TextField(_("impact"), blank=True)
    actions = models.TextField(_("actions taken"), blank=True)
    prevention = models.TextField(_("prevention"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        constraints = [
            # At most one unrecovered incident per check: a second worker or a retry that
            # confirms the same failure finds it instead of opening another.
            models.UniqueConstraint(
                fields=["uptime_check"],
                condition=models.Q(state="open"),
                name="one_open_incident_per_check",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("incident_detail", args=[self.pk])

    @property
    def counts_against_sla(self) -> bool:
        """Whether it may count against the provider's SLA: a total outage (004 §36.1: 利用が
        全くできない状態) whose cause is the provider's or not attributed yet. Only its part of
        an outage of 6 hours or more earns anything (:mod:`mamori.monitoring.sla`)."""
        return self.total_outage and self.cause in SLA_CAUSES

    @property
    def opened_by_hand(self) -> bool:
        """Opened by an operator, not by a check."""
        return self.uptime_check_id is None

    @property
    def recovery_by_hand(self) -> bool:
        """No check will see it recover: opened by hand, or closed unrecovered while its check
        was paused. An operator records when the service came back (a check's own recovery is
        never overwritten by hand)."""
        return self.opened_by_hand or (
            self.state == IncidentState.CLOSED and self.recovered_at is None
        )

    def downtime(self, until: dt.datetime | None = None) -> dt.timedelta:
        end = self.recovered_at or until or timezone.now()
        return max(dt.timedelta(0), end - self.started_at)


class IncidentEventKind(models.TextChoices):
    DETECTED = "detected", _("Failure detected")
    CONFIRMED = "confirmed", _("Failure confirmed, incident opened")
    NOTIFIED = "notified", _("Client notified")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    NOTE = "note", _("Note")
    CAUSE_SET = "cause_set", _("Cause set")
    EMERGENCY_MEASURE = "emergency_measure", _("Emergency measure")
    EMERGENCY_STOP = "emergency_stop", _("Emergency stop")
    RECOVERED = "recovered", _("Recovered")
    RECOVERY_NOTIFIED = "recovery_notified", _("Client notified of recovery")
    CLOSED = "closed", pgettext_lazy("incident", "Closed")
    REOPENED = "reopened", _("Reopened")
    WAITING = "waiting", _("Waiting for the client")
    WAITING_ENDED = "waiting_ended", _("No longer waiting for the client")


class IncidentEventQuerySet(ClientScopedQuerySet):
    client_lookup = "incident__client"


class IncidentEvent(models.Model):
    """One entry of an incident's timeline. Emergency measures (MON-08) and stops (MON-09)
    carry the operator, the time and, for billing as extra work, the minutes spent."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=IncidentEventKind.choices)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(_("text"), blank=True)
    minutes = models.PositiveIntegerField(_("minutes spent"), null=True, blank=True)
    billable = models.BooleanField(_("billable as extra work"), default=False)
    data = models.JSONField(default=dict, blank=True)

    objects = IncidentEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("incident event")
        verbose_name_plural = _("incident events")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"

    @property
    def shown_text(self) -> str:
        """The text people read: what a check found, in the reader's language, for the events a
        check wrote (they store its code and parameters); else the text as written."""
        if "params" in self.data:
            from mamori.monitoring.outcomes import sentence

            ok = self.kind == IncidentEventKind.RECOVERED
            code = self.data.get("error_code") or ""
            return sentence(self.data.get("check_kind", ""), ok, code, self.data["params"])
        return self.text


# --- maintenance windows (MON-06) -----------------------------------------------------------------


class Recurrence(models.TextChoices):
    NONE = "none", _("Once")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class MaintenanceWindow(models.Model):
    """Planned work on a client's systems: the whole client, one site or one server.

    The first occurrence is ``starts_at``–``ends_at``; a recurring window repeats it every
    day, week or month (same local time) until ``repeat_until``. Checks of what it covers open
    no incident and send nothing inside an occurrence, and its time is left out of the SLA.
    The affected client is told ``notify_hours_before`` each occurrence (a notice in the
    outbox, key ``maintenance:<pk>:<occurrence start>``).
    """

    change_rule = Rule.STAFF

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    site = models.ForeignKey(
        "inventory.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
    )
    server = models.ForeignKey(
        "inventory.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
    )
    title = models.CharField(pgettext_lazy("monitoring", "title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    recurrence = models.CharField(
        _("repeats"), max_length=8, choices=Recurrence.choices, default=Recurrence.NONE
    )
    repeat_until = models.DateField(_("repeat until"), null=True, blank=True)
    notify_hours_before = models.PositiveIntegerField(
        _("notify the client (hours before)"), default=72
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="maintenance_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = [_("The window must end after it starts.")]
        errors.update(scope_errors(self))
        if self.site_id and self.server_id:
            errors.setdefault("server", []).append(_("Choose a site or a server, not both."))
        if self.notify_hours_before is not None and self.notify_hours_before > MAX_NOTIFY_HOURS:
            errors.setdefault("notify_hours_before", []).append(_("At most a year (8784 hours)."))
        if self.starts_at and self.ends_at and "ends_at" not in errors:
            errors.update(self._timing_errors(timezone.now()))
        if self.recurrence != Recurrence.NONE and self.starts_at and self.ends_at:
            longest = {
                Recurrence.DAILY: dt.timedelta(days=1),
                Recurrence.WEEKLY: dt.timedelta(days=7),
                Recurrence.MONTHLY: dt.timedelta(days=28),
            }[Recurrence(self.recurrence)]
            if self.ends_at - self.starts_at >= longest:
                errors.setdefault("ends_at", []).append(
                    _("A repeating window must be shorter than its period.")
                )
        if errors:
            raise ValidationError(errors)

    def _times_changed(self) -> bool:
        """A new window, or one whose times or repetition differ from those stored."""
        if self._state.adding or self.pk is None:
            return True
        stored = (
            MaintenanceWindow.objects.filter(pk=self.pk)
            .values_list("starts_at", "ends_at", "recurrence", "repeat_until")
            .first()
        )
        return stored != (self.starts_at, self.ends_at, self.recurrence, self.repeat_until)

    def has_ended(self, now: dt.datetime) -> bool:
        """Whether every occurrence of the window has ended by ``now``."""
        if self.recurrence == Recurrence.NONE:
            return self.ends_at <= now
        if self.repeat_until is None:
            return False
        from mamori.monitoring.maintenance import occurrences

        last_day = self.repeat_until + dt.timedelta(days=1)
        until = timezone.make_aware(dt.datetime(last_day.year, last_day.month, last_day.day))
        return next(occurrences(self, now, until), None) is None

    def _timing_errors(self, now: dt.datetime) -> dict[str, list]:
        """The rules on when a planned window may lie (MON-06: maintenance is announced in
        advance): a window that has already ended is refused, and so is a start more than
        :data:`LATE_START_GRACE` ago (work that began at once may be entered just after it
        began; past downtime is not turned into maintenance afterwards, which would take it out
        of the SLA). Only new windows and changed times are judged: a stored window that has
        ended stays valid, e.g. when an import names it again unchanged."""
        if not self._times_changed():
            return {}
        if self.has_ended(now):
            return {"ends_at": [_("This window has already ended: plan work that is still ahead.")]}
        if self.starts_at < now - LATE_START_GRACE and (
            self._state.adding
            or not MaintenanceWindow.objects.filter(pk=self.pk, starts_at=self.starts_at).exists()
        ):
            return {
                "starts_at": [
                    _(
                        "The start is more than an hour ago: a window is planned ahead "
                        "(or entered as soon as urgent work begins)."
                    )
                ]
            }
        return {}


#: How long after its start a window may still be entered (urgent work that began at once).
LATE_START_GRACE = dt.timedelta(hours=1)


# --- SLA (MON-07) ---------------------------------------------------------------------------------


def validate_sla_tiers(value: object) -> None:
    """``[{"below": 99.9, "credit_percent": 10}, ...]``: availability (%) under ``below`` earns
    ``credit_percent`` of the monthly fee; the lowest matching tier wins."""
    if not isinstance(value, list):
        raise ValidationError(_("Expected a list of tiers."))
    for tier in value:
        if (
            not isinstance(tier, dict)
            or set(tier) != {"below", "credit_percent"}
            or not all(isinstance(tier[k], int | float) for k in tier)
            or not 0 < tier["below"] <= 100
            or not 0 <= tier["credit_percent"] <= 100
        ):
            raise ValidationError(
                _("Each tier needs 'below' (0–100 %) and 'credit_percent' (0–100 %).")
            )


def validate_sla_length_tiers(value: object) -> None:
    """``[{"hours": 6, "credit_percent": 10}, ...]``: a total outage of ``hours`` or longer
    earns ``credit_percent`` of the monthly fee; the longest matching tier wins."""
    if not isinstance(value, list):
        raise ValidationError(_("Expected a list of tiers."))
    for tier in value:
        if (
            not isinstance(tier, dict)
            or set(tier) != {"hours", "credit_percent"}
            or not all(isinstance(tier[k], int | float) for k in tier)
            or not 0 < tier["hours"] <= 24 * 31
            or not 0 <= tier["credit_percent"] <= 100
        ):
            raise ValidationError(
                _(
                    "Each tier needs 'hours' (above 0, at most a month) and 'credit_percent' "
                    "(0–100 %)."
                )
            )


class SlaTable(models.TextChoices):
    """How the contract's SLA table reads (004 §36.1 refers to a separate SLA table)."""

    AVAILABILITY = "availability", _("By monthly availability")
    OUTAGE_LENGTH = "outage_length", _("By length of the outage")


class SlaPolicy(models.Model):
    """A contract's SLA table for one client (MON-07; 004 §30.4, §36): which provider-caused
    total outages count (``long_outage_hours`` and longer) and what they earn, by availability
    (``tiers``) or by outage length (``length_tiers``), as ``table`` says.

    Covers the client's checks, or only those of ``site``/``server`` when set.
    """

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="sla_policies"
    )
    name = models.CharField(_("name"), max_length=200)
    site = models.ForeignKey(
        "inventory.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_policies",
    )
    server = models.ForeignKey(
        "inventory.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_policies",
    )
    monthly_fee = models.DecimalField(_("monthly fee"), max_digits=12, decimal_places=0)
    currency = models.CharField(_("currency"), max_length=3, default="JPY")
    target_percent = models.DecimalField(
        _("availability target (%)"), max_digits=6, decimal_places=3, default=99.9
    )
    table = models.CharField(
        _("SLA table"), max_length=16, choices=SlaTable.choices, default=SlaTable.AVAILABILITY
    )
    tiers = models.JSONField(
        _("credit tiers by availability"), default=list, validators=[validate_sla_tiers]
    )
    length_tiers = models.JSONField(
        _("credit tiers by outage length"),
        default=list,
        blank=True,
        validators=[validate_sla_length_tiers],
    )
    long_outage_hours = models.PositiveIntegerField(
        _("shortest outage that counts (hours)"),
        null=True,
        blank=True,
        default=6,
        help_text=_(
            "A provider-caused total outage shorter than this gives nothing (004 §30.4: 6 hours)."
        ),
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name


class SlaCreditQuerySet(ClientScopedQuerySet):
    client_lookup = "policy__client"


class SlaCredit(models.Model):
    """One month of one SLA policy, computed (MON-07) and ready for billing. Recomputed until
    ``finalized_at`` is set; then the invoice relies on it and it does not change."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="credits")
    month = models.DateField(_("month"))  # the first day of the month
    minutes_in_month = models.PositiveIntegerField()
    maintenance_minutes = models.PositiveIntegerField(_("maintenance (minutes)"))
    downtime_minutes = models.PositiveIntegerField(_("downtime counted (minutes)"))
    excluded_minutes = models.PositiveIntegerField(_("downtime not counted (minutes)"))
    longest_outage_minutes = models.PositiveIntegerField(_("longest total outage (minutes)"))
    availability_percent = models.DecimalField(
        _("availability (%)"), max_digits=7, decimal_places=3
    )
    credit_percent = models.DecimalField(_("credit (%)"), max_digits=5, decimal_places=2)
    credit_amount = models.DecimalField(_("credit"), max_digits=12, decimal_places=0)
    provisional = models.BooleanField(
        _("provisional"),
        default=False,
        help_text=_("Some downtime has no cause yet and is counted against the provider."),
    )
    client_delay_minutes = models.PositiveIntegerField(
        _("client's delay (minutes)"),
        default=0,
        help_text=_("Time the provider waited on the client (CT-09): not the provider's downtime."),
    )
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)
    finalized_at = models.DateTimeField(_("finalized"), null=True, blank=True)

    objects = SlaCreditQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "policy"]
        verbose_name = _("SLA credit")
        verbose_name_plural = _("SLA credits")
        constraints = [
            models.UniqueConstraint(fields=["policy", "month"], name="one_sla_credit_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.month:%Y-%m}"

    def save(self, *args, **kwargs) -> None:
        """A finalized month is what billing relies on: it never changes again."""
        if self._finalized_in_database():
            raise ValidationError(_("This month is finalized: it cannot change."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._finalized_in_database():
            raise ValidationError(_("This month is finalized: it cannot change."))
        return super().delete(*args, **kwargs)

    def _finalized_in_database(self) -> bool:
        return (
            self.pk is not None
            and type(self).objects.filter(pk=self.pk, finalized_at__isnull=False).exists()
        )
