"""URLs of the issuer settings, a contract's fees, changes and liability cap, and an invoice's
payments (included under ``/billing/``)."""

from django.urls import path

from mamori.billing import payment_views as views

urlpatterns = [
    path("issuer/", views.issuer_settings, name="issuer_settings"),
    path("contracts/<int:pk>/", views.contract_billing, name="contract_billing"),
    path("contracts/<int:pk>/fees/add/", views.fee_add, name="fee_add"),
    path("fees/<int:pk>/", views.fee_edit, name="fee_edit"),
    path("fees/<int:pk>/delete/", views.fee_delete, name="fee_delete"),
    path("contracts/<int:pk>/changes/add/", views.change_add, name="change_add"),
    path("changes/<int:pk>/", views.change_detail, name="change_detail"),
    path("changes/<int:pk>/decide/", views.change_decide, name="change_decide"),
    path("invoices/<str:number>/payments/", views.invoice_payments, name="invoice_payments"),
    path("invoices/<str:number>/payments/add/", views.payment_add, name="payment_add"),
    path("invoices/<str:number>/interest/", views.interest_bill, name="interest_bill"),
    path("clients/<str:code>/surcharge/", views.surcharge_add, name="surcharge_add"),
]
