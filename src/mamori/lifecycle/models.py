"""The certificate lifecycle: what Mamori obtains, renews, installs and revokes (CERT-04..13, 15).

A ``ManagedCertificate`` is what should exist: names, key type, issuer (an ACME account, or a
commercial CA handled by hand), how challenges are answered, where it is installed. Everything
Mamori does for it is first recorded as a row with a state, then done, so a crash or a retry never
loses the work or does it twice (the exactly-once rule):

- ``Order``: one attempt to obtain a certificate (ACME order, or a commercial CA application),
  with its ``Challenge`` rows, its ``OrderMessage`` exchanges with the CA and their attachments.
- ``Approval``: the client's instruction for one renewal (CERT-04).
- ``Deployment``: installing one certificate on one ``DeploymentTarget`` (CERT-09).
- ``Revocation``: revoking one certificate (CERT-10); ``RevocationStatus``: what the CA says about
  a served certificate (CERT-11).
- ``Task``: work for a person: re-issue after a change or a compromise (CERT-12), a site seal left
  up (CERT-13); it can wait for the client (CT-09).
- ``Failure``: an open failure of an order, challenge, deployment or check; operators are alerted
  once per failure, and it is shown until it is resolved.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.core import outbound
from mamori.core.fields import LenientDecimalField
from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet
from mamori.core.sentences import shown


class KeyType(models.TextChoices):
    EC256 = "ec256", _("ECDSA P-256")
    EC384 = "ec384", _("ECDSA P-384")
    RSA2048 = "rsa2048", _("RSA 2048")
    RSA3072 = "rsa3072", _("RSA 3072")
    RSA4096 = "rsa4096", _("RSA 4096")


class KeyPolicy(models.TextChoices):
    ROTATE = "rotate", _("New key for every certificate")
    REUSE = "reuse", _("Keep the key across renewals")


class IssuerKind(models.TextChoices):
    ACME = "acme", _("ACME (automatic)")
    MANUAL = "manual", _("Commercial CA (order by hand)")


class ChallengeMethod(models.TextChoices):
    HTTP_WEBROOT = "http-webroot", _("HTTP-01: webroot on the Mamori host")
    HTTP_SSH = "http-ssh", _("HTTP-01: webroot on the managed server (SSH)")
    HTTP_RESPONDER = "http-responder", _("HTTP-01: Mamori answers (the site forwards to it)")
    DNS = "dns", _("DNS-01: DNS provider API")


class RenewalInstruction(models.TextChoices):
    CONTRACT = "", _("As the contract says")
    STANDING = "standing", _("Standing instruction: renew without asking each time")
    APPROVAL = "approval", _("Ask the client to approve each renewal")


class Awaiting(models.TextChoices):
    """What a renewal or task waits for from the client (CERT-05, CT-09)."""

    NOTHING = "", _("Nothing")
    APPROVAL = "approval", _("The client's approval")
    PAYMENT = "payment", _("Payment")
    INFORMATION = "information", _("Information or documents")
    DECISION = "decision", _("A decision")


class WaitingForClient(models.Model):
    """Fields of anything that can wait for the client: what is awaited, since when, why. The time
    counts as the client's delay, not the provider's (CT-09)."""

    awaiting = models.CharField(
        _("waiting for the client"), max_length=20, choices=Awaiting.choices, blank=True
    )
    awaiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    awaiting_note = models.TextField(_("what is awaited"), blank=True)

    class Meta:
        abstract = True

    @property
    def is_waiting(self) -> bool:
        return bool(self.awaiting)


# --- ACME accounts ---------------------------------------------------------------------------


class AcmeAccount(models.Model):
    """An account at an ACME CA, held for one client (the client is the CA's subscriber, 003 §4;
    the account key and any external account binding are the client's and are destroyed with
    the client's other keys at the end of the contract)."""

    change_rule = Rule.STAFF

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="acme_accounts"
    )
    name = models.CharField(_("name"), max_length=100)
    directory_url = models.URLField(_("ACME directory URL"), max_length=500)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    eab_kid = models.CharField(_("external account binding key ID"), max_length=200, blank=True)
    eab_hmac_secret = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("external account binding HMAC key"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    key_type = models.CharField(
        _("account key type"), max_length=10, choices=KeyType.choices, default=KeyType.EC256
    )
    key_secret = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("account key"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    ca_bundle = models.TextField(
        _("trust anchors for the ACME server (PEM)"),
        blank=True,
        help_text=_("Only for a private ACME CA whose HTTPS certificate is not publicly trusted."),
    )
    account_url = models.CharField(_("account URL"), max_length=500, blank=True)
    terms_agreed_at = models.DateTimeField(_("terms of service agreed"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("ACME account")
        verbose_name_plural = _("ACME accounts")
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="unique_acme_account_name")
        ]

    def __str__(self) -> str:
        return self.name


# --- the managed certificate -------------------------------------------------------------------


class ManagedCertificate(WaitingForClient):
    """A certificate Mamori obtains and keeps renewed for a client."""

    change_rule = Rule.STAFF

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="managed_certificates"
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("A short label, unique for the client.")
    )
    names = models.JSONField(
        _("names"), default=list, help_text=_("DNS names; the first is the common name.")
    )
    key_type = models.CharField(
        _("key type"), max_length=10, choices=KeyType.choices, default=KeyType.EC256
    )
    key_policy = models.CharField(
        _("key"), max_length=10, choices=KeyPolicy.choices, default=KeyPolicy.ROTATE
    )
    issuer = models.CharField(
        _("issuer"), max_length=10, choices=IssuerKind.choices, default=IssuerKind.ACME
    )
    acme_account = models.ForeignKey(
        AcmeAccount,
        verbose_name=_("ACME account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificates",
    )
    acme_profile = models.CharField(
        _("ACME profile"),
        max_length=100,
        blank=True,
        help_text=_("Only if the CA offers profiles; empty: the CA's default."),
    )
    ca_name = models.CharField(
        _("certificate authority"),
        max_length=200,
        blank=True,
        help_text=_("For a commercial CA: who issues it (and through which reseller)."),
    )
    product = models.CharField(_("product"), max_length=200, blank=True)
    challenge = models.CharField(
        _("challenge"), max_length=20, choices=ChallengeMethod.choices, blank=True
    )
    challenge_settings = models.JSONField(
        _("challenge settings"),
        default=dict,
        blank=True,
        help_text=_("webroot; server (SSH); dns provider, zone and options; no secrets here."),
    )
    challenge_secret = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("challenge credential"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("DNS API token, or the SSH login for the webroot."),
    )
    renewal_instruction = models.CharField(
        _("renewal instruction"),
        max_length=10,
        choices=RenewalInstruction.choices,
        blank=True,
    )
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_certificates",
    )
    enabled = models.BooleanField(_("renewed automatically"), default=True)

    # What exists now, written by the lifecycle engine.
    certificate = models.ForeignKey(
        "certificates.Certificate",
        verbose_name=_("current certificate"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_by",
    )
    chain_pem = models.TextField(_("chain"), blank=True)
    key_secret = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("private key"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    renew_at = models.DateTimeField(_("renew from"), null=True, blank=True, db_index=True)
    renewal_source = models.CharField(
        _("renewal time from"),
        max_length=10,
        blank=True,
        help_text=_("'ari' (the CA's renewal information) or 'lifetime'."),
    )
    ari_window_start = models.DateTimeField(null=True, blank=True)
    ari_window_end = models.DateTimeField(null=True, blank=True)
    ari_next_check_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        _("next attempt"), null=True, blank=True, help_text=_("Set while backing off.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("managed certificate")
        verbose_name_plural = _("managed certificates")
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="unique_managed_cert_name")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("managed_detail", args=[self.pk])

    def clean(self) -> None:
        """A webroot is an absolute path written out in full; on the Mamori host it lies under
        ``MAMORI_DEPLOY_ROOTS`` like a local deployment target's files (the form, the API and
        the import file all reach this through ``full_clean()``)."""
        from mamori.lifecycle import targets

        settings_ = self.challenge_settings if isinstance(self.challenge_settings, dict) else {}
        webroot = settings_.get("webroot")
        if self.challenge not in (ChallengeMethod.HTTP_WEBROOT, ChallengeMethod.HTTP_SSH):
            return
        if webroot is None or webroot == "":
            return  # said by the form; the solver refuses to run without one
        if not isinstance(webroot, str):
            problem = _("Give the webroot as a path, e.g. /var/www/html.")
        elif self.challenge == ChallengeMethod.HTTP_WEBROOT:
            problem = targets.local_path_problem(webroot, directory=True)
        else:
            problem = targets.path_syntax_problem(webroot, directory=True)
        if problem:
            raise ValidationError({"challenge_settings": f"webroot: {problem}"})

    @property
    def common_name(self) -> str:
        return self.names[0] if self.names else ""

    def effective_instruction(self) -> str:
        """``standing`` or ``approval``: this certificate's, else its contract's, else the
        client's SSL management contract's, else ``approval`` (never renew unasked, CERT-04)."""
        if self.renewal_instruction:
            return self.renewal_instruction
        contract = self.contract
        if contract is None:
            from mamori.clients.models import Contract, ContractType

            contract = (
                Contract.objects.filter(client_id=self.client_id, type=ContractType.SSL_MANAGEMENT)
                .order_by("-start")
                .first()
            )
        return contract.renewal_policy if contract is not None else RenewalInstruction.APPROVAL


# --- the client's instruction ----------------------------------------------------------------


class ApprovalState(models.TextChoices):
    REQUESTED = "requested", _("Asked, waiting for the client")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    USED = "used", _("Approved and ordered")
    WITHDRAWN = "withdrawn", _("No longer needed")


class ApprovalChannel(models.TextChoices):
    PORTAL = "portal", _("Portal")
    API = "api", _("API")
    PHONE = "phone", _("Telephone")
    LETTER = "letter", _("Letter")
    EMAIL = "email", _("E-mail")
    MEETING = "meeting", _("Meeting")


OPEN_APPROVAL_STATES = [ApprovalState.REQUESTED, ApprovalState.APPROVED]


class ApprovalQuerySet(ClientScopedQuerySet):
    client_lookup = "managed__client"


class Approval(models.Model):
    """The client's yes (or no) to one renewal (CERT-04). Approved by a client admin in the portal
    or API, or recorded by an operator with who gave it, when and how."""

    managed = models.ForeignKey(
        ManagedCertificate, on_delete=models.CASCADE, related_name="approvals"
    )
    renewal_of = models.ForeignKey(
        "certificates.Certificate",
        verbose_name=_("certificate to renew"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    state = models.CharField(
        _("state"), max_length=10, choices=ApprovalState.choices, default=ApprovalState.REQUESTED
    )
    requested_at = models.DateTimeField(_("asked"), default=timezone.now)
    reminders = models.JSONField(
        _("reminders sent"), default=list, blank=True, help_text=_("Days-left thresholds.")
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    given_by = models.CharField(
        _("given by"), max_length=200, blank=True, help_text=_("The client's person who said so.")
    )
    channel = models.CharField(_("how"), max_length=10, choices=ApprovalChannel.choices, blank=True)
    note = models.TextField(_("note"), blank=True)

    objects = ApprovalQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("renewal approval")
        verbose_name_plural = _("renewal approvals")
        constraints = [
            models.UniqueConstraint(
                fields=["managed"],
                condition=models.Q(state__in=["requested", "approved"]),
                name="one_open_approval_per_certificate",
            )
        ]

    def __str__(self) -> str:
        return f"{self.managed}: {self.get_state_display()}"


# --- orders ----------------------------------------------------------------------------------


class OrderPurpose(models.TextChoices):
    ISSUE = "issue", _("First issue")
    RENEW = "renew", _("Renewal")
    REISSUE = "reissue", _("Re-issue")


class OrderState(models.TextChoices):
    NEW = "new", _("Recorded, not yet sent")
    PLACED = "placed", _("Order placed")
    AUTHORIZING = "authorizing", _("Proving control of the names")
    FINALIZING = "finalizing", _("Waiting for the certificate")
    APPLIED = "applied", _("Application sent")
    UNDER_REVIEW = "under_review", _("Under review by the CA")
    ISSUED = "issued", _("Issued")
    REJECTED = "rejected", _("Rejected by the CA")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


OPEN_ORDER_STATES = [
    OrderState.NEW,
    OrderState.PLACED,
    OrderState.AUTHORIZING,
    OrderState.FINALIZING,
    OrderState.APPLIED,
    OrderState.UNDER_REVIEW,
]


class OrderQuerySet(ClientScopedQuerySet):
    client_lookup = "managed__client"

    def open(self) -> OrderQuerySet:
        return self.filter(state__in=OPEN_ORDER_STATES)


class Order(models.Model):
    """One attempt to obtain a certificate. At most one is open per managed certificate, so a
    certificate is never ordered twice at once."""

    change_rule = Rule.STAFF

    managed = models.ForeignKey(ManagedCertificate, on_delete=models.CASCADE, related_name="orders")
    purpose = models.CharField(_("purpose"), max_length=10, choices=OrderPurpose.choices)
    issuer = models.CharField(_("issuer"), max_length=10, choices=IssuerKind.choices)
    state = models.CharField(
        _("state"), max_length=15, choices=OrderState.choices, default=OrderState.NEW
    )
    names = models.JSONField(_("names"), default=list)
    key_type = models.CharField(_("key type"), max_length=10, choices=KeyType.choices)
    key_secret = models.ForeignKey(
        "vault.Secret",
        verbose_name=_("private key"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    csr_pem = models.TextField(_("certificate signing request"), blank=True)
    approval = models.ForeignKey(
        Approval, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    replaces = models.ForeignKey(
        "certificates.Certificate",
        verbose_name=_("replaces"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # ACME
    acme_account = models.ForeignKey(
        AcmeAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    profile = models.CharField(_("ACME profile"), max_length=100, blank=True)
    order_url = models.CharField(_("order URL"), max_length=500, blank=True)
    finalize_url = models.CharField(max_length=500, blank=True)
    certificate_url = models.CharField(max_length=500, blank=True)
    # Commercial CA
    ca_reference = models.CharField(_("CA order number"), max_length=200, blank=True)
    documents_destroyed_at = models.DateTimeField(
        _("submitted documents destroyed"), null=True, blank=True
    )
    # Outcome
    certificate = models.ForeignKey(
        "certificates.Certificate",
        verbose_name=_("certificate"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    chain_pem = models.TextField(_("chain"), blank=True)
    error_type = models.CharField(_("error"), max_length=200, blank=True)
    error_detail = models.TextField(_("error detail"), blank=True)
    rate_limited_until = models.DateTimeField(_("rate limited until"), null=True, blank=True)
    # Work bookkeeping: one worker at a time, retries on a back-off.
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # CERT-15: what the CA charged, passed to billing as the client's cost.
    fee_amount = LenientDecimalField(
        _("CA fee"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    fee_currency = models.CharField(_("currency"), max_length=3, default="JPY")
    fee_note = models.CharField(_("fee note"), max_length=300, blank=True)
    fee_recorded_at = models.DateTimeField(_("fee recorded"), null=True, blank=True)
    fee_billed_at = models.DateTimeField(_("billed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("ordered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(
                fields=["managed"],
                condition=models.Q(state__in=[str(s) for s in OPEN_ORDER_STATES]),
                name="one_open_order_per_certificate",
            )
        ]

    def __str__(self) -> str:
        # Language-neutral: it is stored in the audit trail as the object's name.
        return f"{self.managed} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("order_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_ORDER_STATES


class ChallengeState(models.TextChoices):
    PENDING = "pending", _("Not yet presented")
    PRESENTED = "presented", _("Presented")
    ANSWERED = "answered", _("Sent to the CA")
    VALID = "valid", _("Validated")
    INVALID = "invalid", _("Failed")


class ChallengeQuerySet(ClientScopedQuerySet):
    client_lookup = "order__managed__client"


class Challenge(models.Model):
    """One authorization of an ACME order and the challenge Mamori answers for it. ``cleaned_at``
    is set once the token file or DNS record is removed, whatever the outcome."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="challenges")
    identifier = models.CharField(_("name"), max_length=253)
    authorization_url = models.CharField(max_length=500)
    challenge_type = models.CharField(_("type"), max_length=20)
    challenge_url = models.CharField(max_length=500, blank=True)
    token = models.CharField(max_length=200, blank=True, db_index=True)
    validation = models.TextField(
        blank=True, help_text=_("Key authorization (HTTP-01) or TXT value (DNS-01).")
    )
    location = models.CharField(
        _("where"), max_length=500, blank=True, help_text=_("File path or DNS record name.")
    )
    state = models.CharField(
        _("state"), max_length=10, choices=ChallengeState.choices, default=ChallengeState.PENDING
    )
    presented_at = models.DateTimeField(null=True, blank=True)
    cleaned_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    objects = ChallengeQuerySet.as_manager()

    class Meta:
        ordering = ["order", "identifier"]
        verbose_name = _("challenge")
        verbose_name_plural = _("challenges")

    def __str__(self) -> str:
        return f"{self.challenge_type} {self.identifier}"


class MessageDirection(models.TextChoices):
    SENT = "sent", _("Sent to the CA")
    RECEIVED = "received", _("Received from the CA")
    NOTE = "note", _("Note")


class OrderMessageQuerySet(ClientScopedQuerySet):
    client_lookup = "order__managed__client"


class OrderMessage(models.Model):
    """An exchange with the CA about an order (CERT-08)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(_("direction"), max_length=10, choices=MessageDirection.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    counterpart = models.CharField(_("with"), max_length=200, blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("content"), blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = OrderMessageQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("exchange with the CA")
        verbose_name_plural = _("exchanges with the CA")

    def __str__(self) -> str:
        return self.subject


class AttachmentQuerySet(ClientScopedQuerySet):
    client_lookup = "message__order__managed__client"


class OrderAttachment(models.Model):
    """A document sent to or received from the CA; its content is encrypted in the vault (it may
    hold personal or company information) and is destroyed when the application is rejected."""

    message = models.ForeignKey(OrderMessage, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    secret = models.ForeignKey(
        "vault.Secret", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    destroyed_at = models.DateTimeField(_("destroyed"), null=True, blank=True)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["message", "filename"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


# --- deployment ------------------------------------------------------------------------------


class TargetKind(models.TextChoices):
    LOCAL = "local", _("Files on the Mamori host")
    SSH = "ssh", _("Files on a server, over SSH")


class TargetQuerySet(ClientScopedQuerySet):
    client_lookup = "managed__client"


class DeploymentTarget(models.Model):
    """Where a managed certificate is installed, and the endpoint that proves it is served."""

    change_rule = Rule.STAFF

    managed = models.ForeignKey(
        ManagedCertificate, on_delete=models.CASCADE, related_name="targets"
    )
    name = models.CharField(_("name"), max_length=100)
    endpoint = models.ForeignKey(
        "inventory.Endpoint",
        verbose_name=_("endpoint to verify"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deployment_targets",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=TargetKind.choices)
    server = models.ForeignKey(
        "inventory.Server",
        verbose_name=_("server"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deployment_targets",
    )
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
        help_text=_("A private key or a password, from the vault."),
    )
    ssh_host_key = models.TextField(
        _("SSH host key"),
        blank=True,
        help_text=_("The server's public host key (known_hosts line); required for SSH."),
    )
    cert_path = models.CharField(_("certificate file"), max_length=500, blank=True)
    chain_path = models.CharField(_("chain file"), max_length=500, blank=True)
    fullchain_path = models.CharField(_("certificate + chain file"), max_length=500, blank=True)
    key_path = models.CharField(_("private key file"), max_length=500)
    owner = models.CharField(_("file owner"), max_length=100, blank=True)
    group = models.CharField(_("file group"), max_length=100, blank=True)
    cert_mode = models.CharField(_("certificate file mode"), max_length=4, default="0644")
    key_mode = models.CharField(_("key file mode"), max_length=4, default="0600")
    reload_command = models.CharField(_("reload command"), max_length=500, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    objects = TargetQuerySet.as_manager()

    class Meta:
        ordering = ["managed", "name"]
        verbose_name = _("deployment target")
        verbose_name_plural = _("deployment targets")
        constraints = [
            models.UniqueConstraint(fields=["managed", "name"], name="unique_target_name")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The rules of a valid target (:func:`mamori.lifecycle.targets.problems`): the form,
        the API and the import file all reach them through ``full_clean()``."""
        from mamori.lifecycle import targets

        found = targets.problems(self)
        if found:
            raise ValidationError(found)


# The steps a deployment logs (mamori.lifecycle.deploy), by the code in its log.
DEPLOYMENT_STEPS = {
    "queued": pgettext_lazy("deployment step", "Queued"),
    "start": pgettext_lazy("deployment step", "Started"),
    "resume": pgettext_lazy("deployment step", "Resumed"),
    "write": pgettext_lazy("deployment step", "File written"),
    "reload": pgettext_lazy("deployment step", "Reloaded"),
    "verify": pgettext_lazy("deployment step", "Verified"),
    "installed": pgettext_lazy("deployment step", "Installed"),
    "failed": pgettext_lazy("deployment step", "Failed"),
    "restore": pgettext_lazy("deployment step", "Restored"),
    "restore failed": pgettext_lazy("deployment step", "Restore failed"),
    "reload failed": pgettext_lazy("deployment step", "Reload failed"),
    "rolled back": pgettext_lazy("deployment step", "Rolled back"),
    "gave up": pgettext_lazy("deployment step", "Gave up"),
}


class DeploymentState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    INSTALLING = "installing", _("Installing")
    VERIFYING = "verifying", _("Checking what is served")
    SUCCEEDED = "succeeded", _("Installed and served")
    ROLLED_BACK = "rolled_back", _("Failed; previous certificate restored")
    FAILED = "failed", _("Failed")


OPEN_DEPLOYMENT_STATES = [
    DeploymentState.PENDING,
    DeploymentState.INSTALLING,
    DeploymentState.VERIFYING,
]


class DeploymentQuerySet(ClientScopedQuerySet):
    client_lookup = "target__managed__client"


class Deployment(models.Model):
    """Installing one certificate on one target: recorded before it starts, so a crash leaves a
    row that the next pass finishes or rolls back."""

    change_rule = Rule.STAFF

    target = models.ForeignKey(
        DeploymentTarget, on_delete=models.CASCADE, related_name="deployments"
    )
    certificate = models.ForeignKey(
        "certificates.Certificate", on_delete=models.PROTECT, related_name="deployments"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployments"
    )
    state = models.CharField(
        _("state"),
        max_length=12,
        choices=DeploymentState.choices,
        default=DeploymentState.PENDING,
    )
    backup = models.JSONField(
        _("previous files"), default=dict, blank=True, help_text=_("Path → where it was kept.")
    )
    log = models.JSONField(_("steps"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        constraints = [
            models.UniqueConstraint(
                fields=["target"],
                condition=models.Q(state__in=["pending", "installing", "verifying"]),
                name="one_open_deployment_per_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.target} ← {self.certificate}"

    @property
    def steps(self) -> list[dict]:
        """The log's entries, each with its step's name in the reader's language."""
        return [
            {**entry, "label": str(DEPLOYMENT_STEPS.get(entry.get("step"), entry.get("step")))}
            for entry in self.log
        ]


# --- revocation ------------------------------------------------------------------------------


class RevocationReason(models.IntegerChoices):
    """RFC 5280 §5.3.1 reasons a subscriber may give (the ones ACME CAs accept)."""

    UNSPECIFIED = 0, _("Unspecified")
    KEY_COMPROMISE = 1, _("Key compromise")
    AFFILIATION_CHANGED = 3, _("Affiliation changed")
    SUPERSEDED = 4, _("Superseded")
    CESSATION_OF_OPERATION = 5, _("Cessation of operation")


class RevocationState(models.TextChoices):
    PENDING = "pending", _("Recorded, not yet sent")
    DONE = "done", _("Revoked")
    FAILED = "failed", _("Failed")


class RevocationQuerySet(ClientScopedQuerySet):
    client_lookup = "client"

    def in_force(self, *, done: bool = False) -> RevocationQuerySet:
        """Revocations revoked or under way (only revoked ones with ``done``)."""
        if done:
            return self.filter(state=RevocationState.DONE)
        return self.filter(state__in=[RevocationState.DONE, RevocationState.PENDING])


class Revocation(models.Model):
    """Revoking a certificate (CERT-10): reason, who asked and when (003 §11.7)."""

    change_rule = Rule.STAFF

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    certificate = models.ForeignKey(
        "certificates.Certificate", on_delete=models.PROTECT, related_name="revocations"
    )
    managed = models.ForeignKey(
        ManagedCertificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.PositiveSmallIntegerField(_("reason"), choices=RevocationReason.choices)
    requested_by = models.CharField(_("asked by"), max_length=200)
    requested_at = models.DateTimeField(_("asked at"))
    method = models.CharField(
        _("how"), max_length=10, choices=IssuerKind.choices, default=IssuerKind.ACME
    )
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=RevocationState.choices,
        default=RevocationState.PENDING,
    )
    ca_reference = models.CharField(_("CA reference"), max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    reissue = models.BooleanField(_("re-issue a replacement"), default=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)
    done_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = RevocationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("revocation")
        verbose_name_plural = _("revocations")
        constraints = [
            models.UniqueConstraint(
                fields=["certificate"],
                condition=models.Q(state__in=["pending", "done"]),
                name="one_revocation_per_certificate",
            )
        ]

    def __str__(self) -> str:
        return f"{self.certificate}: {self.get_reason_display()}"

    def summary(self) -> str:
        """What happened to the certificate and what happens next, in one sentence (the
        status on the command line, the certificate's pages)."""
        from django.utils.translation import gettext

        when = timezone.localtime(self.done_at or self.created_at).strftime("%Y-%m-%d")
        values = {"date": when, "reason": self.get_reason_display()}
        if self.state == RevocationState.DONE:
            text = gettext("Revoked on %(date)s (%(reason)s).") % values
        elif self.state == RevocationState.PENDING:
            text = (
                gettext(
                    "Revocation recorded on %(date)s (%(reason)s), not yet confirmed by the CA."
                )
                % values
            )
        else:
            text = gettext("The revocation asked for on %(date)s failed: %(error)s") % {
                **values,
                "error": self.error or "-",
            }
            return text
        if self.reissue:
            text += " " + gettext("A re-issue was ordered.")
        else:
            text += " " + gettext("No re-issue ordered.")
        return text + " " + gettext("Endpoints still serving it are reported.")


class RevocationStatusValue(models.TextChoices):
    UNKNOWN = "unknown", _("Not known")
    GOOD = "good", _("Not revoked")
    REVOKED = "revoked", _("Revoked")


class RevocationStatusQuerySet(ClientScopedQuerySet):
    client_lookup = "certificate__sightings__endpoint__client"
    client_lookup_is_multi = True


class RevocationStatus(models.Model):
    """What the CA says about a served certificate, by OCSP or CRL (CERT-11)."""

    certificate = models.OneToOneField(
        "certificates.Certificate", on_delete=models.CASCADE, related_name="revocation_status"
    )
    status = models.CharField(
        _("revocation status"),
        max_length=10,
        choices=RevocationStatusValue.choices,
        default=RevocationStatusValue.UNKNOWN,
    )
    source = models.CharField(_("source"), max_length=10, blank=True)  # ocsp / crl
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=40, blank=True)
    checked_at = models.DateTimeField(_("checked"), null=True, blank=True)
    next_check_at = models.DateTimeField(default=timezone.now, db_index=True)
    error = models.TextField(_("error"), blank=True)

    objects = RevocationStatusQuerySet.as_manager()

    class Meta:
        verbose_name = _("revocation status")
        verbose_name_plural = _("revocation statuses")

    def __str__(self) -> str:
        return f"{self.certificate}: {self.get_status_display()}"


# --- tasks for people ------------------------------------------------------------------------


class TaskKind(models.TextChoices):
    REISSUE = "reissue", _("Revoke and re-issue")
    SEAL = "seal", _("Remove the site seal")
    APPROVAL = "approval", _("Renewal waiting for the client")
    OTHER = "other", _("Other")


class TaskState(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELED = "canceled", _("Canceled")


class TaskQuerySet(ClientScopedQuerySet):
    def open(self) -> TaskQuerySet:
        return self.filter(state=TaskState.OPEN)


class Task(WaitingForClient):
    """Work for a person. ``key`` makes opening a task idempotent (the same cause opens it once)."""

    change_rule = Rule.STAFF

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(_("kind"), max_length=10, choices=TaskKind.choices)
    key = models.CharField(_("cause"), max_length=200, unique=True)
    # As written when opened (for search and for tasks opened before ``texts``); people read
    # ``shown_title`` and ``shown_description``, made from ``texts`` in their language.
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    texts = models.JSONField(default=dict, blank=True)
    managed = models.ForeignKey(
        ManagedCertificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    certificate = models.ForeignKey(
        "certificates.Certificate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    site = models.ForeignKey(
        "inventory.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    state = models.CharField(
        _("state"), max_length=10, choices=TaskState.choices, default=TaskState.OPEN
    )
    created_at = models.DateTimeField(_("opened"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.TextField(_("resolution"), blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["state", "-created_at", "-id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")

    def __str__(self) -> str:
        # Language-neutral: it is stored in the audit trail as the object's name.
        return f"#{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("task_detail", args=[self.pk])

    @property
    def shown_title(self) -> str:
        return shown(self.texts.get("title"), self.title)

    @property
    def shown_description(self) -> str:
        return shown(self.texts.get("description"), self.description)


class ClientChangeField(models.TextChoices):
    NAME = "name", _("Legal name")
    ADDRESS = "address", _("Address")
    REPRESENTATIVE = "representative", _("Representative")
    MERGER = "merger", _("Succession by merger")


class ClientChange(models.Model):
    """A change of the client's particulars, with its date (CT-10); one that changes what its
    certificates say opens a revoke-and-re-issue task (CERT-12)."""

    change_rule = Rule.STAFF

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(_("what changed"), max_length=20, choices=ClientChangeField.choices)
    old_value = models.CharField(_("before"), max_length=300, blank=True)
    new_value = models.CharField(_("after"), max_length=300)
    effective_on = models.DateField(_("effective"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_on", "-id"]
        verbose_name = _("change of particulars")
        verbose_name_plural = _("changes of particulars")

    def __str__(self) -> str:
        return f"{self.get_field_display()}: {self.new_value}"


class SiteSealQuerySet(ClientScopedQuerySet):
    client_lookup = "site__client"


class SiteSeal(models.Model):
    """A CA's site seal shown on a site (CERT-13)."""

    site = models.ForeignKey("inventory.Site", on_delete=models.CASCADE, related_name="seals")
    ca_name = models.CharField(_("certificate authority"), max_length=200)
    page_url = models.URLField(_("page showing the seal"), max_length=500)
    marker = models.CharField(
        _("seal marker"),
        max_length=500,
        help_text=_("Text in the page's HTML that shows the seal (e.g. the seal script's URL)."),
    )
    certificate = models.ForeignKey(
        "certificates.Certificate",
        verbose_name=_("certificate it vouches for"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    last_present = models.BooleanField(_("seal seen"), null=True)
    last_error = models.TextField(blank=True)
    next_check_at = models.DateTimeField(default=timezone.now)

    objects = SiteSealQuerySet.as_manager()

    class Meta:
        ordering = ["site", "ca_name"]
        verbose_name = _("site seal")
        verbose_name_plural = _("site seals")

    def __str__(self) -> str:
        return f"{self.ca_name} @ {self.site}"

    def clean(self) -> None:
        # The page is fetched from Mamori: not on the provider's own network (the fetch checks
        # the address it connects to as well, for names that resolve to one).
        host = urlsplit(self.page_url or "").hostname or ""
        kind = outbound.policy().refuses_literal(host) if host else None
        if kind is not None:
            raise ValidationError(
                {
                    "page_url": _(
                        "%(host)s is a %(kind)s address. Mamori fetches only pages on public "
                        "addresses."
                    )
                    % {"host": host, "kind": outbound.kind_label(kind)}
                }
            )


# --- failures --------------------------------------------------------------------------------


class FailureKind(models.TextChoices):
    ORDER = "order", _("Order failed")
    CHALLENGE = "challenge", _("Challenge failed")
    RATE_LIMIT = "rate_limit", _("Rate limited by the CA")
    DEPLOYMENT = "deployment", _("Deployment failed")
    REVOCATION = "revocation", _("Revocation failed")
    REVOCATION_CHECK = "revocation_check", _("Revocation status could not be checked")
    SEAL_CHECK = "seal_check", _("Site seal could not be checked")
    OVERDUE = "overdue", _("Renewal overdue")


class FailureQuerySet(ClientScopedQuerySet):
    def open(self) -> FailureQuerySet:
        return self.filter(resolved_at__isnull=True)


class Failure(models.Model):
    """An open failure: shown on the certificate page and the dashboard until resolved; operators
    are alerted once when it opens (not at every retry)."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=FailureKind.choices)
    subject = models.CharField(
        max_length=200, help_text=_("What failed, e.g. 'managed:12' or 'target:3'.")
    )
    managed = models.ForeignKey(
        ManagedCertificate,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="failures",
    )
    certificate = models.ForeignKey(
        "certificates.Certificate",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # As written (in the language active then); people read ``shown_message``: from ``texts``
    # in their language when Mamori wrote the sentence itself.
    message = models.TextField(_("what happened"))
    texts = models.JSONField(default=dict, blank=True)
    first_at = models.DateTimeField(_("since"), default=timezone.now)
    last_at = models.DateTimeField(_("last"), default=timezone.now)
    count = models.PositiveIntegerField(_("times"), default=1)
    next_retry_at = models.DateTimeField(_("next retry"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    objects = FailureQuerySet.as_manager()

    class Meta:
        ordering = ["-last_at", "-id"]
        verbose_name = _("failure")
        verbose_name_plural = _("failures")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_failure_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message[:80]}"

    @property
    def shown_message(self) -> str:
        return shown(self.texts.get("message"), self.message)
