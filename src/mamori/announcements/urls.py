"""Pages of announcements (included by mamori.urls under announcements/)."""

from django.urls import path

from mamori.announcements import views

urlpatterns: list = [
    path("", views.announcement_list, name="announcement_list"),
    path("new/", views.announcement_form, name="announcement_add"),
    path("periods/", views.period_list, name="announcement_periods"),
    path("<int:pk>/", views.announcement_detail, name="announcement_detail"),
    path("<int:pk>/edit/", views.announcement_form, name="announcement_edit"),
    path("<int:pk>/send/", views.announcement_send, name="announcement_send"),
]
