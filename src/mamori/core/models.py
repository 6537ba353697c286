"""People, roles and the audit trail.

Roles (ACC-01): provider staff (admin, operator, subcontractor) work for the provider; client
users (admin, viewer) belong to exactly one client. What each may see is decided in one place,
:mod:`mamori.core.scoping`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.core.usernames import canonical


class Role(models.TextChoices):
    PROVIDER_ADMIN = "provider_admin", _("Provider administrator")
    OPERATOR = "operator", _("Operator")
    SUBCONTRACTOR = "subcontractor", _("Subcontractor")
    CLIENT_ADMIN = "client_admin", _("Client administrator")
    CLIENT_VIEWER = "client_viewer", _("Client viewer")


PROVIDER_ROLES = frozenset({Role.PROVIDER_ADMIN, Role.OPERATOR, Role.SUBCONTRACTOR})
CLIENT_ROLES = frozenset({Role.CLIENT_ADMIN, Role.CLIENT_VIEWER})
# Roles that see every client without an explicit assignment.
ALL_CLIENT_ROLES = frozenset({Role.PROVIDER_ADMIN, Role.OPERATOR})


class Language(models.TextChoices):
    JA = "ja", "日本語"
    EN = "en", "English"


class UserManager(DjangoUserManager):
    def get_by_natural_key(self, username: str) -> User:
        """The account a typed user name means, in any width or case (sign-in, ``createsuperuser``,
        the command line). Raises ``User.DoesNotExist``.

        An exact match comes first: it only finds the few accounts that kept a spelling of
        their own because another account already held its one form when names were
        normalised (migration ``core.0003``). Every other spelling finds the account stored
        under the one form.
        """
        exact = self.filter(username=username).first()
        if exact is not None:
            return exact
        return self.get(username=canonical(str(username)))


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.OPERATOR)
    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="users",
        help_text=_("Required for client administrators and viewers."),
    )
    assigned_clients = models.ManyToManyField(
        "clients.Client",
        verbose_name=_("assigned clients"),
        blank=True,
        related_name="assigned_staff",
        help_text=_("The only clients a subcontractor may see and act on."),
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, blank=True, default=""
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role__in=sorted(CLIENT_ROLES), client__isnull=True),
                name="client_user_has_client",
            )
        ]

    @classmethod
    def normalize_username(cls, username: str) -> str:
        """New accounts get the one form of their name (:mod:`mamori.core.usernames`); Django
        calls this in ``create_user()`` and when a form validates a user."""
        return canonical(username) if isinstance(username, str) else username

    def clean(self) -> None:
        name = self.username
        super().clean()
        if not self._state.adding:
            # A name is fixed once the account exists: one kept under its own spelling
            # (migration core.0003) stays as it is when the account is edited.
            self.username = name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            self.username = canonical(self.username)
        super().save(*args, **kwargs)

    @property
    def is_provider_staff(self) -> bool:
        return self.role in PROVIDER_ROLES

    @property
    def is_client_user(self) -> bool:
        return self.role in CLIENT_ROLES

    @property
    def can_edit(self) -> bool:
        """Whether the user may change inventory (client viewers may only look)."""
        return self.is_active and self.role != Role.CLIENT_VIEWER

    def preferred_language(self) -> str:
        return self.language or settings.LANGUAGE_CODE


class AuditTrailError(Exception):
    """An attempt to change or remove an audit event, or to add one outside the chain."""


class AuditEventQuerySet(models.QuerySet):
    """Audit events can be appended (through :func:`mamori.core.audit.record`) and read, never
    changed or removed through the ORM: bulk updates and deletes raise :class:`AuditTrailError`."""

    def update(self, **kwargs: Any) -> int:
        raise AuditTrailError("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditTrailError("audit events are append-only")

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list:
        raise AuditTrailError("append audit events one at a time with mamori.core.audit.record()")

    def bulk_update(self, objs: Any, *args: Any, **kwargs: Any) -> int:
        raise AuditTrailError("audit events are append-only")

    def visible_to(self, user: User) -> AuditEventQuerySet:
        """The events whose client the user may see (ACC-01); events about no client are shown
        only to users who see every client. Whether the role may read the audit trail at all
        is decided by :func:`mamori.core.audit.may_read_trail`."""
        from mamori.core.scoping import visible_client_ids

        ids = visible_client_ids(user)
        if ids is None:
            return self.all()
        return self.filter(client__in=ids)


class AuditEvent(models.Model):
    """One append-only line of the audit trail (ACC-03): who did what to which object, from where.

    Never holds a secret value: :func:`mamori.core.audit.record` redacts secret-looking keys of
    ``changes``. Events form a hash chain: ``sequence`` numbers them without gaps from 1, and
    ``hash`` is the SHA-256 of the event's content together with ``prev_hash``, the hash of the
    event before it (see :mod:`mamori.core.audit` and docs/audit.md). Saving an existing event or
    deleting one raises :class:`AuditTrailError`.
    """

    sequence = models.PositiveBigIntegerField(_("sequence"), unique=True, editable=False)
    # Set by record() before hashing, so the stored time is exactly the hashed time.
    created_at = models.DateTimeField(
        _("time"), default=timezone.now, editable=False, db_index=True
    )
    # Kept when the user is deleted (SET_NULL); the hashed, authoritative name is actor_label.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(
        _("actor"), max_length=150, help_text=_("User name, or the system process that acted.")
    )
    action = models.CharField(_("action"), max_length=40, db_index=True)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    # No database constraint and no cascade: the client id is part of the hashed content and
    # must outlive the client (END-02 keeps the trail after offboarding).
    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    source_ip = models.GenericIPAddressField(_("from"), null=True, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64, editable=False)
    hash = models.CharField(_("hash"), max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return (
            f"#{self.sequence} {self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} "
            f"{self.object_repr}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert a new, already chained event (only :func:`mamori.core.audit.record` makes
        those). Raises :class:`AuditTrailError` for an existing event or an unchained one."""
        if not self._state.adding:
            raise AuditTrailError(f"audit event #{self.sequence} cannot be changed")
        if not self.hash or not self.prev_hash or not self.sequence:
            raise AuditTrailError("append audit events with mamori.core.audit.record()")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditTrailError(f"audit event #{self.sequence} cannot be deleted")


class PurgedAuditEvent(models.Model):
    """The link left of an audit event removed at the end of its retention period (END-02).

    Only the chain survives: the event's ``sequence``, ``prev_hash`` and ``hash``, and the
    sequence of the ``retention.purge`` event that removed it (``purge_sequence``). That event
    is itself in the chain and records the count and a digest of the links it removed, so
    :func:`mamori.core.audit.verify_chain` still checks the whole chain: every kept event's
    content, every link, and that every removed event was removed by a recorded purge.
    Written only by :func:`mamori.core.audit.purge_events`.
    """

    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    purge_sequence = models.PositiveBigIntegerField(db_index=True, editable=False)

    class Meta:
        ordering = ["sequence"]

    def __str__(self) -> str:
        return f"#{self.sequence} (purged by #{self.purge_sequence})"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        from django.utils import timezone

        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A per-user API token. Only its SHA-256 hash is stored; the value is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        _("prefix"), max_length=12, help_text=_("Shown to tell tokens apart.")
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
