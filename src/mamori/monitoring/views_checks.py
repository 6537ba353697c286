"""Monitoring pages: checks."""

urlpatterns: list = []
