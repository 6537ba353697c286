"""Every URL of the web UI and the API.

Each page view requires sign-in and fetches rows through ``visible_to(user)``; the tenancy test
(tests/web/test_tenancy.py) walks this list, so a new URL is either exercised there or
explicitly exempt.
"""

from django.urls import include, path

from mamori.access import login_views as login
from mamori.api.api import api
from mamori.billing import views as billing
from mamori.certificates import views as certificates
from mamori.clients import contract_views as contracts
from mamori.clients import offboarding_views as offboarding
from mamori.clients import record_views as records
from mamori.clients import views as clients
from mamori.core import views as core
from mamori.inventory import views as inventory
from mamori.notices import views as notices
from mamori.operations import views as operations

urlpatterns = [
    path("", operations.dashboard, name="dashboard"),
    path("login/", login.LoginView.as_view(), name="login"),
    path("logout/", login.LogoutView.as_view(), name="logout"),
    path("language/", core.set_language, name="set_language"),
    # Prometheus (docs/metrics.md): an API token of a provider administrator or operator.
    path("metrics", operations.metrics, name="metrics"),
    path("clients/", clients.client_list, name="client_list"),
    # "_add" cannot be a client's code (codes start with a letter or digit).
    path("clients/_add/", records.client_add, name="client_add"),
    path("clients/<str:code>/", clients.client_detail, name="client_detail"),
    path(
        "clients/<str:code>/contract/<int:pk>/", contracts.contract_detail, name="contract_detail"
    ),
    path("terms-profiles/", contracts.terms_profile_list, name="terms_profile_list"),
    path("terms-profiles/_add/", contracts.terms_profile_edit, name="terms_profile_add"),
    path("terms-profiles/<str:code>/", contracts.terms_profile_edit, name="terms_profile_edit"),
    path("clients/<str:code>/<slug:kind>/add/", records.record_add, name="record_add"),
    path("clients/<str:code>/<slug:kind>/<int:pk>/", records.record_edit, name="record_edit"),
    path(
        "clients/<str:code>/<slug:kind>/<int:pk>/delete/",
        records.record_delete,
        name="record_delete",
    ),
    # A client's contacts from "users and contacts" (the pages of the client's records).
    path(
        "account/clients/<str:code>/contacts/add/",
        records.contact_create,
        name="contact_create",
    ),
    path("account/contacts/<int:pk>/", records.contact_edit, name="contact_edit"),
    path("account/contacts/<int:pk>/delete/", records.contact_delete, name="contact_delete"),
    path("certificates/", certificates.certificate_list, name="certificate_list"),
    path(
        "certificates/<str:fingerprint>/",
        certificates.certificate_detail,
        name="certificate_detail",
    ),
    path(
        "certificates/<str:fingerprint>/pem/",
        certificates.certificate_pem,
        name="certificate_pem",
    ),
    path("endpoints/", inventory.endpoint_list, name="endpoint_list"),
    path("endpoints/add/", inventory.endpoint_add, name="endpoint_add"),
    path("endpoints/<int:pk>/", inventory.endpoint_detail, name="endpoint_detail"),
    path("endpoints/<int:pk>/edit/", inventory.endpoint_edit, name="endpoint_edit"),
    path("endpoints/<int:pk>/delete/", inventory.endpoint_delete, name="endpoint_delete"),
    path("endpoints/<int:pk>/check/", inventory.endpoint_check, name="endpoint_check"),
    path("import/", inventory.inventory_import, name="inventory_import"),
    path("import/format/", inventory.import_format, name="import_format"),
    path("import/template.yaml", inventory.import_template, name="import_template"),
    path("invoices/", billing.invoice_list, name="invoice_list"),
    path("invoices/<int:pk>/", billing.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/<str:language>.pdf", billing.invoice_pdf, name="invoice_pdf"),
    path("notices/", notices.notice_list, name="notice_list"),
    path("notices/<int:pk>/", notices.notice_detail, name="notice_detail"),
    path(
        "clients/<str:code>/offboarding/", offboarding.client_offboarding, name="client_offboarding"
    ),
    path(
        "clients/<str:code>/offboarding/export/",
        offboarding.client_offboarding_export,
        name="client_offboarding_export",
    ),
    path(
        "clients/<str:code>/offboarding/destroy/",
        offboarding.client_offboarding_destroy,
        name="client_offboarding_destroy",
    ),
    path(
        "clients/<str:code>/destruction-certificate/",
        offboarding.client_destruction_certificate,
        name="client_destruction_certificate",
    ),
    # Each of these apps keeps its own URL list (names stay flat, e.g. "vault_list").
    path("audit/", include("mamori.core.audit_urls")),
    path("vault/", include("mamori.vault.urls")),
    path("notices/channels/", include("mamori.notices.channel_urls")),
    path("account/", include("mamori.access.urls")),
    path("lifecycle/", include("mamori.lifecycle.urls")),
    path("monitoring/", include("mamori.monitoring.urls")),
    path("backups/", include("mamori.backups.urls")),
    # Records kept after the contract ends, and when they are purged (END-02).
    path("retention/", include("mamori.retention.urls")),
    # Billing: the issuer, a contract's fees, changes and liability cap, invoice payments.
    path("billing/", include("mamori.billing.payment_urls")),
    # The work desk: requests, support hours, personal-data incidents.
    path("desk/", include("mamori.desk.urls")),
    # The software on managed servers and their accounts (MNT-01, MNT-07).
    path("software/", include("mamori.software.urls")),
    # Visitors of managed sites from their access logs (MNT-06).
    path("visitors/", include("mamori.weblogs.urls")),
    path("estimates/", include("mamori.billing.estimate_urls")),
    # Vulnerabilities matched to the software inventory, and the record of updates (MNT-02).
    path("advisories/", include("mamori.advisories.urls")),
    path("announcements/", include("mamori.announcements.urls")),
    # The monthly report of each client (RPT-01).
    path("reports/", include("mamori.reports.urls")),
    # The ACME HTTP-01 responder answers at the path the CA asks for (RFC 8555 §8.3).
    path(".well-known/acme-challenge/", include("mamori.lifecycle.responder_urls")),
    path("api/v1/", api.urls),
]

handler400 = "mamori.core.views.bad_request"
handler403 = "mamori.core.views.permission_denied"
handler404 = "mamori.core.views.page_not_found"
handler500 = "mamori.core.views.server_error"
