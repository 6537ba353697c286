"""Pages of waiting on the client, the one-month rule and suspension (CT-09, NOT-05), and of
personal-data incidents (ACC-04); included by mamori.desk.urls."""

from django.urls import path

from mamori.desk import wait_views as views

urlpatterns: list = [
    path("requests/<int:pk>/waiting/", views.request_waits, name="request_waits"),
    path("requests/<int:pk>/waiting/start/", views.request_wait, name="request_wait"),
    path("requests/<int:pk>/waiting/end/", views.request_wait_end, name="request_wait_end"),
    path("requests/<int:pk>/suspend/", views.request_suspend, name="request_suspend"),
    path("requests/<int:pk>/resume/", views.request_resume, name="request_resume"),
    path("unanswered/", views.desk_unanswered, name="desk_unanswered"),
    path("data-incidents/<int:pk>/", views.data_incident_detail, name="data_incident_detail"),
    path(
        "data-incidents/<int:pk>/measures/",
        views.data_incident_measures,
        name="data_incident_measures",
    ),
    path(
        "clients/<str:code>/data-incidents/new/", views.data_incident_add, name="data_incident_add"
    ),
]
