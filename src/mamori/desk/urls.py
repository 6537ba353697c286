"""The desk's pages: the operators' queue, a request, the client's requests in the portal.

Each part of the desk keeps its own list (names stay flat, e.g. "request_detail")."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("mamori.desk.catalogue_urls")),
    path("", include("mamori.desk.hours_urls")),
    path("", include("mamori.desk.wait_urls")),
    path("", include("mamori.desk.mail_urls")),
]
