"""URLs of contacts' chat channels (NOT-03), under /notices/channels/. Names are flat."""

from django.urls import path

from mamori.notices import channel_views as views

urlpatterns = [
    path("contacts/<int:pk>/", views.channel_list, name="channel_list"),
    path("contacts/<int:pk>/add/", views.channel_add, name="channel_add"),
    path("<int:pk>/delete/", views.channel_delete, name="channel_delete"),
    path("<int:pk>/test/", views.channel_test, name="channel_test"),
]
