"""Fees, one-off charges, invoices, payments and contract changes (BIL-01 to BIL-06, CT-06).

The shape (docs/billing.md tells the rules):

- :class:`IssuerProfile` — the provider's own particulars, set once (one row, ``pk=1``).
- :class:`Fee` — what a contract costs: initial, monthly, annual or other (one-off), each with
  its amount, tax rate and whether the amount includes tax; valid from ``starts_on`` (default:
  the contract's start) to ``ends_on``. A change accepted on a date ends one fee the day before
  and starts its successor that day (:class:`ContractChange`).
- :class:`Charge` — a one-off amount that came from elsewhere (a CA fee, a billable emergency
  measure, late-payment interest, the fee-evasion surcharge, a line entered by hand): billed
  once, by the invoice line that points at it.
- :class:`Invoice` and :class:`InvoiceLine` — an issued qualified invoice (適格請求書) or a
  credit note, immutable once issued: the issuer's and recipient's particulars and every line's
  amounts are frozen; a line's words are a code and parameters (or the operator's own text),
  so the same invoice reads in Japanese or English. Numbers come from :class:`InvoiceCounter`
  in the same transaction, so they have no gaps.
- :class:`Payment` — money received against an invoice (partial payments add up).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mamori.core.models import Language
from mamori.core.permissions import Rule
from mamori.core.scoping import ClientScopedQuerySet

#: A qualified-invoice issuer's registration number: "T" and 13 digits.
registration_number_validator = RegexValidator(
    r"^T\d{13}$",
    _("A registration number is T followed by 13 digits, e.g. T1234567890123."),
)


def money_field(verbose_name, **kwargs) -> models.DecimalField:
    """An amount in yen (whole units); negative where a line gives money back."""
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=0, **kwargs)


class TaxRate(models.IntegerChoices):
    """Japanese consumption tax rates (percent)."""

    STANDARD = 10, _("10% (standard)")
    REDUCED = 8, _("8% (reduced rate)")
    EXEMPT = 0, _("Not taxable")


REDUCED_RATES = {TaxRate.REDUCED}


class TaxRounding(models.TextChoices):
    """How the consumption tax of one rate on one invoice is rounded to the yen."""

    FLOOR = "floor", _("Round down")
    HALF_UP = "half_up", _("Round half up")
    CEILING = "ceiling", _("Round up")


class IssuerProfile(models.Model):
    """The provider's particulars printed on every invoice (one row, pk=1)."""

    name = models.CharField(_("name"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("telephone"), max_length=40, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    registration_number = models.CharField(
        _("qualified invoice registration number"),
        max_length=14,
        blank=True,
        validators=[registration_number_validator],
    )
    bank_account = models.TextField(
        _("bank account for transfers"),
        blank=True,
        help_text=_("Bank, branch, account type and number, account holder (in kana)."),
    )
    tax_rounding = models.CharField(
        _("consumption tax rounding"),
        max_length=10,
        choices=TaxRounding.choices,
        default=TaxRounding.FLOOR,
    )
    invoice_prefix = models.CharField(
        _("invoice number prefix"), max_length=10, default="INV", blank=True
    )
    credit_note_prefix = models.CharField(
        _("credit note number prefix"), max_length=10, default="CN", blank=True
    )
    work_rate_per_hour = money_field(
        _("extra work: rate per hour (tax excluded)"),
        default=Decimal(0),
        validators=[MinValueValidator(0)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("invoice issuer")
        verbose_name_plural = _("invoice issuer")

    def __str__(self) -> str:
        return self.name or "—"


class FeeKind(models.TextChoices):
    INITIAL = "initial", _("Initial fee")
    MONTHLY = "monthly", _("Monthly fee")
    ANNUAL = "annual", _("Annual fee")
    OTHER = "other", _("Other fee (one-off)")


class FeeQuerySet(ClientScopedQuerySet):
    client_lookup = "contract__client"


class Fee(models.Model):
    change_rule = Rule.STAFF
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="fees",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=FeeKind.choices)
    description = models.CharField(
        _("description"),
        max_length=200,
        blank=True,
        help_text=_("As it appears on the invoice; empty: the kind and the contract."),
    )
    amount = money_field(_("amount"), validators=[MinValueValidator(0)])
    tax_rate = models.PositiveSmallIntegerField(
        _("tax rate"), choices=TaxRate.choices, default=TaxRate.STANDARD
    )
    tax_included = models.BooleanField(_("amount includes tax"), default=False)
    starts_on = models.DateField(
        _("from"), null=True, blank=True, help_text=_("Empty: from the contract's start.")
    )
    ends_on = models.DateField(_("until"), null=True, blank=True)
    change = models.ForeignKey(
        "billing.ContractChange",
        verbose_name=_("from change"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fees",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = FeeQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "kind", "starts_on", "pk"]
        verbose_name = _("fee")
        verbose_name_plural = _("fees")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The end is before the start.")})


class ChargeSource(models.TextChoices):
    CA_FEE = "ca_fee", _("CA fee")
    EMERGENCY = "emergency", _("Emergency measure")
    WORK = "work", _("Extra work")
    INTEREST = "interest", _("Late-payment interest")
    SURCHARGE = "surcharge", _("Fee-evasion surcharge")
    ESTIMATE = "estimate", _("Accepted estimate")
    MANUAL = "manual", _("Other")


class ChargeQuerySet(ClientScopedQuerySet):
    def unbilled(self) -> ChargeQuerySet:
        return self.filter(line__isnull=True, cancelled_at__isnull=True)


class Charge(models.Model):
    """A one-off amount owed by a client, billed once by the invoice line that points at it.

    ``source`` and ``source_key`` name where it came from (e.g. ``ca_fee`` + the order's id) and
    are unique together, so recording the same thing twice gives one charge."""

    change_rule = Rule.STAFF
    client = models.ForeignKey(
        "clients.Client", verbose_name=_("client"), on_delete=models.PROTECT, related_name="charges"
    )
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="charges",
    )
    source = models.CharField(_("source"), max_length=10, choices=ChargeSource.choices)
    source_key = models.CharField(max_length=100, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # What the charge is, as parameters of its source (billing.text), e.g. a CA fee's names or an
    # emergency measure's minutes and date; ``description`` (the operator's words) wins.
    params = models.JSONField(default=dict, blank=True)
    occurred_on = models.DateField(_("date"))
    quantity = models.DecimalField(
        _("quantity"), max_digits=10, decimal_places=2, default=Decimal(1)
    )
    unit_price = money_field(_("unit price"))
    tax_rate = models.PositiveSmallIntegerField(
        _("tax rate"), choices=TaxRate.choices, default=TaxRate.STANDARD
    )
    tax_included = models.BooleanField(_("amount includes tax"), default=False)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ChargeQuerySet.as_manager()

    class Meta:
        ordering = ["client", "occurred_on", "pk"]
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_key"],
                condition=~Q(source_key=""),
                name="one_charge_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.description or self.get_source_display()} ({self.occurred_on:%Y-%m-%d})"


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")


class InvoiceCounter(models.Model):
    """The next number of a series (prefix + year): taken and advanced in the transaction that
    issues the invoice, so numbers have no gaps."""

    series = models.CharField(max_length=30, unique=True)
    next_number = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.series}: {self.next_number}"


def reads_invoices(user) -> bool:
    """Whether ``user``'s role reads invoices and payments at all: the provider's administrators
    and operators, and a client's administrators (their own client's, by ``visible_to``). A
    client's viewers and the provider's subcontractors see the work, not the money."""
    from mamori.core.models import ALL_CLIENT_ROLES, Role

    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.role in ALL_CLIENT_ROLES or user.role == Role.CLIENT_ADMIN


class MoneyScopedQuerySet(ClientScopedQuerySet):
    """Rows of a client's money: seen by the roles of :func:`reads_invoices` only."""

    def visible_to(self, user):  # type: ignore[override]
        return super().visible_to(user) if reads_invoices(user) else self.none()


class InvoiceQuerySet(MoneyScopedQuerySet):
    pass


class ImmutableInvoice(Exception):
    """An issued invoice (or one of its lines) was to be changed or deleted: a correction is a
    credit note (billing.run.issue_credit_note)."""

    code = "invoice_immutable"


class Invoice(models.Model):
    change_rule = Rule.STAFF
    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    kind = models.CharField(
        _("kind"), max_length=12, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE
    )
    number = models.CharField(_("number"), max_length=40, unique=True)
    month = models.DateField(_("billing month"))  # the first day of the month
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.JA
    )
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    currency = models.CharField(_("currency"), max_length=3, default="JPY")
    # Frozen at issue: who issued it to whom.
    issuer = models.JSONField(_("issuer"), default=dict)
    recipient = models.JSONField(_("recipient"), default=dict)
    # Per tax rate: [{"rate": 10, "reduced": false, "net": "…", "tax": "…"}], and the sums.
    totals = models.JSONField(_("totals per tax rate"), default=list)
    net_total = money_field(_("net"))
    tax_total = money_field(_("consumption tax"))
    total = money_field(_("total"))
    note = models.TextField(_("note"), blank=True)
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issue_date", "-number"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            # One invoice per client and month: running the month again finds it.
            models.UniqueConstraint(
                fields=["client", "month"],
                condition=Q(kind="invoice"),
                name="one_invoice_per_client_month",
            )
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs) -> None:
        """Only the first save (the issue) writes: an issued invoice never changes."""
        if self.pk is not None and not self._state.adding:
            raise ImmutableInvoice(f"invoice {self.number} is issued and cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableInvoice(f"invoice {self.number} is issued and cannot be deleted")


class LineKind(models.TextChoices):
    FEE = "fee", _("Fee")
    CHARGE = "charge", _("Charge")
    SLA_CREDIT = "sla_credit", _("SLA credit")
    CORRECTION = "correction", _("Correction")


class InvoiceLineQuerySet(MoneyScopedQuerySet):
    client_lookup = "invoice__client"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12, choices=LineKind.choices)
    # What the line is, as a code and parameters rendered in the reader's language when shown
    # (billing.text), e.g. {"fee_kind": "monthly", "contract_type": "site_maintenance"}; or the
    # operator's own words for a fee or charge they described themselves.
    params = models.JSONField(default=dict, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2)
    unit_price = money_field(_("unit price"))
    amount = money_field(_("amount"))
    tax_rate = models.PositiveSmallIntegerField(_("tax rate"), choices=TaxRate.choices)
    tax_included = models.BooleanField(default=False)
    # Where the line came from; each source is billed by one line at most.
    fee = models.ForeignKey(Fee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    charge = models.OneToOneField(
        Charge, null=True, blank=True, on_delete=models.PROTECT, related_name="line"
    )
    sla_credit = models.OneToOneField(
        "monitoring.SlaCredit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_line",
    )
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )

    objects = InvoiceLineQuerySet.as_manager()

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="unique_line_position"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}/{self.position}"

    def save(self, *args, **kwargs) -> None:
        """Lines are written with their invoice, at issue (billing.run, in bulk); never after."""
        raise ImmutableInvoice(f"the lines of invoice {self.invoice_id} cannot be changed")

    def delete(self, *args, **kwargs):
        raise ImmutableInvoice(f"the lines of invoice {self.invoice_id} cannot be deleted")

    @property
    def reduced(self) -> bool:
        return self.tax_rate in REDUCED_RATES


class PaymentQuerySet(MoneyScopedQuerySet):
    client_lookup = "invoice__client"


class Payment(models.Model):
    change_rule = Rule.STAFF
    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="payments"
    )
    received_on = models.DateField(_("received on"))
    amount = money_field(_("amount"), validators=[MinValueValidator(1)])
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["invoice", "received_on", "pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self) -> str:
        return f"{self.received_on:%Y-%m-%d} {self.amount}"


class ChangeKind(models.TextChoices):
    ORDER = "order", _("Individual order form")
    CHANGE = "change", _("Change request")


class ChangeState(models.TextChoices):
    PROPOSED = "proposed", _("Awaiting acceptance")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")


class ContractChangeQuerySet(ClientScopedQuerySet):
    client_lookup = "contract__client"


class ContractChange(models.Model):
    """An individual order form or change request (CT-06): it takes effect only once accepted;
    the fees it sets (``fee_changes``) apply from the acceptance date."""

    change_rule = Rule.STAFF
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        on_delete=models.CASCADE,
        related_name="changes",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ChangeKind.choices)
    received_on = models.DateField(_("received on"))
    summary = models.TextField(_("what changes"))
    # [{"fee": <id or null>, "kind": …, "description": …, "amount": "…", "tax_rate": 10,
    #   "tax_included": false}] — a fee id changes that fee; null adds one; amount null ends it.
    fee_changes = models.JSONField(_("fee changes"), default=list, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=ChangeState.choices, default=ChangeState.PROPOSED
    )
    decided_on = models.DateField(_("accepted or declined on"), null=True, blank=True)
    # Documents holding personal data are vault secrets (encrypted); others are plain records.
    documents = models.ManyToManyField(
        "vault.Secret", verbose_name=_("documents"), blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ContractChangeQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "-received_on", "-pk"]
        verbose_name = _("contract change")
        verbose_name_plural = _("contract changes")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.received_on:%Y-%m-%d})"


# --- estimates (見積書, MNT-04, MON-08) --------------------------------------------------


class EstimateState(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("estimate", "Draft")
    ISSUED = "issued", pgettext_lazy("estimate", "Awaiting answer")
    ACCEPTED = "accepted", pgettext_lazy("estimate", "Accepted")
    DECLINED = "declined", pgettext_lazy("estimate", "Declined")
    EXPIRED = "expired", pgettext_lazy("estimate", "Expired")
    WITHDRAWN = "withdrawn", pgettext_lazy("estimate", "Withdrawn")


class EstimateCounter(models.Model):
    """The next number of an estimate series (prefix + year), taken and advanced in the
    transaction that issues the estimate, so estimate numbers have no gaps."""

    series = models.CharField(max_length=30, unique=True)
    next_number = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.series}: {self.next_number}"


def reads_estimates(user) -> bool:
    """Whether ``user``'s role reads estimates: the provider's administrators and operators (every
    client) and a client's administrators and viewers (their own client's issued estimates). The
    provider's subcontractors see the work, not the money."""
    from mamori.core.models import ALL_CLIENT_ROLES, CLIENT_ROLES

    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.role in ALL_CLIENT_ROLES or user.role in CLIENT_ROLES


class EstimateQuerySet(ClientScopedQuerySet):
    def visible_to(self, user):  # type: ignore[override]
        """Drafts are the provider's own work: a client's people see issued estimates only."""
        from mamori.core.models import CLIENT_ROLES

        if not reads_estimates(user):
            return self.none()
        rows = super().visible_to(user)
        if not user.is_superuser and user.role in CLIENT_ROLES:
            rows = rows.exclude(state=EstimateState.DRAFT)
        return rows


class ImmutableEstimate(Exception):
    """An issued estimate was to be changed: a change is a new estimate (withdraw the old one)."""

    code = "estimate_immutable"


#: What may still change on an issued estimate: its answer (or expiry, or withdrawal).
ESTIMATE_DECISION_FIELDS = frozenset(
    {
        "state",
        "accepted_at",
        "accepted_by",
        "declined_at",
        "declined_by",
        "decline_reason",
        "answered_for",
        "withdrawn_at",
        "withdrawn_by",
        "updated_at",
    }
)


class Estimate(models.Model):
    """A quotation (見積書) for work outside a contract's scope (MNT-04): drafted by an operator,
    issued with a gapless number and a validity date, accepted or declined by the client. An
    accepted estimate's lines become charges for the next invoice run, once
    (:mod:`mamori.billing.sources`). Issued estimates never change but for their answer."""

    change_rule = Rule.CLIENT_ADMIN
    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="estimates",
    )
    contract = models.ForeignKey(
        "clients.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="estimates",
    )
    request = models.ForeignKey(
        "desk.Request",
        verbose_name=_("request"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="estimates",
    )
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("replaces"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by",
    )
    # Given when issued (EST-2026-0001); empty while a draft.
    number = models.CharField(_("number"), max_length=40, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=EstimateState.choices, default=EstimateState.DRAFT
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.JA
    )
    title = models.CharField(pgettext_lazy("estimate", "subject"), max_length=300)
    notes = models.TextField(_("notes"), blank=True)
    issue_date = models.DateField(_("issue date"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="JPY")
    # Frozen at issue, as on an invoice.
    issuer = models.JSONField(_("issuer"), default=dict, blank=True)
    recipient = models.JSONField(_("recipient"), default=dict, blank=True)
    totals = models.JSONField(_("totals per tax rate"), default=list, blank=True)
    net_total = money_field(_("net"), default=Decimal(0))
    tax_total = money_field(_("consumption tax"), default=Decimal(0))
    total = money_field(_("total"), default=Decimal(0))
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    declined_at = models.DateTimeField(_("declined"), null=True, blank=True)
    declined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decline_reason = models.TextField(_("reason"), blank=True)
    # When an operator records the client's answer: who at the client gave it.
    answered_for = models.CharField(_("answer given by"), max_length=200, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EstimateQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("estimate")
        verbose_name_plural = _("estimates")
        constraints = [
            models.UniqueConstraint(
                fields=["number"], condition=~Q(number=""), name="unique_estimate_number"
            )
        ]

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"

    def save(self, *args, **kwargs) -> None:
        """After the issue only the answer may change (:data:`ESTIMATE_DECISION_FIELDS`)."""
        if self.pk is not None and not self._state.adding:
            fields = kwargs.get("update_fields")
            stored = Estimate.objects.filter(pk=self.pk).values_list("state", flat=True).first()
            if stored not in (None, EstimateState.DRAFT) and (
                fields is None or not set(fields) <= ESTIMATE_DECISION_FIELDS
            ):
                raise ImmutableEstimate(f"estimate {self.number} is issued and cannot be changed")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("estimate_detail", args=[self.pk])

    @property
    def is_draft(self) -> bool:
        return self.state == EstimateState.DRAFT

    def expired_on(self, day) -> bool:
        """Whether an issued estimate is past its validity on ``day``."""
        return (
            self.state == EstimateState.ISSUED
            and self.valid_until is not None
            and day > self.valid_until
        )

    def shown_state(self, day=None) -> str:
        """The state as a reader sees it on ``day``: an issued estimate past its validity is
        expired even before anything wrote it so."""
        day = day or timezone.localdate()
        return EstimateState.EXPIRED if self.expired_on(day) else self.state

    def shown_state_label(self) -> str:
        return str(EstimateState(self.shown_state()).label)


class EstimateLineQuerySet(EstimateQuerySet):
    client_lookup = "estimate__client"

    def visible_to(self, user):  # type: ignore[override]
        return self.filter(estimate__in=Estimate.objects.visible_to(user))


class EstimateLine(models.Model):
    estimate = models.ForeignKey(Estimate, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=10,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    unit_price = money_field(_("unit price"), validators=[MinValueValidator(0)])
    amount = money_field(_("amount"))
    tax_rate = models.PositiveSmallIntegerField(
        _("tax rate"), choices=TaxRate.choices, default=TaxRate.STANDARD
    )
    tax_included = models.BooleanField(_("amount includes tax"), default=False)

    objects = EstimateLineQuerySet.as_manager()

    class Meta:
        ordering = ["estimate", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["estimate", "position"], name="unique_estimate_line_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.estimate}/{self.position}"

    @property
    def reduced(self) -> bool:
        return self.tax_rate in REDUCED_RATES
