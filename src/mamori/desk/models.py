"""The work desk (MNT-03..05, CT-09, NOT-05, ACC-04): client requests and the work on them, each
contract's free-work catalogue, support hours on Japanese business days, the provider's closed
days, and personal-data incidents.

Estimates (見積書) are money documents and live with the invoices (``billing.Estimate``).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.clients.models import code_validator
from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet

# --- the free-work catalogue (MNT-03, MNT-04) ----------------------------------------------------


class Scope(models.TextChoices):
    """Whether work is covered by the contract's fee."""

    UNCLASSIFIED = "unclassified", _("Not yet classified")
    IN_SCOPE = "in_scope", _("In scope (no charge)")
    OUT_OF_SCOPE = "out_of_scope", _("Out of scope (estimate first)")


class CatalogueItemQuerySet(ClientScopedQuerySet):
    client_lookup = "contract__client"


class CatalogueItem(models.Model):
    """One kind of work a contract names: free work of its catalogue (001 §3(3), 002 §3(8),
    004 §5), with a monthly limit where the contract sets one, or a kind of work it excludes
    (001 §4, 002 §4, §9) that needs an estimate. ``keywords`` (Japanese and English words, one
    per line) let Mamori propose the item for a request; an operator decides."""

    change_rule = Rule.STAFF
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="catalogue",
    )
    scope = models.CharField(
        _("scope"),
        max_length=12,
        choices=[
            (Scope.IN_SCOPE, Scope.IN_SCOPE.label),
            (Scope.OUT_OF_SCOPE, Scope.OUT_OF_SCOPE.label),
        ],
    )
    code = models.CharField(_("code"), max_length=40, validators=[code_validator])
    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    keywords = models.TextField(
        _("keywords"), blank=True, help_text=_("One word or phrase per line.")
    )
    monthly_limit = models.PositiveSmallIntegerField(
        _("requests per month"),
        null=True,
        blank=True,
        help_text=_("Empty: no limit."),
    )
    clause = models.CharField(_("contract clause"), max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = CatalogueItemQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "scope", "code"]
        verbose_name = _("catalogue item")
        verbose_name_plural = _("catalogue items")
        constraints = [
            models.UniqueConstraint(fields=["contract", "code"], name="unique_catalogue_code")
        ]

    def __str__(self) -> str:
        return self.display_name()

    def display_name(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        lang = (language or get_language() or "ja")[:2]
        return (self.name_ja if lang == "ja" else self.name_en) or self.name_en or self.code

    def keyword_list(self) -> list[str]:
        """The keywords, one per line, as written."""
        return [line.strip() for line in self.keywords.splitlines() if line.strip()]

    def clean(self) -> None:
        """The rules of an item, the same for its pages, the API and the import
        (:mod:`mamori.desk.catalogue`): keywords one per line (blank lines and repeats dropped),
        a monthly limit only on free work, and at least one request when set."""
        from mamori.desk.catalogue import clean_item

        clean_item(self)


# --- support hours and business days (MNT-05) ---------------------------------------------------


def default_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class SupportHours(models.Model):
    """When a contract's inquiries are answered (004 §28) and the targets measured in that
    business time. ``weekdays`` are Python's (0 = Monday); Japanese public holidays and the
    provider's :class:`ClosedDay` are never business days. A contract without a row uses the
    settings' defaults."""

    change_rule = Rule.STAFF
    contract = models.OneToOneField(
        "clients.Contract",
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="support_hours",
    )
    weekdays = models.JSONField(_("days of the week"), default=default_weekdays)
    opens = models.TimeField(_("opens"), default=dt.time(10, 0))
    closes = models.TimeField(_("closes"), default=dt.time(18, 0))
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (business minutes)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(60 * 24 * 60)],
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (business minutes)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(60 * 24 * 365)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = CatalogueItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("support hours")
        verbose_name_plural = _("support hours")

    def __str__(self) -> str:
        return f"{self.opens:%H:%M}–{self.closes:%H:%M}"


class ClosedDay(models.Model):
    """Days the provider is closed on top of public holidays (年末年始, 夏季休業): ``first`` to
    ``last`` inclusive."""

    first = models.DateField(_("first day"))
    last = models.DateField(_("last day"))
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["first"]
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last__gte=models.F("first")), name="closed_days_in_order"
            )
        ]

    def __str__(self) -> str:
        return self.name


# --- requests (MNT-03, MNT-04) ------------------------------------------------------------------


class Channel(models.TextChoices):
    PORTAL = "portal", _("Portal")
    EMAIL = "email", _("E-mail")
    API = "api", "API"
    PHONE = "phone", pgettext_lazy("request channel", "Phone")


class RequestState(models.TextChoices):
    NEW = "new", pgettext_lazy("request", "New")
    OPEN = "open", pgettext_lazy("request", "In progress")
    ESTIMATE = "estimate", _("Estimate sent")
    SUSPENDED = "suspended", _("Suspended")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", pgettext_lazy("request", "Closed")


#: States in which the provider still owes an answer or the work.
ACTIVE_STATES = (RequestState.NEW, RequestState.OPEN, RequestState.ESTIMATE, RequestState.SUSPENDED)


class RequestQuerySet(ClientScopedQuerySet):
    def active(self):
        return self.filter(state__in=ACTIVE_STATES)


class Request(models.Model):
    """Work a client asks for, from the portal, an e-mail to the desk, the API or a phone call
    an operator enters. Its number (``R-<pk>``) is the token in every e-mail's subject that
    threads replies back into it."""

    change_rule = Rule.STAFF
    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="requests",
    )
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
    )
    contact = models.ForeignKey(
        "clients.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
    )
    # Who asked, as given (an e-mail's From, a caller's name) when no contact matches.
    requester = models.CharField(_("requested by"), max_length=300, blank=True)
    channel = models.CharField(_("received by"), max_length=10, choices=Channel.choices)
    subject = models.CharField(pgettext_lazy("request", "subject"), max_length=300)
    body = models.TextField(_("request"), blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=RequestState.choices, default=RequestState.NEW
    )
    scope = models.CharField(
        _("scope"), max_length=12, choices=Scope.choices, default=Scope.UNCLASSIFIED
    )
    catalogue_item = models.ForeignKey(
        CatalogueItem,
        verbose_name=_("kind of work"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
    )
    # The month whose allowance an in-scope request counts against (first day of the month).
    allowance_month = models.DateField(_("counted in month"), null=True, blank=True)
    confidential = models.BooleanField(
        _("confidential"),
        default=False,
        help_text=_("Attachments are kept encrypted in the vault."),
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended"), null=True, blank=True)
    # Why the work was suspended (NOT-05, 004 §44.3), in the operator's words, and the state it
    # goes back to when it resumes.
    suspension_reason = models.TextField(_("reason for the suspension"), blank=True)
    state_before_suspension = models.CharField(
        max_length=10, choices=RequestState.choices, blank=True, editable=False
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RequestQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        indexes = [models.Index(fields=["state", "first_response_due"], name="request_due")]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("request_detail", args=[self.pk])

    @property
    def number(self) -> str:
        return f"R-{self.pk}"


class Direction(models.TextChoices):
    INBOUND = "in", _("From the client")
    OUTBOUND = "out", _("To the client")
    NOTE = "note", _("Internal note")


class MessageQuerySet(ClientScopedQuerySet):
    client_lookup = "request__client"


class RequestMessage(models.Model):
    """One message of a request's thread: the client's (portal, e-mail), the provider's reply
    (sent through the outbox: ``notice``) or an internal note. ``message_id`` is the e-mail's
    Message-ID; it is unique, so the same e-mail delivered twice is stored once."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    contact = models.ForeignKey(
        "clients.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender = models.CharField(_("from"), max_length=300, blank=True)
    body = models.TextField(_("message"), blank=True)
    message_id = models.CharField(max_length=998, null=True, blank=True, unique=True)
    in_reply_to = models.CharField(max_length=998, blank=True)
    notice = models.ForeignKey(
        "notices.Notice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A question to the client (NOT-05): answered by the client's next inbound message.
    is_question = models.BooleanField(_("asks the client something"), default=False)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.at:%Y-%m-%d %H:%M}"


class AttachmentQuerySet(ClientScopedQuerySet):
    client_lookup = "request__client"


class RequestAttachment(models.Model):
    """A file that came with a request or a message. A confidential one is a vault secret
    (encrypted, read with a purpose); otherwise the bytes are kept here."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        RequestMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=200, default="application/octet-stream")
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField(null=True, blank=True, editable=False)
    secret = models.ForeignKey(
        "vault.Secret", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename

    @property
    def encrypted(self) -> bool:
        return self.secret_id is not None


class WorkLogQuerySet(ClientScopedQuerySet):
    client_lookup = "request__client"


class WorkLog(models.Model):
    """Work done on a request: who, when, how long, what (the month's work feeds the report)."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="work")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    minutes = models.PositiveIntegerField(
        _("minutes"), validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    text = models.TextField(_("what was done"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = WorkLogQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("work log entry")
        verbose_name_plural = _("work log")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.minutes} min"


# --- personal-data incidents (ACC-04) -----------------------------------------------------------


class DataIncidentKind(models.TextChoices):
    LOSS = "loss", _("Loss")
    THEFT = "theft", _("Theft")
    LEAK = "leak", _("Leak or disclosure")
    UNAUTHORIZED_ACCESS = "unauthorized_access", _("Unauthorised access")


class DataIncident(models.Model):
    """A loss or theft of the client's contacts' personal data (001 §14, 004 §35.11(8)):
    what, whose and when; reported to the client at once through the outbox
    (``reported_at`` set when the notices are queued), the record kept."""

    change_rule = Rule.STAFF
    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="data_incidents",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=DataIncidentKind.choices)
    what = models.TextField(_("what data"))
    whose = models.TextField(_("whose data"))
    contacts = models.ManyToManyField(
        "clients.Contact", verbose_name=_("contacts concerned"), blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField(_("occurred"), null=True, blank=True)
    discovered_at = models.DateTimeField(_("discovered"))
    measures = models.TextField(_("measures taken"), blank=True)
    reported_at = models.DateTimeField(_("reported to the client"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-discovered_at", "-pk"]
        verbose_name = _("personal data incident")
        verbose_name_plural = _("personal data incidents")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.discovered_at:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("data_incident_detail", args=[self.pk])


# --- the desk's mailbox (MNT-03), in a module of its own ----------------------------------------

from mamori.desk.mail_models import DeskMailbox, InboundMail  # noqa: E402, F401
