"""The estimates' pages (見積書): operators make and issue them, clients accept or decline."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
