"""The notice outbox and evidence log (NOT-01, NOT-02).

A notice is a row before it is a message: the row is created with a unique idempotency key
(event, recipient, channel), so making the same notice twice (a retry, a second worker, a
restart) finds the existing row instead. A sender claims a row with a conditional UPDATE before
sending, records the outcome on it, and the row stays as the record of what was sent to whom,
when, with what content and result.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.clients.models import validate_topics
from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SLACK = "slack", _("Slack")
    TEAMS = "teams", _("Microsoft Teams (workflow)")
    DISCORD = "discord", _("Discord")
    LINE = "line", _("LINE")
    WEBHOOK = "webhook", _("JSON webhook")
    CHATWORK = "chatwork", _("Chatwork")


# Every channel but e-mail: a chat room or webhook (NOT-03).
CHAT_CHANNELS = [c for c in Channel if c != Channel.EMAIL]


class NoticeState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    RETRY = "retry", _("Failed, will retry")
    FAILED = "failed", _("Failed")


class NoticeKind(models.TextChoices):
    CERT_EXPIRING = "cert_expiring", _("Certificate expiring")
    ENDPOINT_PROBLEM = "endpoint_problem", _("Certificate or endpoint problem")
    ENDPOINT_RECOVERED = "endpoint_recovered", _("Problem resolved")
    CERT_REPLACED = "cert_replaced", _("Certificate replaced")
    DELIVERY_FAILED = "delivery_failed", _("Notice could not be delivered")
    APPROVAL_REQUESTED = "approval_requested", _("Renewal approval requested")
    APPROVAL_REMINDER = "approval_reminder", _("Renewal approval reminder")
    RENEWAL_ON_HOLD = "renewal_on_hold", _("Renewal waiting for the client")
    CERT_INSTALLED = "cert_installed", _("Certificate renewed and installed")
    CERT_REVOKED = "cert_revoked", _("Certificate revoked")
    LIFECYCLE_FAILURE = "lifecycle_failure", _("Certificate work failed")
    TASK_OPENED = "task_opened", _("Task opened")
    CHANNEL_TEST = "channel_test", _("Test message")
    INCIDENT_OPENED = "incident_opened", _("Incident")
    INCIDENT_RECOVERED = "incident_recovered", _("Incident recovered")
    MAINTENANCE_PLANNED = "maintenance_planned", _("Planned maintenance")
    MONITORING_OUTAGE = "monitoring_outage", _("Mamori's own network outage")
    DOMAIN_EXPIRING = "domain_expiring", _("Domain registration expiring")
    CONTRACT_NOTICE_DEADLINE = "contract_notice_deadline", _("Contract notice deadline")
    INVOICE_ISSUED = "invoice_issued", _("Invoice issued")
    REQUEST_RECEIVED = "request_received", _("Request received")
    REQUEST_NEW = "request_new", _("New request")
    REQUEST_REPLY = "request_reply", _("Reply to a request")
    REQUEST_SUSPENDED = "request_suspended", _("Request suspended")
    DESK_DUE = "desk_due", _("Request target due soon")
    DESK_UNANSWERED = "desk_unanswered", _("Question to the client unanswered")
    ESTIMATE_ISSUED = "estimate_issued", _("Estimate")
    DATA_INCIDENT = "data_incident", _("Personal data incident")
    SOFTWARE_ACCOUNTS = "software_accounts", _("Server accounts or SSH keys changed")
    SOFTWARE_EOL = "software_eol", _("Software end of life ahead")
    BACKUP_FAILED = "backup_failed", _("Backup failed")
    VULNERABILITY_FOUND = "vulnerability_found", _("Vulnerabilities found")
    UPDATE_PERFORMED = "update_performed", _("Update performed")
    ANNOUNCEMENT = "announcement", _("Announcement")
    MONTHLY_REPORT = "monthly_report", _("Monthly report")


class RecipientKind(models.TextChoices):
    CONTACT = "contact", _("Client contact")
    OPERATOR = "operator", _("Operator")


class NoticeQuerySet(ClientScopedQuerySet):
    def visible_to(self, user):  # type: ignore[override]
        qs = super().visible_to(user)
        # Client users see the notices sent to their side, never the provider's internal ones.
        if not user.is_provider_staff:
            qs = qs.filter(recipient_kind=RecipientKind.CONTACT)
        return qs

    def due(self, now=None):
        now = now or timezone.now()
        return self.filter(
            state__in=[NoticeState.PENDING, NoticeState.RETRY], next_attempt_at__lte=now
        )


class Notice(models.Model):
    key = models.CharField(_("idempotency key"), max_length=255, unique=True)
    kind = models.CharField(_("kind"), max_length=30, choices=NoticeKind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # Where a chat notice goes: "contact-channel:<pk>" or "operators:<digest of the URL>".
    target = models.CharField(max_length=80, blank=True)
    contact_channel = models.ForeignKey(
        "notices.ContactChannel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    recipient_kind = models.CharField(max_length=10, choices=RecipientKind.choices)
    contact = models.ForeignKey(
        "clients.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient = models.CharField(_("recipient"), max_length=254)
    language = models.CharField(_("language"), max_length=2)
    subject = models.CharField(_("subject"), max_length=300)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML"), blank=True)
    endpoint = models.ForeignKey(
        "inventory.Endpoint",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    certificate = models.ForeignKey(
        "certificates.Certificate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    event = models.ForeignKey(
        "certificates.CertificateEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    incident = models.ForeignKey(
        "monitoring.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    maintenance_window = models.ForeignKey(
        "monitoring.MaintenanceWindow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    request = models.ForeignKey(
        "desk.Request",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    # Extra e-mail headers of this notice: In-Reply-To and References that thread a reply into
    # the client's conversation, Reply-To the desk's address (mamori.desk).
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    # Files an e-mail carries, made when it is sent by the maker registered for each ``kind``
    # (mamori.notices.services.register_attachment), e.g. [{"kind": "invoice_pdf", "invoice": 7}]
    # for an invoice's PDF in the notice's language. The outbox keeps what to attach, not the
    # bytes: the thing attached (an issued invoice) never changes.
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=NoticeState.choices, default=NoticeState.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    message_id = models.CharField(_("message id"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient}"


class ContactChannel(models.Model):
    """A chat room or webhook where a client contact receives notices (NOT-03).

    The webhook URL or API token is a vault secret of the client (``secret``): it is never
    stored in plain text, shown or logged. A Chatwork room id is not secret (``room_id``).
    """

    change_rule = Rule.EDITOR

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="contact_channels"
    )
    contact = models.ForeignKey(
        "clients.Contact", on_delete=models.CASCADE, related_name="channels"
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=[(c.value, c.label) for c in CHAT_CHANNELS]
    )
    label = models.CharField(_("label"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    topics = models.JSONField(
        _("receives"),
        default=list,
        blank=True,
        validators=[validate_topics],
        help_text=_("Notice topics sent to this channel."),
    )
    room_id = models.CharField(_("Chatwork room id"), max_length=20, blank=True)
    allow_private_address = models.BooleanField(
        _("allow a private address"),
        default=False,
        help_text=_(
            "Send to this channel even if its webhook is, or resolves to, a loopback, private or "
            "link-local address. Only the provider's administrators and operators may set it."
        ),
    )
    # None once the channel is removed (the secret is destroyed then) or in metadata-only rows.
    secret = models.ForeignKey(
        "vault.Secret", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["contact", "label", "pk"]
        verbose_name = _("contact channel")
        verbose_name_plural = _("contact channels")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.label}"

    @property
    def target(self) -> str:
        return f"contact-channel:{self.pk}"
