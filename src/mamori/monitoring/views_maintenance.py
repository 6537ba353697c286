"""Monitoring pages: maintenance."""

urlpatterns: list = []
