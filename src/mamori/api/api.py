"""The REST API under ``/api/v1/`` (django-ninja), with its OpenAPI document."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from mamori.api import (
    advisories,
    announcements,
    audit,
    backups,
    billing,
    billing_estimates,
    billing_payments,
    certificates,
    client_records,
    clients,
    contract_terms,
    desk_catalogue,
    desk_hours,
    desk_requests,
    desk_waits,
    errors,
    inventory,
    inventory_records,
    lifecycle_acme,
    lifecycle_deploy,
    lifecycle_managed,
    lifecycle_orders,
    monitoring_checks,
    monitoring_incidents,
    monitoring_maintenance,
    monitoring_sla,
    notices,
    reports,
    retention,
    software,
    vault,
    weblogs,
)
from mamori.api.auth import AUTH

logger = logging.getLogger(__name__)


#: Answers that come from the framework, not from a route's own code, and the operations they can
#: happen to; each route's ``response=`` lists the answers of its own code (403, 404, 409...).
FRAMEWORK_ANSWERS = {
    400: "The body is not JSON.",
    401: "No valid credentials: a bearer token, or a signed-in session.",
    403: "Forbidden: a signed-in session without the CSRF token, or a role that may not.",
    422: "The input does not match this document, or breaks a rule: `detail` lists the error "
    "of each field (`loc`, `msg`).",
}
SAFE_METHODS = {"get", "head", "options"}


def framework_answers(method: str, operation: dict) -> list[int]:
    """The status codes the framework can answer ``operation`` with."""
    codes = []
    body = "requestBody" in operation
    if body:
        codes.append(400)
    security = operation.get("security") or []
    if security:
        codes.append(401)
        if method not in SAFE_METHODS and any("Session" in scheme for scheme in security):
            codes.append(403)
    if body or operation.get("parameters"):
        codes.append(422)
    return codes


class MamoriAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        # Short, stable ids (list_clients, create_endpoint...): view names are unique.
        return operation.view_func.__name__

    def get_openapi_schema(self, **kwargs):
        """The document, with the framework's answers listed on every operation that can get
        them (so that a client, or a fuzzer, finds no status code it was not told about)."""
        schema = super().get_openapi_schema(**kwargs)
        error = {"$ref": "#/components/schemas/Error"}
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for code in framework_answers(method, operation):
                    responses.setdefault(
                        code,
                        {
                            "description": FRAMEWORK_ANSWERS[code],
                            "content": {"application/json": {"schema": error}},
                        },
                    )
                operation["responses"] = dict(
                    sorted(responses.items(), key=lambda item: int(item[0]))
                )
        return schema


api = MamoriAPI(
    title="Mamori API",
    version="1",
    description=(
        "Clients, their contacts, contracts, sites, servers, domains and endpoints, certificates "
        "and notices of the clients you may see.\n\n"
        "Authenticate with `Authorization: Bearer <token>` (create one with "
        "`mamori token create USERNAME`), or from the browser with your signed-in session "
        '(unsafe methods then need the CSRF token). Errors are JSON: `{"detail": …}`.'
    ),
    urls_namespace="api",
    auth=AUTH,
)

api.add_router("/clients", clients.router)
api.add_router("/endpoints", inventory.router)
api.add_router("/sites", inventory_records.sites)
api.add_router("/servers", inventory_records.servers)
api.add_router("/domains", inventory_records.domains)
api.add_router("/contacts", client_records.contacts)
api.add_router("/contracts", client_records.contracts)
api.add_router("/contracts", contract_terms.notices)
api.add_router("/terms-profiles", contract_terms.profiles)
api.add_router("/certificates", certificates.router)
api.add_router("/notices", notices.router)
api.add_router("/vault", vault.router)
api.add_router("/audit", audit.router)
# The certificate lifecycle: each router mounts its own paths (/managed-certificates, /orders,
# /deployment-targets, ...).
api.add_router("", lifecycle_managed.router)
api.add_router("", lifecycle_orders.router)
api.add_router("", lifecycle_deploy.router)
api.add_router("", lifecycle_acme.router)
# Incidents (/incidents...).
api.add_router("", monitoring_incidents.router)
api.add_router("", monitoring_checks.router)
api.add_router("", monitoring_maintenance.router)
api.add_router("/sla", monitoring_sla.router)
# Money (issue 16): invoices and credit notes.
api.add_router("", billing.router)
# Billing: fees, liability cap and changes of contracts; payments and interest of invoices.
api.add_router("", billing_payments.router)
# The work desk: client requests (mounts /requests).
api.add_router("", desk_requests.router)
# The work desk's scope of work: catalogues, classification, allowance, work log.
api.add_router("", desk_catalogue.router)
# The work desk's support hours (MNT-05): closed days, contracts' support hours, targets.
api.add_router("", desk_hours.router)
# The work desk's waits on the client, unanswered for a month, personal-data incidents.
api.add_router("", desk_waits.router)
# Estimates (見積書): drafted from desk requests, accepted or declined by the client.
api.add_router("", billing_estimates.router)
# The software on managed servers and their accounts (MNT-01, MNT-07).
api.add_router("", software.router)
# Visitors of managed sites from their access logs (MNT-06).
api.add_router("", weblogs.router)
# Backups (BKP-01, BKP-02): /backup-jobs and their runs.
api.add_router("", backups.router)
# Vulnerabilities and updates (MNT-02).
api.add_router("", advisories.router)
# Records kept after the contract ends (END-02): the plan.
api.add_router("/retention", retention.router)
api.add_router("", announcements.router)
# Monthly reports (RPT-01).
api.add_router("", reports.router)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": errors.FORBIDDEN}, status=403)


@api.exception_handler(Exception)
def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Never a traceback for the caller, whatever DEBUG says; the log has it.
    logger.exception("API error on %s %s", request.method, request.path)
    return api.create_response(request, {"detail": "Internal Server Error"}, status=500)
