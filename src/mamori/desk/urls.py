"""The desk's pages: the operators' queue, a request, the client's requests in the portal."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
