"""Visitors of managed sites from their access logs (MNT-06).

A :class:`LogSetup` says where a site's access logs are on its server (read over SSH with the
login of the server's software collection setup) and in which format. Logs are read
incrementally: a :class:`LogFile` row per log *stream*, known by the hash of its first line
(the same stream as ``access.log``, then ``access.log.1``, then ``access.log.2.gz``), holds the
bytes of its content already counted. Only counts are kept: :class:`DayFigures` (per site and
day) and :class:`MonthCount` (per site, month, dimension and key: pages, statuses, referrer
hosts, bots). Visitors are distinct (IP, user agent) per day: while a day is open, Mamori keeps
a keyed hash of each (:class:`VisitorMark`, the key in :class:`DaySalt`); both are deleted when
the day is closed (``MAMORI_WEBLOG_VISITOR_DAYS``), and no IP address is ever stored.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet
from mamori.weblogs.parse import FORMAT_CHOICES


class SiteScopedQuerySet(ClientScopedQuerySet):
    client_lookup = "site__client"


class CollectError(models.TextChoices):
    NO_LOGIN = "no_login", _("The site's server has no SSH login (software collection setup).")
    NO_HOST_KEY = "no_host_key", _("The server's SSH host key is not configured.")
    SSH = "ssh", _("The server could not be reached or refused the login.")


class LogSetup(models.Model):
    """Where a site's access logs are read from over SSH."""

    change_rule = Rule.STAFF

    site = models.OneToOneField(
        "inventory.Site", verbose_name=_("site"), on_delete=models.CASCADE, related_name="log_setup"
    )
    enabled = models.BooleanField(_("collect on schedule"), default=True)
    paths = models.TextField(
        _("access log files"),
        help_text=_(
            "One per line, shell patterns allowed: e.g. /var/log/nginx/example.access.log* "
            "(rotated and .gz files included)."
        ),
    )
    log_format = models.CharField(
        _("log format"), max_length=20, choices=FORMAT_CHOICES, default="combined"
    )
    interval_hours = models.PositiveIntegerField(_("every (hours)"), default=6)
    next_collection_at = models.DateTimeField(_("next collection"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_collected_at = models.DateTimeField(_("last collected"), null=True, blank=True)
    last_error_code = models.CharField(
        _("last error"), max_length=20, blank=True, choices=CollectError.choices
    )
    #: The SSH library's own words of the last error (technical, not translated), if any.
    last_error = models.CharField(max_length=500, blank=True)

    objects = SiteScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("access log setup")
        verbose_name_plural = _("access log setups")

    def __str__(self) -> str:
        return f"{self.site} ({self.log_format})"

    def path_list(self) -> list[str]:
        return [line.strip() for line in self.paths.splitlines() if line.strip()]


class LogFile(models.Model):
    """One log stream of a site and how far it has been counted. ``offset`` counts bytes of
    the (uncompressed) content; it changes in the same transaction as the counts of the lines
    before it, so a run killed halfway resumes exactly there."""

    deleted_with_parent = True

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="log_files")
    first_line_hash = models.CharField(max_length=64)
    path = models.CharField(max_length=1000)
    device = models.BigIntegerField(default=0)
    inode = models.BigIntegerField(default=0)
    size = models.BigIntegerField(default=0)
    offset = models.BigIntegerField(default=0)
    #: The compressed copy (device, inode, size) read to its end: not decompressed again.
    finished_copy = models.CharField(max_length=100, blank=True)
    lines = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = SiteScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "first_line_hash"], name="weblogs_unique_stream"
            )
        ]

    def __str__(self) -> str:
        return f"{self.path} @{self.offset}"


class DayFigures(models.Model):
    """A site's counts for one day (the day as its log lines write it)."""

    deleted_with_parent = True

    site = models.ForeignKey(
        "inventory.Site", on_delete=models.CASCADE, related_name="visitor_days"
    )
    day = models.DateField()
    hits = models.BigIntegerField(default=0)
    page_views = models.BigIntegerField(default=0)
    visitors = models.BigIntegerField(default=0)
    bot_hits = models.BigIntegerField(default=0)
    search_bot_hits = models.BigIntegerField(default=0)
    bytes_sent = models.BigIntegerField(default=0)
    #: The day's visitor hashes are gone: later lines of it add hits, not visitors.
    closed = models.BooleanField(default=False)

    objects = SiteScopedQuerySet.as_manager()

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="weblogs_unique_day")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day}"


class Dimension(models.TextChoices):
    PAGE = "page", _("Pages")
    STATUS = "status", _("Status codes")
    REFERRER = "referrer", _("Referrers")
    SEARCH_BOT = "search_bot", _("Search engine bots")
    BOT = "bot", _("Other bots")
    #: New visitors of each day by country (ISO 3166 code, ``--`` unknown), with a database.
    COUNTRY = "country", _("Countries")


class MonthCount(models.Model):
    """How often a key (a path, a status code, a referrer host, a bot) was seen in a month."""

    deleted_with_parent = True

    site = models.ForeignKey(
        "inventory.Site", on_delete=models.CASCADE, related_name="visitor_counts"
    )
    month = models.DateField(help_text="The first day of the month.")
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    key = models.CharField(max_length=300)
    count = models.BigIntegerField(default=0)

    objects = SiteScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "month", "dimension", "key"], name="weblogs_unique_count"
            )
        ]
        indexes = [models.Index(fields=["site", "month", "dimension", "-count"])]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.dimension} {self.key}: {self.count}"


class DaySalt(models.Model):
    """The random key of one open day's visitor hashes; deleted with them."""

    deleted_with_parent = True

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    salt = models.BinaryField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="weblogs_unique_salt")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day}"


class VisitorMark(models.Model):
    """A keyed hash of one visitor (IP address and user agent) of an open day."""

    deleted_with_parent = True

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    digest = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "day", "digest"], name="weblogs_unique_visitor")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.day}"
