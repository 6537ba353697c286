"""URLs of the certificate lifecycle under ``/lifecycle/`` (names stay flat, e.g.
"managed_detail"). Each part of the lifecycle keeps its pages in its own views module."""

from mamori.lifecycle import views_acme, views_deploy, views_managed, views_orders, views_tasks

urlpatterns = [
    *views_managed.urlpatterns,
    *views_orders.urlpatterns,
    *views_deploy.urlpatterns,
    *views_tasks.urlpatterns,
    *views_acme.urlpatterns,
]
