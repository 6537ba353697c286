"""Clients (甲 / 契約者), the people to notify, and their contracts (CT-01)."""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.core.models import Language
from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet

code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{0,39}$",
    _("Use 1–40 lower-case letters, digits, '-' or '_', starting with a letter or digit."),
)


class ClientQuerySet(ClientScopedQuerySet):
    client_lookup = "pk"


class Client(models.Model):
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    representative = models.CharField(_("representative"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("client")
        verbose_name_plural = _("clients")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("client_detail", args=[self.code])


class NoticeTopic(models.TextChoices):
    """What kinds of notices a contact receives."""

    CERTIFICATES = "certificates", _("Certificates")
    INCIDENTS = "incidents", _("Incidents")
    MAINTENANCE = "maintenance", _("Maintenance")
    REPORTS = "reports", _("Reports")
    CONTRACTS = "contracts", _("Contracts")
    BILLING = "billing", _("Invoices")


def validate_topics(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(_("Expected a list of notice topics."))
    unknown = sorted(set(value) - set(NoticeTopic.values))
    if unknown:
        raise ValidationError(
            _("Unknown notice topics: %(topics)s (use %(valid)s)."),
            params={"topics": ", ".join(unknown), "valid": ", ".join(NoticeTopic.values)},
        )


class ContactQuerySet(ClientScopedQuerySet):
    def receiving(self, topic: str) -> list[Contact]:
        """Contacts that receive notices of ``topic`` (filtered in Python: JSON lists are
        not portably queryable, and a client has a handful of contacts)."""
        return [c for c in self if c.email and topic in c.notify]


class Contact(models.Model):
    change_rule = Rule.CLIENT_ADMIN
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"))
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.JA
    )
    notify = models.JSONField(
        _("receives"),
        default=list,
        blank=True,
        validators=[validate_topics],
        help_text=_("Notice topics this contact receives."),
    )

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["client", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(fields=["client", "email"], name="unique_contact_email")
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def clean(self) -> None:
        # One person, however the mailbox is spelled (the import matches contacts so too).
        if self.client_id and self.email:
            others = Contact.objects.filter(client_id=self.client_id, email__iexact=self.email)
            if others.exclude(pk=self.pk).exists():
                raise ValidationError(
                    {"email": _("This client already has a contact with this e-mail.")}
                )


class ContractType(models.TextChoices):
    SSL_MANAGEMENT = "ssl_management", _("SSL certificate management")
    SITE_MAINTENANCE = "site_maintenance", _("Website maintenance")
    SERVER_MANAGEMENT = "server_management", _("Server management")
    OPERATIONS_SUPPORT = "operations_support", _("Operations support")
    CA_SERVICE = "ca_service", _("Certificate authority service")


class RenewalPolicy(models.TextChoices):
    """How the client instructs certificate renewals (000 §7.3, CERT-04)."""

    STANDING = "standing", _("Standing instruction: renew without asking each time")
    APPROVAL = "approval", _("Ask the client to approve each renewal")


def validate_notice_days(value: object) -> None:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 400 for d in value)
    ):
        raise ValidationError(
            _("Expected a list of whole days between 1 and 400, e.g. [30, 14, 7].")
        )


def default_notice_days() -> list[int]:
    return list(settings.MAMORI_EXPIRY_NOTICE_DAYS)


class TermKind(models.TextChoices):
    FIXED = "fixed", _("Fixed term of N months")
    CALENDAR_MONTH = "calendar_month", _("Calendar months")


class MinimumTerm(models.TextChoices):
    NONE = "none", _("None")
    END_OF_NEXT_MONTH = "end_of_next_month", _("To the end of the month after formation")


class CancellationRule(models.TextChoices):
    TERM_END = "term_end", _("At the end of the term (notice before the deadline)")
    MONTH_AFTER_ACCEPTANCE = (
        "month_after_acceptance",
        _("At the end of the month after the notice is accepted, or a later month named"),
    )
    ON_RECEIPT = "on_receipt", _("On the day the notice is received")


class TermsProfile(models.Model):
    """A contract's rules as data (CT-02..CT-05): how long a term runs, whether it renews, when
    notice must arrive, the minimum term, how a cancellation takes effect, the cooling-off days
    and how fees start and stop. :mod:`mamori.clients.terms` computes the dates from these.

    Mamori ships one profile per kind of seed contract (data migration, stable codes); operators
    may add their own."""

    change_rule = Rule.STAFF
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[code_validator])
    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    term_kind = models.CharField(
        _("term kind"), max_length=20, choices=TermKind.choices, default=TermKind.FIXED
    )
    term_months = models.PositiveSmallIntegerField(
        _("term length (months)"), default=12, validators=[MinValueValidator(1)]
    )
    auto_renew = models.BooleanField(_("renews automatically"), default=True)
    notice_days = models.PositiveSmallIntegerField(
        _("notice before the end (days)"),
        default=30,
        help_text=_("Written notice must arrive at least this many days before the term ends."),
    )
    minimum_term = models.CharField(
        _("minimum term"), max_length=20, choices=MinimumTerm.choices, default=MinimumTerm.NONE
    )
    cancellation = models.CharField(
        _("a cancellation takes effect"),
        max_length=30,
        choices=CancellationRule.choices,
        default=CancellationRule.TERM_END,
    )
    mid_term_notice_days = models.PositiveSmallIntegerField(
        _("mid-term cancellation notice (days)"),
        default=0,
        help_text=_(
            "0: no mid-term cancellation; else the contract ends this many days after "
            "the notice arrives."
        ),
    )
    cooling_off_days = models.PositiveSmallIntegerField(
        _("cooling-off (days, incl. the application day)"),
        default=0,
        help_text=_("For contracts applied for through the web; 0: none."),
    )
    reminder_days = models.PositiveSmallIntegerField(
        _("reminder before the notice deadline (days)"),
        null=True,
        blank=True,
        help_text=_("Empty: the setting MAMORI_CONTRACT_NOTICE_REMINDER_DAYS; 0: no reminders."),
    )
    first_month_whole = models.BooleanField(
        _("first month counted whole"),
        default=False,
        help_text=_("A contract that starts mid-month pays the whole first month."),
    )
    bill_to_period_end = models.BooleanField(
        _("billed to the end of the period on cancellation"),
        default=True,
        help_text=_("Cancelling mid-period still bills the period to its end (no refunds)."),
    )
    retention_years = models.PositiveSmallIntegerField(
        _("records kept after the end (years)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text=_(
            "Notices, the audit trail and reports are purged this many years after the last "
            "contract ends (confidentiality outlives the contract; invoices are kept at least "
            "their statutory 7 years)."
        ),
    )
    builtin = models.BooleanField(_("shipped with Mamori"), default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("terms profile")
        verbose_name_plural = _("terms profiles")

    def __str__(self) -> str:
        return self.display_name()

    def display_name(self, language: str | None = None) -> str:
        """The name in ``language`` (default: the active language)."""
        from django.utils.translation import get_language

        lang = (language or get_language() or "ja")[:2]
        return (self.name_ja if lang == "ja" else self.name_en) or self.name_en or self.code

    def clean(self) -> None:
        if self.term_kind == TermKind.CALENDAR_MONTH and self.term_months != 1:
            raise ValidationError({"term_months": _("Calendar-month terms are one month long.")})
        if self.mid_term_notice_days > 400 or self.notice_days > 400:
            raise ValidationError(_("Notice periods are at most 400 days."))


class Contract(models.Model):
    change_rule = Rule.STAFF
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contracts")
    type = models.CharField(_("type"), max_length=30, choices=ContractType.choices)
    title = models.CharField(_("title"), max_length=200, blank=True)
    start = models.DateField(_("start date"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"), default=12)
    auto_renew = models.BooleanField(_("renews automatically"), default=True)
    renewal_policy = models.CharField(
        _("certificate renewal"),
        max_length=10,
        choices=RenewalPolicy.choices,
        default=RenewalPolicy.APPROVAL,
    )
    expiry_notice_days = models.JSONField(
        _("expiry notice schedule (days)"),
        default=default_notice_days,
        validators=[validate_notice_days],
    )
    notes = models.TextField(_("notes"), blank=True)
    terms_profile = models.ForeignKey(
        TermsProfile,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contracts",
        verbose_name=_("terms profile"),
        help_text=_("Empty: one fixed term of the months above, renewed if set to renew."),
    )
    formed_on = models.DateField(
        _("formed on"), null=True, blank=True, help_text=_("Empty: the start date.")
    )
    applied_via_web = models.BooleanField(
        _("applied for through the web"),
        default=False,
        help_text=_("Such a contract may be withdrawn during the cooling-off days."),
    )

    objects = ClientScopedQuerySet.as_manager()

    class Meta:
        ordering = ["client", "start", "type"]
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "type", "start"], name="unique_contract_type_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} ({self.start:%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        return reverse("contract_detail", args=[self.client.code, self.pk])

    @property
    def first_term_end(self) -> date:
        """Last day of the first term."""
        return self.start + relativedelta(months=self.term_months) - relativedelta(days=1)

    def notice_schedule(self) -> list[int]:
        return sorted({int(d) for d in self.expiry_notice_days}, reverse=True)

    @property
    def formation_date(self) -> date:
        return self.formed_on or self.start


class NoticeKind(models.TextChoices):
    CANCELLATION = "cancellation", _("Cancellation")
    WITHDRAWAL = "withdrawal", _("Withdrawal (cooling-off)")


class NoticeMedium(models.TextChoices):
    LETTER = "letter", _("Letter")
    EMAIL = "email", _("E-mail")


class ContractNoticeQuerySet(ClientScopedQuerySet):
    client_lookup = "contract__client"


class ContractNotice(models.Model):
    """A cancellation or cooling-off withdrawal received from the client (CT-02..CT-05). The
    effective date is computed by the contract's terms when the notice is recorded; ``reason``
    is a code (rendered in the reader's language) saying why it is later than asked."""

    change_rule = Rule.STAFF
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(_("kind"), max_length=20, choices=NoticeKind.choices)
    received_on = models.DateField(_("received on"))
    medium = models.CharField(_("received by"), max_length=10, choices=NoticeMedium.choices)
    sender = models.CharField(_("sender"), max_length=200)
    requested_end_month = models.DateField(
        _("requested end month"), null=True, blank=True, help_text=_("First day of the month.")
    )
    effective_on = models.DateField(_("effective on"))
    reason = models.CharField(_("reason"), max_length=40, blank=True)
    reason_params = models.JSONField(default=dict, blank=True)
    deadline = models.DateField(_("notice deadline"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ContractNoticeQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "received_on", "pk"]
        verbose_name = _("contract notice")
        verbose_name_plural = _("contract notices")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.received_on:%Y-%m-%d}"

    @property
    def client(self) -> Client:
        return self.contract.client


class ClientWaitQuerySet(ClientScopedQuerySet):
    def open(self):
        return self.filter(until__isnull=True)

    def of(self, target: models.Model):
        """The waits of one task (any model: an incident, a request, a renewal ...)."""
        from django.contrib.contenttypes.models import ContentType

        return self.filter(
            content_type=ContentType.objects.get_for_model(target), object_id=target.pk
        )


class ClientWait(models.Model):
    """A span during which a task waits on the client (CT-09): an answer, a document, access,
    an approval. Generic: ``target`` is whatever task waits (an incident today; requests,
    renewals and re-issues later). The span is the client's delay, not the provider's, in
    reports and in the SLA. Written only through :mod:`mamori.clients.waits`."""

    change_rule = Rule.STAFF

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="waits")
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    awaited = models.TextField(_("what is awaited"))
    since = models.DateTimeField(_("waiting since"))
    until = models.DateTimeField(_("waiting until"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ClientWaitQuerySet.as_manager()

    class Meta:
        ordering = ["since", "pk"]
        verbose_name = _("wait on the client")
        verbose_name_plural = _("waits on the client")
        indexes = [models.Index(fields=["content_type", "object_id"], name="client_wait_target")]
        constraints = [
            # One open wait per task: a second "waiting" click finds the first.
            models.UniqueConstraint(
                fields=["content_type", "object_id"],
                condition=models.Q(until__isnull=True),
                name="one_open_client_wait_per_task",
            ),
            models.CheckConstraint(
                condition=models.Q(until__isnull=True) | models.Q(until__gte=models.F("since")),
                name="client_wait_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return self.awaited

    def span(self, now):
        """``(since, until or now)``."""
        return self.since, self.until or now
