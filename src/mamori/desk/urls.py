"""The desk's pages: the operators' queue, a request, the client's requests in the portal.

Each part of the desk keeps its own list (names stay flat, e.g. "request_detail")."""

from django.urls import include, path

from mamori.desk import views

urlpatterns: list = [
    path("", views.desk_queue, name="desk_queue"),
    path("new/<str:code>/", views.request_new, name="request_new"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/message/", views.request_message, name="request_message"),
    path("requests/<int:pk>/action/", views.request_action, name="request_action"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment_download"),
    path("", include("mamori.desk.catalogue_urls")),
    path("", include("mamori.desk.hours_urls")),
    path("", include("mamori.desk.wait_urls")),
    path("", include("mamori.desk.mail_urls")),
]
