"""Pages of support hours: a contract's support hours, the provider's closed days (included by
mamori.desk.urls)."""

from django.urls import path

from mamori.desk import hours_views as views

urlpatterns: list = [
    path("contracts/<int:pk>/hours/", views.support_hours, name="contract_support_hours"),
    path("closed-days/", views.closed_days, name="desk_closed_days"),
    path("closed-days/<int:pk>/delete/", views.closed_day_delete, name="desk_closed_day_delete"),
]
