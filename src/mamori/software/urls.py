"""Pages of the software inventory (MNT-01, MNT-07), under /software/."""

from django.urls import path

from mamori.software import views

app_name = "software"

urlpatterns = [
    path("servers/<int:pk>/", views.server_software, name="server"),
    path("servers/<int:pk>/packages/", views.server_packages, name="packages"),
    path("servers/<int:pk>/setup/", views.server_setup, name="setup"),
    path("servers/<int:pk>/collect/", views.server_collect, name="collect"),
    path(
        "account-events/<int:pk>/acknowledge/",
        views.account_event_acknowledge,
        name="account_event_acknowledge",
    ),
]
