"""Monitoring pages: sla."""

urlpatterns: list = []
