"""Pages of vulnerabilities and updates (included by mamori.urls under advisories/)."""

from django.urls import path

from mamori.advisories import views

urlpatterns: list = [
    path("", views.overview, name="advisory_overview"),
    path("servers/<int:pk>/", views.server_findings, name="advisory_server"),
    path("updates/", views.update_list, name="advisory_updates"),
    path("updates/<int:pk>/", views.update_detail, name="advisory_update"),
]
