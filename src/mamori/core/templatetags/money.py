"""``{{ amount|money:currency }}``: see :func:`mamori.core.money.format_money`."""

from django import template

from mamori.core.money import format_money

register = template.Library()


@register.filter
def money(amount, currency="JPY") -> str:
    return format_money(amount, currency)
