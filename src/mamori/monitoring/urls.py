"""URLs of monitoring under ``/monitoring/`` (names stay flat, e.g. "incident_detail"). Each
part keeps its pages in its own views module."""

from mamori.monitoring import views_checks, views_incidents, views_maintenance, views_sla

urlpatterns = [
    *views_checks.urlpatterns,
    *views_incidents.urlpatterns,
    *views_maintenance.urlpatterns,
    *views_sla.urlpatterns,
]
