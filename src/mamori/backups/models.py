"""Backups (BKP-01, BKP-02): what is backed up, how often, kept how long, where; and the record
of every run of restic: backups, restore drills and restores for the client.

A :class:`BackupJob` belongs to a client (and optionally a contract, a site or a server). Its
repository password and credentials are vault secrets; nothing secret is stored here. Every run
is a :class:`BackupRun` row written *before* restic starts (state ``running``): a partial unique
index allows one active run per job, so two runs of one job never overlap, and a run whose
process died is found (:func:`mamori.backups.services.reap_stale`) and recorded failed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet


class RunOn(models.TextChoices):
    MAMORI = "mamori", _("The Mamori host")
    SERVER = "server", _("The managed server, over SSH")


class DumpLoad(models.TextChoices):
    """How a restore drill loads the job's database dump into a scratch database."""

    NONE = "", _("Not loaded (restic check only)")
    POSTGRESQL = "postgresql", _("PostgreSQL, plain SQL (psql)")
    POSTGRESQL_CUSTOM = "postgresql-custom", _("PostgreSQL, custom format (pg_restore)")


class BackupJob(models.Model):
    """A backup set per contract (BKP-01): paths and an optional database dump, an interval, a
    retention policy (restic's ``forget --keep-daily/weekly/monthly``) and a restic repository."""

    change_rule = Rule.STAFF

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="backup_jobs"
    )
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backup_jobs",
    )
    site = models.ForeignKey(
        "inventory.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backup_jobs",
    )
    server = models.ForeignKey(
        "inventory.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backup_jobs",
    )
    name = models.CharField(_("name"), max_length=200)
    paths = models.TextField(
        _("paths"), blank=True, help_text=_("Absolute paths to back up, one per line.")
    )
    dump_command = models.CharField(
        _("database dump command"),
        max_length=1000,
        blank=True,
        help_text=_("A command that writes a dump to its output, e.g. pg_dump -Fc shop."),
    )
    dump_filename = models.CharField(
        _("dump file name"), max_length=200, default="database.dump", blank=True
    )
    dump_load = models.CharField(
        _("drill: load the dump"),
        max_length=20,
        blank=True,
        choices=DumpLoad.choices,
        help_text=_(
            "A restore drill restores the latest dump and loads it into a scratch database "
            "it creates and drops."
        ),
    )
    dump_load_connection = models.CharField(
        _("drill: scratch database server"),
        max_length=300,
        blank=True,
        help_text=_(
            "Where the scratch database is made, as libpq settings, e.g. "
            "host=127.0.0.1 port=5432 user=postgres (the user may create databases)."
        ),
    )
    dump_load_password = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("drill: scratch database password"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    interval_hours = models.PositiveIntegerField(
        _("every (hours)"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 31)],
    )
    keep_daily = models.PositiveSmallIntegerField(_("keep daily"), default=7)
    keep_weekly = models.PositiveSmallIntegerField(_("keep weekly"), default=4)
    keep_monthly = models.PositiveSmallIntegerField(_("keep monthly"), default=6)
    repository = models.CharField(
        _("restic repository"),
        max_length=500,
        help_text=_(
            "A local path, sftp:user@host:/path, sftp://user@host:port//path or "
            "s3:https://host[:port]/bucket/prefix (S3-compatible)."
        ),
    )
    repository_password = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("repository password"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    repository_key = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("repository SSH key"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("For an SFTP repository: the private key that logs in to it."),
    )
    repository_access_key_id = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("S3 access key id"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("For an S3 repository: the access key id (a secret of the vault)."),
    )
    repository_secret_access_key = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("S3 secret access key"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("For an S3 repository: the secret access key (a secret of the vault)."),
    )
    repository_host_key = models.TextField(
        _("repository host key"),
        blank=True,
        help_text=_("For an SFTP repository: its public host key (known_hosts line)."),
    )
    run_on = models.CharField(_("run on"), max_length=10, choices=RunOn.choices)
    ssh_host = models.CharField(_("SSH host"), max_length=253, blank=True)
    ssh_port = models.PositiveIntegerField(_("SSH port"), default=22)
    ssh_username = models.CharField(_("SSH user"), max_length=100, blank=True)
    ssh_secret = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("SSH credential"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    ssh_host_key = models.TextField(_("SSH host key"), blank=True)
    drill_every_days = models.PositiveIntegerField(
        _("restore drill every (days)"), default=7, help_text=_("0: no scheduled drills.")
    )
    drill_read_percent = models.PositiveSmallIntegerField(
        _("drill: share of the data read back (%)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    drill_files = models.PositiveIntegerField(
        _("drill: files restored and compared"), default=20, validators=[MinValueValidator(1)]
    )
    timeout_minutes = models.PositiveIntegerField(
        _("time limit (minutes)"), default=360, validators=[MinValueValidator(1)]
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    next_run_at = models.DateTimeField(_("next backup"), null=True, blank=True, db_index=True)
    next_drill_at = models.DateTimeField(_("next drill"), null=True, blank=True)
    #: Failed attempts in a row (reset by a success); the retry back-off reads it.
    failures = models.PositiveIntegerField(default=0)
    #: The incident opened by a failed or missed run, while it is open.
    incident = models.ForeignKey(
        "monitoring.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ClientScopedQuerySet.as_manager()

    #: The job's secrets of the vault: each must be the job's client's.
    SECRET_FIELDS = (
        "repository_password",
        "repository_key",
        "repository_access_key_id",
        "repository_secret_access_key",
        "dump_load_password",
        "ssh_secret",
    )

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("backup job")
        verbose_name_plural = _("backup jobs")
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="unique_backup_job_name")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("backup_job", args=[self.pk])

    @property
    def path_list(self) -> list[str]:
        return [line.strip() for line in self.paths.splitlines() if line.strip()]

    def clean(self) -> None:
        from mamori.backups import rules

        rules.check(self)


class RunKind(models.TextChoices):
    BACKUP = "backup", pgettext_lazy("backup run", "Backup")
    DRILL = "drill", _("Restore drill")
    RESTORE = "restore", pgettext_lazy("backup run", "Restore")


class RunState(models.TextChoices):
    RUNNING = "running", pgettext_lazy("backup run", "Running")
    SUCCEEDED = "succeeded", pgettext_lazy("backup run", "Succeeded")
    FAILED = "failed", pgettext_lazy("backup run", "Failed")
    MISSED = "missed", pgettext_lazy("backup run", "Missed")


class Failure(models.TextChoices):
    EXIT = "exit", _("restic reported an error")
    TIMEOUT = "timeout", _("Did not finish within its time limit")
    DIED = "died", _("Stopped halfway (its process ended)")
    MISSED = "missed", _("Not started when due")
    MISMATCH = "mismatch", _("Restored files differ from the source")
    ERROR = "error", _("Could not run (connection, credentials or set-up)")
    DUMP = "dump", _("The database dump did not load")


class RunQuerySet(ClientScopedQuerySet):
    client_lookup = "job__client"


class BackupRun(models.Model):
    """One run of restic for a job: a backup, a restore drill or a restore (BKP-02)."""

    change_rule = Rule.STAFF

    job = models.ForeignKey(BackupJob, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(_("kind"), max_length=10, choices=RunKind.choices)
    state = models.CharField(_("state"), max_length=10, choices=RunState.choices)
    #: The scheduled time this run is for (None: started by hand); unique per job and kind.
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    attempt = models.PositiveIntegerField(_("attempt"), default=1)
    started_at = models.DateTimeField(_("started"), null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    #: Who runs it: the host name and process id, to tell a live run from a dead one.
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    snapshot_id = models.CharField(_("snapshot"), max_length=64, blank=True)
    files_new = models.PositiveIntegerField(_("new files"), null=True, blank=True)
    files_changed = models.PositiveIntegerField(_("changed files"), null=True, blank=True)
    files_unmodified = models.PositiveIntegerField(_("unchanged files"), null=True, blank=True)
    bytes_added = models.BigIntegerField(_("bytes added"), null=True, blank=True)
    total_size = models.BigIntegerField(_("total size"), null=True, blank=True)
    exit_code = models.IntegerField(_("exit code"), null=True, blank=True)
    #: restic's error output when it failed (trimmed; secrets never reach it).
    error = models.TextField(_("error output"), blank=True)
    #: Why it failed, as a code (shown in the reader's language).
    failure = models.CharField(_("failure"), max_length=20, blank=True, choices=Failure.choices)
    #: Restores: what, at which snapshot, to where; drills: what was compared.
    path = models.CharField(_("path"), max_length=1000, blank=True)
    target = models.CharField(_("restore to"), max_length=1000, blank=True)
    details = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("backup run")
        verbose_name_plural = _("backup runs")
        constraints = [
            # Two runs of one job never overlap: a second start finds this index taken.
            models.UniqueConstraint(
                fields=["job"],
                condition=models.Q(state="running"),
                name="one_running_backup_run_per_job",
            ),
            # A scheduled time is run (or recorded missed) once, whoever gets there first.
            models.UniqueConstraint(
                fields=["job", "kind", "due_at", "attempt"],
                condition=models.Q(due_at__isnull=False),
                name="one_backup_run_per_due_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job} {self.get_kind_display()} {self.started_at or self.due_at}"

    @property
    def duration(self):
        if self.started_at and self.ended_at:
            return self.ended_at - self.started_at
        return None
