"""Consumption tax of a qualified invoice (適格請求書, BIL-03).

The rule (消費税法施行令 70条の10, 消費税法基本通達 1-8-15, 国税庁 インボイス Q&A 問57): the
tax is computed **once per tax rate per invoice** and rounded to the yen once, with the issuer's
rounding (``IssuerProfile.tax_rounding``, floor by default). Rounding each line and adding the
results up is not allowed.

Per rate, the lines are summed first:

- tax-exclusive lines: ``tax = round(sum × rate / 100)``; net = sum; gross = net + tax;
- tax-inclusive lines: ``tax = round(sum × rate / (100 + rate))``; gross = sum; net = gross − tax.

**Mixed groups are refused.** A qualified invoice states the consideration per rate either
tax-exclusive or tax-inclusive; turning one line from one basis into the other needs a rounding
of that line, which is the per-line rounding the rule forbids. So a rate group mixing
tax-inclusive and tax-exclusive lines raises :class:`MixedTaxBasis` (code
``mixed_tax_basis``): the operator states that client's fees of that rate on one basis (the
contract says which: 001 §11 is tax-inclusive, 002 §7 and 004 §34 tax-exclusive). Different
rates may use different bases on one invoice.

Negative sums (SLA credits, credit notes) are rounded by their size, so a credit of −¥4.5 tax
becomes −¥4 under floor, as ¥4.5 becomes ¥4: the credit note mirrors the invoice it corrects.
Rate 0 (not taxable) has no tax. Reduced-rate groups (8 %) are marked ``reduced``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from mamori.billing.models import REDUCED_RATES, TaxRounding


class MixedTaxBasis(ValueError):
    """A rate group mixes tax-inclusive and tax-exclusive lines."""

    code = "mixed_tax_basis"

    def __init__(self, rate: int):
        self.rate = rate
        super().__init__(
            f"the {rate}% lines mix tax-inclusive and tax-exclusive amounts; "
            "state that client's fees of this rate on one basis"
        )


@dataclass(frozen=True)
class TaxLine:
    """What the arithmetic needs of a line: its amount, rate and basis."""

    amount: Decimal
    tax_rate: int
    tax_included: bool = False


@dataclass(frozen=True)
class RateTotal:
    rate: int
    reduced: bool
    tax_included: bool
    net: Decimal
    tax: Decimal
    gross: Decimal

    def as_json(self) -> dict:
        """As :attr:`Invoice.totals` keeps it (amounts as strings)."""
        return {
            "rate": self.rate,
            "reduced": self.reduced,
            "tax_included": self.tax_included,
            "net": str(self.net),
            "tax": str(self.tax),
            "gross": str(self.gross),
        }


@dataclass(frozen=True)
class Totals:
    rates: list[RateTotal] = field(default_factory=list)

    @property
    def net_total(self) -> Decimal:
        return sum((r.net for r in self.rates), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((r.tax for r in self.rates), Decimal(0))

    @property
    def total(self) -> Decimal:
        return sum((r.gross for r in self.rates), Decimal(0))


def round_yen(value: Fraction, rounding: str = TaxRounding.FLOOR) -> Decimal:
    """``value`` rounded to the yen by its size (see the module's note on negative sums)."""
    sign = -1 if value < 0 else 1
    size = abs(Fraction(value))
    if rounding == TaxRounding.CEILING:
        whole = math.ceil(size)
    elif rounding == TaxRounding.HALF_UP:
        whole = math.floor(size + Fraction(1, 2))
    else:
        whole = math.floor(size)
    return Decimal(sign * whole)


def tax_of(amount: Decimal, rate: int, tax_included: bool, rounding: str) -> Decimal:
    """The tax in ``amount`` (a group's sum) at ``rate`` percent, rounded once."""
    if not rate:
        return Decimal(0)
    share = Fraction(rate, 100 + rate) if tax_included else Fraction(rate, 100)
    return round_yen(Fraction(amount) * share, rounding)


def compute(lines: Iterable, rounding: str = TaxRounding.FLOOR) -> Totals:
    """Totals per rate of ``lines`` (anything with ``amount``, ``tax_rate``, ``tax_included``),
    highest rate first. Raises :class:`MixedTaxBasis`."""
    groups: dict[int, list] = {}
    for line in lines:
        groups.setdefault(int(line.tax_rate), []).append(line)
    rates = []
    for rate in sorted(groups, reverse=True):
        group = groups[rate]
        bases = {bool(line.tax_included) for line in group}
        if len(bases) > 1:
            raise MixedTaxBasis(rate)
        included = bases.pop()
        amount = sum((Decimal(line.amount) for line in group), Decimal(0))
        tax = tax_of(amount, rate, included, rounding)
        net, gross = (amount - tax, amount) if included else (amount, amount + tax)
        rates.append(
            RateTotal(
                rate=rate,
                reduced=rate in REDUCED_RATES,
                tax_included=included,
                net=net,
                tax=tax,
                gross=gross,
            )
        )
    return Totals(rates)
