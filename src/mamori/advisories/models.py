"""Vulnerability data kept locally (OSV records), findings on managed servers, and the record
of updates and repairs (MNT-02)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet


class Level(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")
    UNKNOWN = "unknown", _("Unknown")


#: Worst first, for ordering.
LEVEL_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "unknown": 4}


class Advisory(models.Model):
    """One OSV record, as last imported (provider-wide data, no client)."""

    osv_id = models.CharField(_("id"), max_length=100, unique=True)
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    summary = models.CharField(_("summary"), max_length=500, blank=True)
    details = models.TextField(_("details"), blank=True)
    severity_vector = models.CharField(_("CVSS vector"), max_length=200, blank=True)
    severity_score = models.FloatField(_("CVSS base score"), null=True, blank=True)
    database_severity = models.CharField(_("database's severity"), max_length=50, blank=True)
    level = models.CharField(_("severity"), max_length=10, choices=Level.choices)
    published = models.DateTimeField(_("published"), null=True, blank=True)
    modified = models.DateTimeField(_("modified"))
    withdrawn = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    imported_at = models.DateTimeField(_("imported"))

    class Meta:
        ordering = ["osv_id"]
        verbose_name = _("advisory")
        verbose_name_plural = _("advisories")

    def __str__(self) -> str:
        return self.osv_id

    @property
    def url(self) -> str:
        if self.osv_id.startswith("WF-"):  # mamori.advisories.wordpress
            return f"https://www.wordfence.com/threat-intel/vulnerabilities/id/{self.osv_id[3:]}"
        return f"https://osv.dev/vulnerability/{self.osv_id}"

    def title(self) -> str:
        return self.summary or ", ".join(self.aliases[:3]) or self.osv_id


class AffectedPackage(models.Model):
    """One ``affected`` entry of an advisory: a package of an ecosystem, its ranges (ECOSYSTEM /
    SEMVER, events as in OSV) and its listed versions."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="affected")
    ecosystem = models.CharField(_("ecosystem"), max_length=100)
    name = models.CharField(_("package"), max_length=200)
    ranges = models.JSONField(default=list, blank=True)
    versions = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ecosystem", "name"], name="advisory_affected_pkg")]

    def __str__(self) -> str:
        return f"{self.ecosystem} {self.name}"


class Feed(models.Model):
    """Where the data of one ecosystem comes from and how fresh it is."""

    ecosystem = models.CharField(_("ecosystem"), max_length=100, unique=True)
    url = models.CharField(_("source"), max_length=500)
    etag = models.CharField(max_length=200, blank=True)
    last_modified_header = models.CharField(max_length=100, blank=True)
    checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    changed_at = models.DateTimeField(_("last changed"), null=True, blank=True)
    newest_record = models.DateTimeField(_("newest record"), null=True, blank=True)
    records = models.PositiveIntegerField(_("records"), default=0)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["ecosystem"]

    def __str__(self) -> str:
        return self.ecosystem


class FindingQuerySet(ClientScopedQuerySet):
    client_lookup = "server__client"

    def open(self):
        return self.filter(closed_at__isnull=True)


class CloseReason(models.TextChoices):
    UPDATED = "updated", _("A version that is not affected is installed")
    REMOVED = "removed", _("The package is no longer installed")
    WITHDRAWN = "withdrawn", _("The advisory was withdrawn or no longer names the version")


class Finding(models.Model):
    """An advisory that affects a package installed on a server, from when it was seen until it
    no longer does."""

    # Derived from the server's software: deleted with the server (inventory.services.references).
    deleted_with_parent = True

    change_rule = Rule.EDITOR

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="advisory_findings"
    )
    advisory = models.ForeignKey(Advisory, on_delete=models.PROTECT, related_name="findings")
    ecosystem = models.CharField(_("ecosystem"), max_length=100)
    package = models.CharField(_("package"), max_length=200)
    # The binary packages installed from ``package`` when it is a source package (Debian's and
    # Ubuntu's advisories name sources: "openssl" for libssl3 and openssl).
    binaries = models.JSONField(_("installed packages"), default=list, blank=True)
    installed_version = models.CharField(_("installed version"), max_length=200)
    level = models.CharField(_("severity"), max_length=10, choices=Level.choices)
    fixed_version = models.CharField(_("fixed version"), max_length=200, blank=True)
    # 004 §8.2: a fix is applied only when the distributor provides an official fix.
    official_fix = models.BooleanField(_("official fix"), default=False)
    opened_at = models.DateTimeField(_("found"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    close_reason = models.CharField(
        _("why closed"), max_length=10, choices=CloseReason.choices, blank=True
    )
    alerted_at = models.DateTimeField(_("operators alerted"), null=True, blank=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["server", "package", "advisory__osv_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "advisory", "ecosystem", "package"],
                condition=Q(closed_at__isnull=True),
                name="advisory_one_open_finding",
            )
        ]

    def __str__(self) -> str:
        return f"{self.advisory.osv_id} {self.package} {self.installed_version}"


class UpdateKind(models.TextChoices):
    PLANNED = "planned", _("Planned")
    URGENT = "urgent", _("Urgent, without prior notice (004 §8.3)")


class UpdateMethod(models.TextChoices):
    MANUAL = "manual", _("Done by hand")
    APT = "apt", _("apt-get (Debian, Ubuntu)")
    DNF = "dnf", _("dnf (RHEL family)")
    WP_PLUGIN = "wp_plugin", _("wp-cli: WordPress plugin")
    WP_CORE = "wp_core", _("wp-cli: WordPress core")


class UpdateState(models.TextChoices):
    DONE = "done", _("Recorded as done")
    QUEUED = "queued", _("Waiting to run")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class UpdateRecordQuerySet(ClientScopedQuerySet):
    pass


class UpdateRecord(models.Model):
    """An update or repair of a managed server or site (MNT-02, 004 §8.3): what, from and to
    which version, when, who, planned or urgent, and whether the client was told afterwards.
    The provider's staff record and run them; the client reads them."""

    change_rule = Rule.STAFF

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="update_records"
    )
    server = models.ForeignKey(
        "inventory.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="update_records",
    )
    site = models.ForeignKey(
        "inventory.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="update_records",
    )
    package = models.CharField(_("what"), max_length=200)
    from_version = models.CharField(_("from version"), max_length=200, blank=True)
    to_version = models.CharField(_("to version"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=UpdateKind.choices)
    method = models.CharField(
        _("how"), max_length=10, choices=UpdateMethod.choices, default=UpdateMethod.MANUAL
    )
    reason = models.TextField(_("reason"), blank=True)
    advisories = models.JSONField(_("advisories addressed"), default=list, blank=True)
    performed_at = models.DateTimeField(_("when"))
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    performed_by_label = models.CharField(_("who"), max_length=150)
    notify_client = models.BooleanField(_("tell the client afterwards"), default=True)
    notified_at = models.DateTimeField(_("client told"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=UpdateState.choices, default=UpdateState.DONE
    )
    wp_path = models.CharField(_("WordPress directory"), max_length=500, blank=True)
    command = models.CharField(_("command"), max_length=1000, blank=True)
    output = models.TextField(_("output"), blank=True)
    exit_status = models.IntegerField(_("exit status"), null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = UpdateRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-performed_at", "-pk"]
        verbose_name = _("update record")
        verbose_name_plural = _("update records")

    def __str__(self) -> str:
        return f"{self.package} {self.from_version}→{self.to_version}"

    def get_absolute_url(self) -> str:
        return reverse("advisory_update", args=[self.pk])

    @property
    def target_name(self) -> str:
        if self.site_id:
            return self.site.name
        if self.server_id:
            return self.server.name
        return ""
