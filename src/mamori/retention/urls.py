from django.urls import path

from mamori.retention import views

urlpatterns = [
    path("", views.plan_page, name="retention_plan"),
]
