"""Consumption tax once per rate per invoice (BIL-03), with answers computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mamori.billing import tax
from mamori.billing.tax import TaxLine

D = Decimal


def lines(*specs):
    return [TaxLine(D(amount), rate, included) for amount, rate, included in specs]


@pytest.mark.req("BIL-03")
def test_tax_exclusive_lines_are_summed_before_one_rounding():
    # Three lines of ¥105 at 10 %: per line 10.5 → 10 each = 30 (not allowed);
    # once: 315 × 10 / 100 = 31.5 → floor 31.
    totals = tax.compute(lines((105, 10, False), (105, 10, False), (105, 10, False)))
    (ten,) = totals.rates
    assert (ten.rate, ten.net, ten.tax, ten.gross) == (10, D(315), D(31), D(346))
    assert not ten.reduced
    assert (totals.net_total, totals.tax_total, totals.total) == (D(315), D(31), D(346))


@pytest.mark.req("BIL-03")
def test_tax_inclusive_lines_extract_the_tax_once():
    # ¥5,500 + ¥3,333 tax-inclusive at 10 %: 8,833 × 10 / 110 = 803.0 → 803; net 8,030.
    (ten,) = tax.compute(lines((5500, 10, True), (3333, 10, True))).rates
    assert (ten.net, ten.tax, ten.gross, ten.tax_included) == (D(8030), D(803), D(8833), True)
    # ¥1,000 inclusive: 1000 × 10 / 110 = 90.909… → floor 90, half-up 91, ceiling 91.
    assert tax.compute(lines((1000, 10, True))).tax_total == D(90)
    assert tax.compute(lines((1000, 10, True)), "half_up").tax_total == D(91)
    assert tax.compute(lines((1000, 10, True)), "ceiling").tax_total == D(91)


@pytest.mark.req("BIL-03")
def test_each_rate_separately_and_reduced_rate_marked():
    # 10 %: 1,234 + 766 = 2,000 → tax 200.  8 % (reduced): 1,001 → 80.08 → 80.
    # Not taxable: 500 → 0.  Total 2,000 + 200 + 1,001 + 80 + 500 = 3,781.
    totals = tax.compute(
        lines((1234, 10, False), (1001, 8, False), (766, 10, False), (500, 0, False))
    )
    assert [(r.rate, r.reduced, r.net, r.tax) for r in totals.rates] == [
        (10, False, D(2000), D(200)),
        (8, True, D(1001), D(80)),
        (0, False, D(500), D(0)),
    ]
    assert totals.total == D(3781)
    # Rounding modes on 8 %: 1,001 × 0.08 = 80.08: half-up 80, ceiling 81.
    assert tax.compute(lines((1001, 8, False)), "half_up").tax_total == D(80)
    assert tax.compute(lines((1001, 8, False)), "ceiling").tax_total == D(81)


@pytest.mark.req("BIL-03")
def test_negative_lines_reduce_the_group_before_rounding():
    # Monthly fee ¥50,000 with an SLA credit of −¥5,000 (10 %, exclusive):
    # 45,000 × 0.1 = 4,500 exactly; total 49,500.
    totals = tax.compute(lines((50000, 10, False), (-5000, 10, False)))
    assert (totals.net_total, totals.tax_total, totals.total) == (D(45000), D(4500), D(49500))
    # A credit note of −¥105: −10.5 → −10 (rounded by size, as ¥10.5 → ¥10).
    assert tax.compute(lines((-105, 10, False))).tax_total == D(-10)


@pytest.mark.req("BIL-03")
def test_a_rate_mixing_inclusive_and_exclusive_lines_is_refused():
    with pytest.raises(tax.MixedTaxBasis) as caught:
        tax.compute(lines((5500, 10, True), (1000, 10, False)))
    assert caught.value.code == "mixed_tax_basis" and caught.value.rate == 10
    # Different rates may use different bases on one invoice: 5,500 incl. → 500;
    # 1,000 excl. at 8 % → 80.
    totals = tax.compute(lines((5500, 10, True), (1000, 8, False)))
    assert totals.tax_total == D(580) and totals.total == D(5500 + 1080)
