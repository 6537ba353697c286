"""Who may get in and how: second factors, sign-in throttling, the 2FA policy, and the people
each client and the provider name to handle information (ACC-01, ACC-02).

Users and roles themselves live in :mod:`mamori.core.models`; this app adds what hangs off them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet


class TwoFactor(models.Model):
    """A user's TOTP authenticator (RFC 6238).

    ``secret`` is the base32 secret encrypted with AES-GCM (see :mod:`mamori.access.crypto`),
    never the plain value. A row with ``confirmed_at`` unset is an enrolment in progress and does
    not count: the user has not yet proved that the authenticator app has the secret.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor"
    )
    secret = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(_("enabled at"), null=True, blank=True)
    # RFC 6238 §5.2: a code accepted once must not be accepted again, so the time step of the
    # last accepted code is kept and only later steps are accepted.
    last_used_counter = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("two-factor authenticator")
        verbose_name_plural = _("two-factor authenticators")

    def __str__(self) -> str:
        return f"TOTP of {self.user}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """One single-use recovery code; only a keyed hash of it is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="unique_recovery_code")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user}"


class LoginFailure(models.Model):
    """One failed sign-in attempt (wrong password or wrong code), for throttling.

    Kept in the database so that every web process sees the same count without a cache server;
    rows older than the throttle window are deleted as new ones are written.
    """

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("failed sign-in")
        verbose_name_plural = _("failed sign-ins")

    def __str__(self) -> str:
        return f"{self.username} from {self.ip} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class AccessPolicy(models.Model):
    """The provider's access settings: a single row (pk=1), edited by provider administrators."""

    require_staff_2fa = models.BooleanField(
        _("require two-factor authentication for provider staff"),
        default=False,
        help_text=_(
            "Provider administrators, operators and subcontractors without an authenticator "
            "are sent to set one up right after their password, and can do nothing else until "
            "they have."
        ),
    )
    provider_name = models.CharField(
        _("our company name"),
        max_length=200,
        blank=True,
        help_text=_(
            "How notices, certificates of destruction and reports to clients are signed. "
            "Empty: the MAMORI_PROVIDER_NAME setting."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("access policy")
        verbose_name_plural = _("access policies")

    def __str__(self) -> str:
        return "access policy"

    @classmethod
    def current(cls) -> AccessPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class OfficerPosition(models.IntegerChoices):
    FIRST = 1, _("First officer")
    SECOND = 2, _("Second officer")


# 004 §35.4–5: each party names two information-handling officers.
OFFICERS_REQUIRED = 2


class InformationOfficerQuerySet(ClientScopedQuerySet):
    def provider(self) -> InformationOfficerQuerySet:
        """The provider's own officers (rows without a client)."""
        return self.filter(client__isnull=True)


class InformationOfficer(models.Model):
    """An information-handling officer (情報取扱責任者) of a client, or of the provider when
    ``client`` is empty (ACC-02, 004 §35.4–5)."""

    change_rule = Rule.EDITOR

    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="information_officers",
    )
    position = models.PositiveSmallIntegerField(_("position"), choices=OfficerPosition.choices)
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title or department"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InformationOfficerQuerySet.as_manager()

    class Meta:
        ordering = ["client", "position"]
        verbose_name = _("information-handling officer")
        verbose_name_plural = _("information-handling officers")
        constraints = [
            models.UniqueConstraint(fields=["client", "position"], name="unique_officer_position"),
            # NULLs are distinct in a unique index: the provider's own slots need their own.
            models.UniqueConstraint(
                fields=["position"],
                condition=models.Q(client__isnull=True),
                name="unique_provider_officer_position",
            ),
        ]

    def __str__(self) -> str:
        return self.name
