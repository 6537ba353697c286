"""Fixtures of the billing tests."""

# Issued invoices of acme and globex, built row by row (the invoice documents' tests).
from tests.billing.documents import invoices  # noqa: F401
