"""URLs of the audit trail, under ``/audit/``."""

from django.urls import path

from mamori.core import audit_views

urlpatterns = [
    path("", audit_views.audit_list, name="audit_list"),
    path("<int:sequence>/", audit_views.audit_detail, name="audit_detail"),
]
