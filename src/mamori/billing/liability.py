"""The liability cap of a contract on a day (BIL-06), with the arithmetic shown.

The rule is data: a code per kind of contract (:data:`DEFAULT_RULES`), which a contract's terms
profile may name instead later (:func:`rule_for` asks ``contract.terms_profile.liability_rule``
when there is one). The rules, from the seed contracts:

- ``paid_12_months`` (000 §12.3): the fees the client paid in the 12 months up to the day;
- ``paid_6_months`` (001 §16.2, 002 §18.2): the fees paid in the 6 months up to the day;
- ``received_remaining_months`` (003 §25): the fee received for the current term, for the whole
  months left of it (a part month is dropped), pro rata: received × months left ÷ term months;
- ``one_month_fee`` (004 §39): one month of the ordinary monthly fees in force that day.

"Paid" is read from recorded payments: each payment of an invoice counts for this contract in the
share of the invoice's total that the contract's fee lines make (the whole payment when only this
contract's fees are on it), in yen rounded down. Amounts include consumption tax, as paid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mamori.billing.fees import fees_in_force
from mamori.billing.models import FeeKind, InvoiceKind, InvoiceLine, Payment
from mamori.clients.models import Contract, ContractType
from mamori.core.money import format_money

PAID_12 = "paid_12_months"
PAID_6 = "paid_6_months"
RECEIVED_REMAINING = "received_remaining_months"
ONE_MONTH = "one_month_fee"

#: Each rule's name, in the reader's language.
RULES = {
    PAID_12: gettext_lazy("Fees paid in the last 12 months"),
    PAID_6: gettext_lazy("Fees paid in the last 6 months"),
    RECEIVED_REMAINING: gettext_lazy("Fee received, for the whole months left, pro rata"),
    ONE_MONTH: gettext_lazy("One month's ordinary monthly fee"),
}

#: The rule of each kind of contract, as its seed says (000 to 004).
DEFAULT_RULES = {
    ContractType.SSL_MANAGEMENT: PAID_12,  # 000 §12.3
    ContractType.SITE_MAINTENANCE: PAID_6,  # 001 §16.2
    ContractType.SERVER_MANAGEMENT: PAID_6,  # 002 §18.2
    ContractType.CA_SERVICE: RECEIVED_REMAINING,  # 003 §25
    ContractType.OPERATIONS_SUPPORT: ONE_MONTH,  # 004 §39
}
#: Where each rule comes from.
CLAUSES = {
    PAID_12: "000 §12.3",
    PAID_6: "001 §16.2 / 002 §18.2",
    RECEIVED_REMAINING: "003 §25",
    ONE_MONTH: "004 §39",
}


@dataclass
class Step:
    """One line of the arithmetic: a date, what it is, an amount."""

    what: str
    amount: Decimal
    day: dt.date | None = None


@dataclass
class Cap:
    contract: Contract
    on: dt.date
    rule: str
    amount: Decimal
    steps: list[Step] = field(default_factory=list)
    #: The arithmetic in one line, e.g. "¥33,000 + ¥33,000 = ¥66,000".
    formula: str = ""
    period_start: dt.date | None = None

    @property
    def rule_label(self) -> str:
        return str(RULES[self.rule])

    @property
    def clause(self) -> str:
        return CLAUSES[self.rule]

    def as_dict(self) -> dict:
        return {
            "client": self.contract.client.code,
            "contract": self.contract.pk,
            "contract_type": self.contract.type,
            "on": self.on.isoformat(),
            "rule": self.rule,
            "clause": self.clause,
            "amount": str(self.amount),
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "steps": [
                {
                    "what": s.what,
                    "amount": str(s.amount),
                    "date": s.day.isoformat() if s.day else None,
                }
                for s in self.steps
            ],
            "formula": self.formula,
        }


def rule_for(contract: Contract) -> str:
    """The contract's rule code: its terms profile's, else its kind's default."""
    profile = getattr(contract, "terms_profile", None)
    code = getattr(profile, "liability_rule", "") if profile is not None else ""
    if code in RULES:
        return code
    return DEFAULT_RULES.get(contract.type, PAID_12)


def yen_down(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_FLOOR)


def gross(line: InvoiceLine) -> Decimal:
    """A line's amount with its consumption tax (as the client pays it)."""
    if line.tax_included or not line.tax_rate:
        return line.amount
    return line.amount * (100 + line.tax_rate) / 100


def contract_share(invoice_lines: list[InvoiceLine], contract: Contract) -> Decimal:
    """The share (0 to 1) of an invoice that is ``contract``'s fees."""
    total = sum((gross(line) for line in invoice_lines), start=Decimal(0))
    mine = sum(
        (
            gross(line)
            for line in invoice_lines
            if line.fee is not None and line.fee.contract_id == contract.pk
        ),
        start=Decimal(0),
    )
    if mine <= 0 or total <= 0:
        return Decimal(0)
    return min(Decimal(1), mine / total)


def payments_for(contract: Contract, start: dt.date | None, end: dt.date) -> list[Step]:
    """The contract's share of each payment received from after ``start`` to ``end``."""
    payments = (
        Payment.objects.filter(
            invoice__kind=InvoiceKind.INVOICE,
            invoice__lines__fee__contract=contract,
            received_on__lte=end,
        )
        .distinct()
        .select_related("invoice")
        .order_by("received_on", "pk")
    )
    if start is not None:
        payments = payments.filter(received_on__gt=start)
    lines_of: dict[int, list[InvoiceLine]] = {}
    steps = []
    for payment in payments:
        if payment.invoice_id not in lines_of:
            lines_of[payment.invoice_id] = list(
                InvoiceLine.objects.filter(invoice_id=payment.invoice_id).select_related("fee")
            )
        share = contract_share(lines_of[payment.invoice_id], contract)
        amount = yen_down(payment.amount * share)
        if amount <= 0:
            continue
        what = payment.invoice.number
        if share < 1:
            what = _("%(number)s (this contract's share of %(paid)s)") % {
                "number": what,
                "paid": format_money(payment.amount),
            }
        steps.append(Step(what, amount, payment.received_on))
    return steps


def _sum_formula(steps: list[Step], total: Decimal) -> str:
    if not steps:
        return format_money(total)
    return " + ".join(format_money(s.amount) for s in steps) + f" = {format_money(total)}"


def current_term(contract: Contract, on: dt.date) -> tuple[dt.date, dt.date]:
    """The term of ``contract`` that contains ``on`` (terms of ``term_months`` from the start)."""
    months = max(1, contract.term_months)
    start = contract.start
    n = 0
    while contract.start + relativedelta(months=months * (n + 1)) <= on:
        n += 1
    start = contract.start + relativedelta(months=months * n)
    end = contract.start + relativedelta(months=months * (n + 1)) - dt.timedelta(days=1)
    return start, end


def liability_cap(contract: Contract, on: dt.date) -> Cap:
    """The cap of ``contract`` on ``on``, by its rule (:func:`rule_for`)."""
    rule = rule_for(contract)
    if rule in (PAID_12, PAID_6):
        months = 12 if rule == PAID_12 else 6
        start = on - relativedelta(months=months)
        steps = payments_for(contract, start, on)
        total = sum((s.amount for s in steps), start=Decimal(0))
        return Cap(
            contract,
            on,
            rule,
            total,
            steps,
            _sum_formula(steps, total),
            period_start=start + dt.timedelta(days=1),
        )
    if rule == RECEIVED_REMAINING:
        term_start, term_end = current_term(contract, on)
        steps = payments_for(contract, term_start - dt.timedelta(days=1), on)
        received = sum((s.amount for s in steps), start=Decimal(0))
        left = relativedelta(term_end + dt.timedelta(days=1), on)
        months_left = max(0, left.years * 12 + left.months)
        term_months = max(1, contract.term_months)
        amount = yen_down(received * months_left / term_months)
        formula = _(
            "%(received)s received × %(left)s whole months left ÷ %(term)s months = %(amount)s"
        ) % {
            "received": format_money(received),
            "left": months_left,
            "term": term_months,
            "amount": format_money(amount),
        }
        return Cap(contract, on, rule, amount, steps, formula, period_start=term_start)
    # ONE_MONTH
    monthly = [f for f in fees_in_force(contract, on) if f.kind == FeeKind.MONTHLY]
    steps = []
    for fee in monthly:
        amount = fee.amount
        if not fee.tax_included and fee.tax_rate:
            amount = yen_down(amount * (100 + fee.tax_rate) / 100)
        steps.append(Step(fee.description or fee.get_kind_display(), amount, fee.starts_on))
    total = sum((s.amount for s in steps), start=Decimal(0))
    return Cap(contract, on, rule, total, steps, _sum_formula(steps, total))
