"""Money as people write it: ¥15,000 in English, 15,000円 in Japanese (issue 15).

One formatter for every amount shown (the SLA credit, the CA fee…), in the active language unless
told otherwise. Yen have no minor unit: a whole amount is shown without decimals.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils import translation

# Currencies people write with a sign before the amount (in English, and in Japanese except yen).
SIGNS = {"JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}


def format_money(amount, currency: str = "JPY", language: str | None = None) -> str:
    """``amount`` of ``currency`` (ISO 4217) in ``language`` (default: the active one)."""
    if amount is None or amount == "":
        return "—"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    currency = (currency or "JPY").upper()
    language = (language or translation.get_language() or "ja")[:2]
    places = 0 if value == value.to_integral_value() else 2
    number = f"{value:,.{places}f}"
    if currency == "JPY" and language == "ja":
        return f"{number}円"
    if currency in SIGNS:
        sign = SIGNS[currency]
        return f"-{sign}{number[1:]}" if number.startswith("-") else f"{sign}{number}"
    return f"{number} {currency}"
