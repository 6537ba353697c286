"""The software on managed servers (MNT-01) and their accounts (MNT-07).

A :class:`CollectionSetup` says how Mamori reaches a server over SSH and where it reads (the
paths default to the real system's, so a test or an unusual server can point elsewhere). Every
run is a :class:`Collection` row before it starts. What a successful run found replaces the
server's current rows (:class:`OperatingSystem`, :class:`Package`, :class:`Component`,
:class:`Account`, :class:`AuthorizedKey`); what changed since the previous run is kept as
:class:`SoftwareEvent` and :class:`AccountEvent` rows. The first run of a server is its
baseline: it records what is there, not a change.

End-of-life dates come from a kept copy of endoflife.date data (:class:`EolProduct`, one row
per product); :class:`EolWarning` is the row that makes each warning once per server, product
and cycle.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet


class ServerScopedQuerySet(ClientScopedQuerySet):
    client_lookup = "server__client"


class CollectionSetup(models.Model):
    """How Mamori collects a server's software: the SSH login and the paths it reads."""

    # Collected from the server (or its setup): deleted with it (inventory.services.references).
    deleted_with_parent = True

    change_rule = Rule.STAFF

    server = models.OneToOneField(
        "inventory.Server",
        verbose_name=_("server"),
        on_delete=models.CASCADE,
        related_name="software_setup",
    )
    enabled = models.BooleanField(_("collect on schedule"), default=True)
    interval_hours = models.PositiveIntegerField(_("every (hours)"), default=24)
    ssh_host = models.CharField(_("SSH host"), max_length=253)
    ssh_port = models.PositiveIntegerField(_("SSH port"), default=22)
    ssh_username = models.CharField(_("SSH user"), max_length=100)
    ssh_secret = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("SSH credential"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("A private key or a password, from the vault."),
    )
    ssh_host_key = models.TextField(
        _("SSH host key"),
        help_text=_("The server's public host key (known_hosts line)."),
    )
    os_release_path = models.CharField(
        _("os-release file"), max_length=500, default="/etc/os-release"
    )
    passwd_path = models.CharField(_("passwd file"), max_length=500, default="/etc/passwd")
    group_path = models.CharField(_("group file"), max_length=500, default="/etc/group")
    sudoers_path = models.CharField(
        _("sudoers file"),
        max_length=500,
        default="/etc/sudoers",
        help_text=_("Files in the directory of the same name plus .d are read too."),
    )
    dpkg_admin_dir = models.CharField(
        _("dpkg database directory"),
        max_length=500,
        blank=True,
        help_text=_("Empty: dpkg's own (/var/lib/dpkg)."),
    )
    wordpress_paths = models.TextField(
        _("WordPress directories"),
        blank=True,
        help_text=_("One per line: the directory holding wp-includes and wp-content."),
    )
    next_collection_at = models.DateTimeField(_("next collection"), null=True, blank=True)

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("software collection setup")
        verbose_name_plural = _("software collection setups")

    def __str__(self) -> str:
        return f"{self.ssh_username}@{self.ssh_host}:{self.ssh_port}"

    def clean(self) -> None:
        errors = {}
        if (
            self.ssh_secret_id
            and self.server_id
            and self.ssh_secret.client_id != self.server.client_id
        ):
            errors["ssh_secret"] = _("The credential belongs to another client.")
        if self.ssh_host_key.strip():
            from mamori.lifecycle.ssh import parse_host_key

            try:
                parse_host_key(self.ssh_host_key)
            except ValueError:
                errors["ssh_host_key"] = _(
                    "No SSH public host key found (expected e.g. 'ssh-ed25519 AAAA...')."
                )
        if not 1 <= (self.ssh_port or 0) <= 65535:
            errors["ssh_port"] = _("A port is between 1 and 65535.")
        if not 1 <= (self.interval_hours or 0) <= 24 * 31:
            errors["interval_hours"] = _("Between 1 hour and 31 days.")
        for name in ("os_release_path", "passwd_path", "group_path", "sudoers_path"):
            if not str(getattr(self, name) or "").startswith("/"):
                errors[name] = _("An absolute path.")
        if self.dpkg_admin_dir and not self.dpkg_admin_dir.startswith("/"):
            errors["dpkg_admin_dir"] = _("An absolute path.")
        for line in self.wordpress_path_list():
            if not line.startswith("/"):
                errors["wordpress_paths"] = _("Each line an absolute path.")
        if errors:
            raise ValidationError(errors)

    def wordpress_path_list(self) -> list[str]:
        return [line.strip() for line in self.wordpress_paths.splitlines() if line.strip()]


class CollectionState(models.TextChoices):
    RUNNING = "running", _("Running")
    OK = "ok", _("Complete")
    PARTIAL = "partial", _("Complete with problems")
    FAILED = "failed", _("Failed")


class Collection(models.Model):
    """One run of the collection on one server. ``problems`` lists the items that could not be
    read (``{"item": ..., "message": ...}``); the rest of the run is recorded."""

    deleted_with_parent = True  # see CollectionSetup

    change_rule = Rule.STAFF

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="software_collections"
    )
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=CollectionState.choices, default=CollectionState.RUNNING
    )
    error = models.TextField(_("error"), blank=True)
    problems = models.JSONField(_("problems"), default=list, blank=True)
    # The items this run read in full ("os", "packages", "components", "accounts"): the first
    # run that reads an item is that item's baseline (no change events).
    items = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    packages = models.PositiveIntegerField(_("packages"), default=0)
    components = models.PositiveIntegerField(_("components"), default=0)
    accounts = models.PositiveIntegerField(_("accounts"), default=0)

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("software collection")
        verbose_name_plural = _("software collections")

    def __str__(self) -> str:
        return f"{self.server} {self.started_at:%Y-%m-%d %H:%M}"


class OperatingSystem(models.Model):
    """The server's OS as os-release names it."""

    deleted_with_parent = True  # see CollectionSetup

    server = models.OneToOneField(
        "inventory.Server", on_delete=models.CASCADE, related_name="software_os"
    )
    os_id = models.CharField(_("OS id"), max_length=100)
    id_like = models.CharField(max_length=200, blank=True)
    version_id = models.CharField(_("version"), max_length=100, blank=True)
    pretty_name = models.CharField(_("name"), max_length=300, blank=True)
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="+")

    objects = ServerScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return self.pretty_name or f"{self.os_id} {self.version_id}"


class Ecosystem(models.TextChoices):
    DEBIAN = "Debian", "Debian"
    UBUNTU = "Ubuntu", "Ubuntu"
    RPM = "RPM", "RPM"


class Package(models.Model):
    """An installed OS package."""

    deleted_with_parent = True  # see CollectionSetup

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="software_packages"
    )
    ecosystem = models.CharField(_("ecosystem"), max_length=20, choices=Ecosystem.choices)
    name = models.CharField(_("name"), max_length=200)
    architecture = models.CharField(_("architecture"), max_length=50, blank=True)
    version = models.CharField(_("version"), max_length=200)
    # The source package it was built from and the source's version (Debian's and Ubuntu's
    # advisories name these: "glibc" for libc6); empty for rows collected before they were read.
    source_name = models.CharField(_("source package"), max_length=200, blank=True)
    source_version = models.CharField(_("source version"), max_length=200, blank=True)

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["server", "name", "architecture"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "ecosystem", "name", "architecture"],
                name="unique_software_package",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class ComponentKind(models.TextChoices):
    WEB_SERVER = "web_server", _("Web server")
    PHP = "php", _("PHP")
    DATABASE = "database", _("Database")
    CMS = "cms", _("CMS")
    PLUGIN = "plugin", _("CMS plugin")


class Component(models.Model):
    """A piece of the server's stack read from its own version output or files."""

    deleted_with_parent = True  # see CollectionSetup

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="software_components"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ComponentKind.choices)
    name = models.CharField(_("name"), max_length=200)
    version = models.CharField(_("version"), max_length=100, blank=True)
    path = models.CharField(_("path"), max_length=500, blank=True)

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["server", "kind", "name", "path"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "kind", "name", "path"], name="unique_software_component"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class ChangeKind(models.TextChoices):
    ADDED = "added", pgettext_lazy("software change", "Added")
    REMOVED = "removed", pgettext_lazy("software change", "Removed")
    UPGRADED = "upgraded", pgettext_lazy("software change", "Upgraded")
    DOWNGRADED = "downgraded", pgettext_lazy("software change", "Downgraded")
    CHANGED = "changed", pgettext_lazy("software change", "Changed")


class SoftwareSubject(models.TextChoices):
    OS = "os", _("Operating system")
    PACKAGE = "package", _("Package")
    COMPONENT = "component", _("Component")


class SoftwareEvent(models.Model):
    """A change found by a collection: what, from which version to which."""

    deleted_with_parent = True  # see CollectionSetup

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="software_events"
    )
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("found"))
    subject = models.CharField(_("subject"), max_length=10, choices=SoftwareSubject.choices)
    # The package's ecosystem or the component's kind.
    category = models.CharField(_("category"), max_length=20, blank=True)
    name = models.CharField(_("name"), max_length=200)
    # The package's architecture or the component's path.
    detail = models.CharField(max_length=500, blank=True)
    change = models.CharField(_("change"), max_length=12, choices=ChangeKind.choices)
    from_version = models.CharField(_("from"), max_length=200, blank=True)
    to_version = models.CharField(_("to"), max_length=200, blank=True)

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "subject", "name"]

    def __str__(self) -> str:
        return f"{self.name} {self.change}"


class Account(models.Model):
    """A user of the server with a login shell (or uid 0, or sudo rights, or keys)."""

    deleted_with_parent = True  # see CollectionSetup

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="software_accounts"
    )
    username = models.CharField(_("user"), max_length=100)
    uid = models.BigIntegerField(_("uid"))
    home = models.CharField(_("home"), max_length=500, blank=True)
    shell = models.CharField(_("shell"), max_length=200, blank=True)
    # How the user gets sudo rights ("user", "group sudo", ...); empty: none found; None: the
    # sudoers could not be read.
    sudo = models.CharField(_("sudo rights"), max_length=300, blank=True, null=True)

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["server", "uid", "username"]
        constraints = [
            models.UniqueConstraint(fields=["server", "username"], name="unique_software_account")
        ]

    def __str__(self) -> str:
        return self.username


class AuthorizedKey(models.Model):
    """An SSH key a user accepts: its type, SHA256 fingerprint and comment (never the key)."""

    deleted_with_parent = True  # see CollectionSetup

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="software_keys"
    )
    username = models.CharField(_("user"), max_length=100)
    key_type = models.CharField(_("key type"), max_length=100)
    fingerprint = models.CharField(_("fingerprint"), max_length=100)
    comment = models.CharField(_("comment"), max_length=300, blank=True)

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["server", "username", "fingerprint"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "username", "fingerprint"], name="unique_software_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.fingerprint}"


class AccountSubject(models.TextChoices):
    ACCOUNT = "account", _("Account")
    SUDO = "sudo", _("Sudo rights")
    KEY = "key", _("SSH key")


class AccountEvent(models.Model):
    """An account, sudo right or SSH key that appeared or went away; flagged to operators
    until one of them acknowledges it."""

    deleted_with_parent = True  # see CollectionSetup

    change_rule = Rule.STAFF

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="account_events"
    )
    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="account_events"
    )
    at = models.DateTimeField(_("found"))
    subject = models.CharField(_("subject"), max_length=10, choices=AccountSubject.choices)
    change = models.CharField(_("change"), max_length=12, choices=ChangeKind.choices)
    username = models.CharField(_("user"), max_length=100)
    # The key's type and fingerprint, or the sudo rule.
    detail = models.CharField(max_length=300, blank=True)
    comment = models.CharField(_("comment"), max_length=300, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "username"]

    def __str__(self) -> str:
        return f"{self.username} {self.subject} {self.change}"


class EolSource(models.TextChoices):
    SHIPPED = "shipped", _("Shipped with Mamori")
    FETCHED = "fetched", _("Fetched from endoflife.date")


class EolProduct(models.Model):
    """The kept copy of one endoflife.date product: its cycles as the API gives them."""

    product = models.CharField(_("product"), max_length=100, unique=True)
    cycles = models.JSONField(default=list)
    source = models.CharField(_("source"), max_length=10, choices=EolSource.choices)
    # When the data was fetched from endoflife.date (for the shipped copy: when it was made).
    fetched_at = models.DateTimeField(_("fetched"))
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["product"]

    def __str__(self) -> str:
        return self.product


class EolWarning(models.Model):
    """A warning ahead of an end of life, made once per server, product and cycle."""

    deleted_with_parent = True  # see CollectionSetup

    server = models.ForeignKey(
        "inventory.Server", on_delete=models.CASCADE, related_name="eol_warnings"
    )
    product = models.CharField(_("product"), max_length=100)
    cycle = models.CharField(_("cycle"), max_length=50)
    eol = models.DateField(_("end of life"))
    created_at = models.DateTimeField(_("warned"))

    objects = ServerScopedQuerySet.as_manager()

    class Meta:
        ordering = ["eol"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "product", "cycle"], name="unique_eol_warning"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.cycle}"
