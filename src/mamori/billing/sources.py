"""One-off charges from elsewhere in Mamori (CERT-15, MON-08).

Billing sits in a layer above lifecycle and monitoring: it reads their records, they never import
billing. A source becomes a :class:`~mamori.billing.models.Charge` once, named by ``source`` and
``source_key`` (unique together), when the invoice run looks for charges — the one place that
turns them into charges, so recording the same thing again changes nothing:

- a certificate order's CA fee (``Order.fee_amount``, recorded with ``fee_recorded_at``):
  ``ca_fee`` + the order's id, tax-exclusive at 10 % (003 §8: the fee plus consumption tax);
  ``Order.fee_billed_at`` is set when the invoice that bills it is issued. Fees in another
  currency than yen are left for the operator (reported, never converted);
- an emergency measure marked billable (``IncidentEvent`` of kind ``emergency_measure`` with
  ``billable`` and ``minutes``): ``emergency`` + the event's id, at
  ``minutes / 60 × IssuerProfile.work_rate_per_hour``, rounded down to the yen, tax-exclusive
  at 10 %. Without a work rate nothing is charged (reported);
- an accepted estimate (``billing.Estimate``, MNT-04): one charge per estimate line,
  ``estimate`` + ``<number>/<position>``, dated the day it was accepted, at the line's quantity,
  unit price, rate and basis (:func:`mamori.billing.estimates.accepted_charges`). Declined,
  expired and withdrawn estimates bill nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from django.db import IntegrityError, transaction
from django.utils import timezone

from mamori.billing.models import Charge, ChargeSource, IssuerProfile, TaxRate
from mamori.core import audit


@dataclass
class Pending:
    """Charges the sources owe, not yet recorded, and what could not become one."""

    charges: list[Charge] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _day_end(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def pending_charges(until: date, issuer: IssuerProfile | None = None) -> Pending:
    """Unsaved charges for every CA fee, billable emergency measure and accepted estimate line
    recorded up to ``until`` (inclusive) that has no charge yet."""
    from mamori.billing.estimates import accepted_charges
    from mamori.lifecycle.models import Order
    from mamori.monitoring.models import IncidentEvent, IncidentEventKind

    issuer = issuer or IssuerProfile.objects.filter(pk=1).first() or IssuerProfile()
    result = Pending()
    recorded = {
        (source, key)
        for source, key in Charge.objects.filter(
            source__in=[ChargeSource.CA_FEE, ChargeSource.EMERGENCY, ChargeSource.ESTIMATE]
        ).values_list("source", "source_key")
    }
    orders = (
        Order.objects.filter(
            fee_amount__isnull=False,
            fee_billed_at__isnull=True,
            fee_recorded_at__lt=_day_end(until),
        )
        .select_related("managed")
        .order_by("fee_recorded_at", "pk")
    )
    for order in orders:
        if (ChargeSource.CA_FEE, str(order.pk)) in recorded:
            continue
        if (order.fee_currency or "JPY").upper() != "JPY":
            result.skipped.append({"source": "ca_fee", "key": str(order.pk), "code": "not_yen"})
            continue
        amount = Decimal(order.fee_amount).quantize(Decimal(1), rounding=ROUND_DOWN)
        result.charges.append(
            Charge(
                client_id=order.managed.client_id,
                contract_id=getattr(order.managed, "contract_id", None),
                source=ChargeSource.CA_FEE,
                source_key=str(order.pk),
                description="",
                params={"source": "ca_fee", "names": list(order.names or []), "order": order.pk},
                occurred_on=timezone.localdate(order.fee_recorded_at),
                quantity=Decimal(1),
                unit_price=amount,
                tax_rate=TaxRate.STANDARD,
                tax_included=False,
            )
        )
    events = (
        IncidentEvent.objects.filter(
            kind=IncidentEventKind.EMERGENCY_MEASURE,
            billable=True,
            minutes__isnull=False,
            at__lt=_day_end(until),
        )
        .select_related("incident")
        .order_by("at", "pk")
    )
    rate = Decimal(issuer.work_rate_per_hour or 0)
    for event in events:
        if (ChargeSource.EMERGENCY, str(event.pk)) in recorded:
            continue
        if rate <= 0:
            result.skipped.append(
                {"source": "emergency", "key": str(event.pk), "code": "no_work_rate"}
            )
            continue
        amount = Decimal(math.floor(Fraction(event.minutes, 60) * Fraction(rate)))
        day = timezone.localdate(event.at)
        result.charges.append(
            Charge(
                client_id=event.incident.client_id,
                source=ChargeSource.EMERGENCY,
                source_key=str(event.pk),
                description="",
                params={
                    "source": "emergency",
                    "minutes": event.minutes,
                    "date": day.isoformat(),
                    "incident": event.incident_id,
                },
                occurred_on=day,
                quantity=Decimal(1),
                unit_price=amount,
                tax_rate=TaxRate.STANDARD,
                tax_included=False,
            )
        )
    result.charges += accepted_charges(until, recorded)
    return result


def record_charges(until: date, issuer: IssuerProfile | None = None) -> Pending:
    """Record the pending charges (each with its audit event); idempotent: a charge recorded
    meanwhile by another run is left as it is."""
    pending = pending_charges(until, issuer)
    saved = []
    for charge in pending.charges:
        try:
            with transaction.atomic():
                charge.save()
                audit.record(
                    "charge.create",
                    charge,
                    actor_label="invoice run",
                    changes={
                        "source": charge.source,
                        "source_key": charge.source_key,
                        "unit_price": str(charge.unit_price),
                        "occurred_on": charge.occurred_on.isoformat(),
                    },
                    client_id=charge.client_id,
                )
            saved.append(charge)
        except IntegrityError:
            continue
    pending.charges = saved
    return pending
