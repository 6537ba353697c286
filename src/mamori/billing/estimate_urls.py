"""The estimates' pages (見積書): operators make and issue them, clients accept or decline."""

from django.urls import path

from mamori.billing import estimate_views as views

urlpatterns: list = [
    path("", views.estimate_list, name="estimate_list"),
    path("new/<int:request_pk>/", views.estimate_create, name="estimate_create"),
    path("<int:pk>/", views.estimate_detail, name="estimate_detail"),
    path("<int:pk>/edit/", views.estimate_edit, name="estimate_edit"),
    path("<int:pk>/issue/", views.estimate_issue, name="estimate_issue"),
    path("<int:pk>/withdraw/", views.estimate_withdraw, name="estimate_withdraw"),
    path("<int:pk>/accept/", views.estimate_accept, name="estimate_accept"),
    path("<int:pk>/decline/", views.estimate_decline, name="estimate_decline"),
    path("<int:pk>/<str:language>.pdf", views.estimate_pdf_view, name="estimate_pdf"),
]
