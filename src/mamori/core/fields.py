"""Model fields with a rule of their own."""

from __future__ import annotations

import decimal

from django.db import models
from django.utils.functional import cached_property


class LenientDecimalField(models.DecimalField):
    """A DecimalField that reads back whatever is stored in it.

    SQLite keeps any number it is given, and Django's SQLite backend rounds what it reads within
    ``max_digits`` digits: a single value out of range (written before writes were checked, or
    by hand) would then fail every query that selects the column, and every page listing it.
    Reading rounds to ``decimal_places`` without that limit, so such a value shows and can be
    corrected; writes are still held to ``max_digits`` by the field's validators
    (``full_clean``), and PostgreSQL refuses them in any case.
    """

    @cached_property
    def context(self) -> decimal.Context:
        # Used only by the SQLite backend's reading and by to_python() for floats.
        return decimal.Context(prec=decimal.MAX_PREC)

    def to_python(self, value):
        if isinstance(value, float):
            # As DecimalField: a float keeps the field's digits, not its binary expansion.
            value = decimal.Context(prec=self.max_digits).create_decimal_from_float(value)
        return super().to_python(value)
