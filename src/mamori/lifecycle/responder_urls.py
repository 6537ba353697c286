"""Placeholder: the ACME HTTP-01 responder, filled in by its owner."""

urlpatterns: list = []
