"""Pages of one part of the desk (included by mamori.desk.urls)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
