"""Pages of the scope of work: a contract's catalogue, classifying a request, its work log
(included by mamori.desk.urls under /desk/)."""

from django.urls import path

from mamori.desk import catalogue_views as views

urlpatterns: list = [
    path("contracts/<int:pk>/catalogue/", views.contract_catalogue, name="contract_catalogue"),
    path("contracts/<int:pk>/catalogue/apply/", views.catalogue_apply, name="catalogue_apply"),
    path("contracts/<int:pk>/catalogue/add/", views.catalogue_item_add, name="catalogue_item_add"),
    path("catalogue/<int:pk>/", views.catalogue_item_edit, name="catalogue_item_edit"),
    path("catalogue/<int:pk>/delete/", views.catalogue_item_delete, name="catalogue_item_delete"),
    path("requests/<int:pk>/classify/", views.request_classify, name="request_classify"),
    path("requests/<int:pk>/work/", views.work_add, name="work_add"),
    path("work/<int:pk>/", views.work_edit, name="work_edit"),
    path("work/<int:pk>/delete/", views.work_delete, name="work_delete"),
]
