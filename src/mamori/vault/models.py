"""The vault (VLT-01..04): secrets kept for clients, their data keys, and destruction records.

A :class:`Secret` row holds the metadata in plain text and the value sealed under its own data
key (:mod:`mamori.vault.crypto`). The data key, wrapped by a master key, is a :class:`DataKey`
row in the separate ``keystore`` database (:mod:`mamori.vault.router`). Destroying a secret
deletes both its data key and its ciphertext; the row stays, marked destroyed, together with a
:class:`DestructionRecord`, so what existed and when it was destroyed remain on record.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet


class SecretKind(models.TextChoices):
    SERVER_LOGIN = "server_login", _("Server login")
    ADMIN_LOGIN = "admin_login", _("Admin panel login")
    AUTH_CODE = "auth_code", _("Authorization code")
    API_TOKEN = "api_token", _("API token")
    SSH_KEY = "ssh_key", _("SSH key")
    PRIVATE_KEY = "private_key", _("Certificate private key")
    OTHER = "other", _("Other")


class SecretQuerySet(ClientScopedQuerySet):
    def live(self) -> SecretQuerySet:
        return self.filter(destroyed_at__isnull=True)


def new_key_ref() -> str:
    return str(uuid.uuid4())


class Secret(models.Model):
    """A credential or key held for a client. ``sealed_value`` is never shown or logged; only
    :mod:`mamori.vault.services` reads it."""

    change_rule = Rule.STAFF

    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        # A client cannot be deleted while it has secrets: they are destroyed first, on record.
        on_delete=models.PROTECT,
        related_name="secrets",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=SecretKind.choices)
    name = models.CharField(_("name"), max_length=200)
    username = models.CharField(_("user name"), max_length=200, blank=True)
    location = models.CharField(
        _("URL or host"), max_length=500, blank=True, help_text=_("Where the secret is used.")
    )
    notes = models.TextField(
        _("notes"), blank=True, help_text=_("Not encrypted: never put a secret here.")
    )
    site = models.ForeignKey(
        "inventory.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="secrets",
    )
    server = models.ForeignKey(
        "inventory.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="secrets",
    )
    certificate = models.ForeignKey(
        "certificates.Certificate",
        verbose_name=_("certificate"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="secrets",
    )
    # Names the data key row in the keystore; a new one with every new value.
    key_ref = models.CharField(max_length=36, unique=True, default=new_key_ref, editable=False)
    sealed_value = models.BinaryField(default=b"", editable=False)
    is_binary = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    value_changed_at = models.DateTimeField(_("value changed"), null=True, blank=True)
    destroyed_at = models.DateTimeField(_("destroyed"), null=True, blank=True, db_index=True)
    destroyed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("destroyed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = SecretQuerySet.as_manager()

    class Meta:
        ordering = ["client", "kind", "name"]
        verbose_name = _("secret")
        verbose_name_plural = _("secrets")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("secret_detail", args=[self.pk])

    @property
    def is_destroyed(self) -> bool:
        return self.destroyed_at is not None


class DataKey(models.Model):
    """One secret's data key, wrapped by the master key ``master_key_id``. Lives in the
    ``keystore`` database only; deleting the row is what destroys the secret."""

    key_ref = models.CharField(max_length=36, primary_key=True)
    master_key_id = models.CharField(max_length=40, db_index=True)
    wrapped = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("data key")
        verbose_name_plural = _("data keys")

    def __str__(self) -> str:
        return f"{self.key_ref} ({self.master_key_id})"


# How a secret is destroyed (VLT-04). A record stores it in the provider's default language, as
# a document; it is shown in the reader's language (``DestructionRecord.shown_method``).
DESTRUCTION_METHOD = _(
    "Crypto-shredding: the secret's AES-256 data key was erased from the keystore and its "
    "ciphertext deleted; no copy of the key remains from which the value could be recovered."
)


class DestructionRecord(models.Model):
    """What was destroyed, when, by whom, why and how (VLT-03, VLT-04). Never the value."""

    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="destruction_records",
    )
    secret = models.ForeignKey(
        Secret,
        verbose_name=_("secret"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="destruction_records",
    )
    description = models.CharField(_("what was destroyed"), max_length=300)
    destroyed_at = models.DateTimeField(_("destroyed"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("destroyed by"), max_length=150)
    reason = models.TextField(_("reason"))
    method = models.CharField(_("method"), max_length=300)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-destroyed_at", "-pk"]
        verbose_name = _("destruction record")
        verbose_name_plural = _("destruction records")

    def __str__(self) -> str:
        return f"{self.destroyed_at:%Y-%m-%d %H:%M} {self.description}"

    @property
    def shown_description(self) -> str:
        """What was destroyed, in the reader's language while the secret's row remains."""
        if self.secret_id is None:
            return self.description
        return f"{self.secret.get_kind_display()}: {self.secret.name}"

    @property
    def shown_method(self) -> str:
        """The method in the reader's language when it is Mamori's own (stored in whichever
        language was the default then); a method somebody wrote stays as written."""
        ours = set()
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                ours.add(str(DESTRUCTION_METHOD))
        return str(DESTRUCTION_METHOD) if self.method in ours else self.method
