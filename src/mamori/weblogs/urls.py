"""Pages of sites' visitors (MNT-06), under /visitors/."""

from django.urls import path

from mamori.weblogs import views

app_name = "weblogs"

urlpatterns = [
    path("sites/<int:pk>/", views.site_visitors, name="site"),
    path("sites/<int:pk>/setup/", views.site_setup, name="setup"),
    path("sites/<int:pk>/collect/", views.site_collect, name="collect"),
    path("sites/<int:pk>/import/", views.site_import, name="import"),
]
