"""Pages of monthly reports (included by mamori.urls under reports/)."""

from django.urls import path

from mamori.reports import views

urlpatterns: list = [
    path("", views.report_list, name="report_list"),
    path("build/", views.report_build, name="report_build"),
    path("settings/<slug:code>/", views.report_settings, name="report_settings"),
    path("<int:pk>/", views.report_detail, name="report_detail"),
    path("<int:pk>/rebuild/", views.report_rebuild, name="report_rebuild"),
    path("<int:pk>/release/", views.report_release, name="report_release"),
    path("<int:pk>/<str:language>.pdf", views.report_pdf, name="report_pdf"),
]
