"""Payments received against invoices, overdue invoices, late-payment interest and the
fee-evasion surcharge (BIL-04).

- :func:`record_payment`: partial payments add up; a payment above what is still owed, or on a
  credit note, is refused with the reason.
- :func:`balance` is what is still owed: the invoice's total, less its credit notes and the
  payments received; :func:`is_overdue` and :func:`overdue_invoices` (the dashboard) follow.
- :func:`interest_due`: 14.5 % a year (004 §33) on each amount for the days it is overdue,
  365-day basis also in leap years, yen rounded down. A day counts from the day after the due
  date up to and including the day the amount is paid (a partial payment reduces the base from
  the day after it), so ¥110,000 unpaid for 31 days is 110,000 × 0.145 × 31 / 365 = ¥1,354.
- :func:`bill_interest` bills the interest accrued up to a day as a :class:`Charge` (source
  ``interest``, key: the invoice number and the day), less what earlier charges billed, so a
  day is never billed twice; :func:`add_surcharge` adds twice an evaded amount (004 §32).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from mamori.billing.fees import check_staff
from mamori.billing.models import (
    Charge,
    ChargeSource,
    Invoice,
    InvoiceKind,
    Payment,
    TaxRate,
)
from mamori.clients.models import Client, Contract
from mamori.core import audit
from mamori.core.models import User
from mamori.core.money import format_money
from mamori.inventory.services import jsonable

#: Late-payment interest per year (004 §33) and the days of a year it is divided by.
INTEREST_RATE = Decimal("0.145")
YEAR_DAYS = 365
#: The fee-evasion surcharge is this many times the evaded amount (004 §32).
SURCHARGE_FACTOR = 2


def yen_down(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_FLOOR)


# --- what is owed ----------------------------------------------------------------------------


def credited(invoice: Invoice) -> Decimal:
    """What the credit notes correcting ``invoice`` take off it (a positive amount)."""
    return sum((abs(cn.total) for cn in Invoice.objects.filter(corrects=invoice)), start=Decimal(0))


def paid(invoice: Invoice, *, before: dt.date | None = None) -> Decimal:
    """The payments received against ``invoice`` (those received before ``before``)."""
    qs = invoice.payments.all()
    if before is not None:
        qs = qs.filter(received_on__lt=before)
    return qs.aggregate(s=Sum("amount"))["s"] or Decimal(0)


def balance(invoice: Invoice) -> Decimal:
    """What is still owed on ``invoice``: its total less its credit notes and payments."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return Decimal(0)
    return invoice.total - credited(invoice) - paid(invoice)


def is_overdue(invoice: Invoice, on: dt.date) -> bool:
    """Whether something of ``invoice`` is still unpaid on ``on``, after its due date."""
    return on > invoice.due_date and balance(invoice) > 0


def overdue_invoices(qs: QuerySet[Invoice], on: dt.date) -> list[Invoice]:
    """The invoices of ``qs`` overdue on ``on``, oldest due date first; each with its
    ``balance`` set."""
    candidates = (
        qs.filter(kind=InvoiceKind.INVOICE, due_date__lt=on, total__gt=0)
        .annotate(received=Coalesce(Sum("payments__amount"), Value(0), output_field=DecimalField()))
        .filter(received__lt=F("total"))
        .select_related("client")
        .order_by("due_date", "number")
    )
    found = []
    for invoice in candidates:
        invoice.balance = balance(invoice)
        if invoice.balance > 0:
            found.append(invoice)
    return found


# --- recording a payment ---------------------------------------------------------------------


def record_payment(
    actor: User | None,
    invoice: Invoice,
    *,
    amount: Decimal | int | str,
    received_on: dt.date,
    note: str = "",
    request=None,
) -> Payment:
    """Record money received against ``invoice``. Raises :class:`Refused` (not allowed) or
    ``ValidationError`` (a credit note, an amount above the balance, a bad amount or date)."""
    check_staff(actor, invoice.client, Payment)
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        raise ValidationError(
            _("%(number)s is a credit note: payments are recorded against invoices.")
            % {"number": invoice.number}
        )
    payment = Payment(
        invoice=invoice,
        amount=amount,
        received_on=received_on,
        note=(note or "").strip(),
        recorded_by=actor,
    )
    payment.full_clean()
    with transaction.atomic():
        # One payment at a time per invoice, so two cannot both fit the same balance.
        Invoice.objects.select_for_update().filter(pk=invoice.pk).first()
        owed = balance(invoice)
        if payment.amount > owed:
            raise ValidationError(
                {
                    "amount": _(
                        "%(amount)s is more than is still owed on %(number)s (%(owed)s): "
                        "overpayments are not recorded."
                    )
                    % {
                        "amount": format_money(payment.amount),
                        "number": invoice.number,
                        "owed": format_money(owed),
                    }
                }
            )
        payment.save()
        audit.record(
            "payment.create",
            payment,
            actor=actor,
            request=request,
            changes={
                "invoice": invoice.number,
                "amount": jsonable(payment.amount),
                "received_on": jsonable(payment.received_on),
                "note": payment.note,
            },
            client_id=invoice.client_id,
        )
    return payment


# --- late-payment interest -------------------------------------------------------------------


@dataclass
class InterestPeriod:
    """``days`` days (``start`` to ``end``, both included) on which ``base`` was unpaid."""

    start: dt.date
    end: dt.date
    base: Decimal
    days: int

    @property
    def exact(self) -> Decimal:
        return self.base * INTEREST_RATE * self.days / YEAR_DAYS


def interest_periods(invoice: Invoice, on: dt.date) -> list[InterestPeriod]:
    """The overdue days of ``invoice`` up to ``on``, cut where a payment changed the base."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE or on <= invoice.due_date:
        return []
    owed = invoice.total - credited(invoice)
    first = invoice.due_date + dt.timedelta(days=1)
    # Payments made by the due date reduce the base from its start.
    base = owed - paid(invoice, before=first)
    periods = []
    start = first
    later = invoice.payments.filter(received_on__gte=first, received_on__lt=on)
    by_day: dict[dt.date, Decimal] = {}
    for payment in later:
        by_day[payment.received_on] = by_day.get(payment.received_on, Decimal(0)) + payment.amount
    for day in sorted(by_day):
        # The day of the payment is still a day overdue of the amount it pays.
        if base > 0:
            periods.append(InterestPeriod(start, day, base, (day - start).days + 1))
        base -= by_day[day]
        start = day + dt.timedelta(days=1)
    if base > 0 and start <= on:
        periods.append(InterestPeriod(start, on, base, (on - start).days + 1))
    return periods


def interest_exact(invoice: Invoice, on: dt.date) -> Decimal:
    return sum((p.exact for p in interest_periods(invoice, on)), start=Decimal(0))


def interest_due(invoice: Invoice, on: dt.date) -> Decimal:
    """The late-payment interest accrued on ``invoice`` up to and including ``on``, in whole
    yen rounded down (once, over all its periods)."""
    return yen_down(interest_exact(invoice, on))


def interest_key(invoice: Invoice, on: dt.date) -> str:
    return f"{invoice.number}:{on.isoformat()}"


def interest_charges(invoice: Invoice) -> QuerySet[Charge]:
    return Charge.objects.filter(
        source=ChargeSource.INTEREST, source_key__startswith=f"{invoice.number}:"
    ).filter(cancelled_at__isnull=True)


def bill_interest(
    actor: User | None, invoice: Invoice, on: dt.date, *, request=None
) -> Charge | None:
    """Bill the interest of ``invoice`` accrued up to ``on`` as a charge, less what earlier
    interest charges billed; ``None`` when nothing more is due. Billing the same day again gives
    the charge already made (never a second one)."""
    check_staff(actor, invoice.client, Charge)
    existing = Charge.objects.filter(
        source=ChargeSource.INTEREST, source_key=interest_key(invoice, on)
    ).first()
    if existing is not None:
        return existing
    earlier = interest_charges(invoice)
    if earlier.filter(source_key__gt=interest_key(invoice, on)).exists():
        raise ValidationError(
            _("Interest on %(number)s has already been billed to a later day.")
            % {"number": invoice.number}
        )
    billed = earlier.aggregate(s=Sum("unit_price"))["s"] or Decimal(0)
    amount = interest_due(invoice, on) - billed
    if amount <= 0:
        return None
    contract = _only_contract(invoice)
    charge = Charge(
        client=invoice.client,
        contract=contract,
        source=ChargeSource.INTEREST,
        source_key=interest_key(invoice, on),
        # Words at display, in the reader's language (billing.text): a code and parameters.
        params={"invoice": invoice.number, "until": on.isoformat()},
        occurred_on=on,
        quantity=Decimal(1),
        unit_price=amount,
        # Damages for late payment are not a consideration: outside consumption tax.
        tax_rate=TaxRate.EXEMPT,
        created_by=actor,
    )
    charge.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            charge.save()
            audit.record(
                "charge.interest",
                charge,
                actor=actor,
                request=request,
                changes={
                    "invoice": invoice.number,
                    "until": on.isoformat(),
                    "amount": jsonable(amount),
                },
                client_id=invoice.client_id,
            )
    except IntegrityError:  # billed meanwhile by someone else: theirs stands
        return Charge.objects.get(source=ChargeSource.INTEREST, source_key=charge.source_key)
    return charge


def _only_contract(invoice: Invoice) -> Contract | None:
    """The contract all of ``invoice``'s fee lines belong to, if there is exactly one."""
    ids = set(
        invoice.lines.filter(fee__isnull=False).values_list("fee__contract_id", flat=True)
    ) | set(
        invoice.lines.filter(charge__contract__isnull=False).values_list(
            "charge__contract_id", flat=True
        )
    )
    if len(ids) == 1:
        return Contract.objects.get(pk=ids.pop())
    return None


# --- the fee-evasion surcharge -------------------------------------------------------------


def add_surcharge(
    actor: User | None,
    client: Client,
    *,
    evaded: Decimal | int | str,
    reason: str,
    occurred_on: dt.date,
    contract: Contract | None = None,
    request=None,
) -> Charge:
    """The special charge for fees evaded (004 §32): twice ``evaded``, as a charge with the
    operator's reason. Raises :class:`Refused` or ``ValidationError``."""
    check_staff(actor, client, Charge)
    errors: dict[str, Any] = {}
    try:
        evaded = Decimal(str(evaded))
    except ArithmeticError:
        evaded = None
    if evaded is None or evaded <= 0 or evaded != evaded.to_integral_value():
        errors["evaded"] = _("The evaded amount is a whole number of yen above zero.")
    if not (reason or "").strip():
        errors["reason"] = _("Say why: what was evaded, and how it was found.")
    if contract is not None and contract.client_id != client.pk:
        errors["contract"] = _("The contract is not this client's.")
    if errors:
        raise ValidationError(errors)
    charge = Charge(
        client=client,
        contract=contract,
        source=ChargeSource.SURCHARGE,
        # Words at display (billing.text): the label in the reader's language, the evaded
        # amount, and the operator's own reason as they wrote it.
        params={"evaded": str(evaded), "reason": reason.strip()[:200]},
        occurred_on=occurred_on,
        quantity=Decimal(1),
        unit_price=evaded * SURCHARGE_FACTOR,
        tax_rate=TaxRate.EXEMPT,
        created_by=actor,
    )
    charge.full_clean()
    with transaction.atomic():
        charge.save()
        audit.record(
            "charge.surcharge",
            charge,
            actor=actor,
            request=request,
            changes={
                "evaded": jsonable(evaded),
                "amount": jsonable(charge.unit_price),
                "reason": reason.strip(),
                "contract": jsonable(contract) if contract else None,
            },
            client_id=client.pk,
        )
    return charge
