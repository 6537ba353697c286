"""Vault pages under ``/vault/``."""

from django.urls import path

from mamori.vault import views

urlpatterns = [
    path("", views.vault_list, name="vault_list"),
    path("clients/<str:code>/add/", views.secret_add, name="secret_add"),
    path("<int:pk>/", views.secret_detail, name="secret_detail"),
    path("<int:pk>/edit/", views.secret_edit, name="secret_edit"),
    path("<int:pk>/reveal/", views.secret_reveal, name="secret_reveal"),
    path("<int:pk>/destroy/", views.secret_destroy, name="secret_destroy"),
]
