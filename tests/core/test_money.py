"""Money as people write it, in both languages (issue 15): ¥15,000 / 15,000円."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from mamori.core.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "language", "shown"),
    [
        (15000, "JPY", "en", "¥15,000"),
        (15000, "JPY", "ja", "15,000円"),
        (Decimal("15000.00"), "JPY", "ja", "15,000円"),
        (Decimal("-2500"), "JPY", "en", "-¥2,500"),
        (Decimal("1234.5"), "USD", "en", "$1,234.50"),
        (Decimal("1234.5"), "USD", "ja", "$1,234.50"),
        (Decimal("99"), "CHF", "en", "99 CHF"),
        (None, "JPY", "ja", "—"),
    ],
)
def test_it_writes_amounts_as_people_do(amount, currency, language, shown):
    assert format_money(amount, currency, language) == shown


def test_the_template_filter_speaks_the_active_language():
    template = Template("{% load money %}{{ amount|money:currency }}")
    context = Context({"amount": Decimal("15000"), "currency": "JPY"})
    with translation.override("ja"):
        assert template.render(context) == "15,000円"
    with translation.override("en"):
        assert template.render(context) == "¥15,000"
