"""The OpenAPI document is valid OpenAPI 3, describes every route and both ways to sign in, and
lists every status code an operation can answer."""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import re

import pytest
from django.test import Client
from openapi_spec_validator import validate

from mamori.api.api import api
from mamori.core.tokens import create_token

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401


def test_it_serves_a_valid_openapi_document(db, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {
        "/api/v1/backup-jobs",
        "/api/v1/backup-jobs/{job_id}",
        "/api/v1/backup-jobs/{job_id}/backup-now",
        "/api/v1/backup-jobs/{job_id}/drill-now",
        "/api/v1/backup-jobs/{job_id}/restore",
        "/api/v1/backup-runs",
        "/api/v1/retention/plan",
        "/api/v1/clients",
        "/api/v1/clients/{code}",
        "/api/v1/endpoints",
        "/api/v1/endpoints/{endpoint_id}",
        "/api/v1/endpoints/{endpoint_id}/check",
        "/api/v1/sites",
        "/api/v1/sites/{site_id}",
        "/api/v1/sites/{site_id}/visitors",
        "/api/v1/sites/{site_id}/visitors/collect",
        "/api/v1/sites/{site_id}/visitors/logs",
        "/api/v1/sites/{site_id}/visitors/setup",
        "/api/v1/servers",
        "/api/v1/servers/{server_id}",
        "/api/v1/domains",
        "/api/v1/domains/{domain_id}",
        "/api/v1/contacts",
        "/api/v1/contacts/{contact_id}",
        "/api/v1/contracts",
        "/api/v1/contracts/{contract_id}",
        "/api/v1/contracts/{contract_id}/notices",
        "/api/v1/terms-profiles",
        "/api/v1/terms-profiles/{profile_code}",
        "/api/v1/certificates",
        "/api/v1/certificates/{fingerprint}",
        "/api/v1/notices",
        "/api/v1/notices/{notice_id}",
        "/api/v1/audit",
        "/api/v1/vault/secrets",
        "/api/v1/vault/secrets/{secret_id}",
        "/api/v1/vault/secrets/{secret_id}/reveal",
        "/api/v1/managed-certificates",
        "/api/v1/managed-certificates/{managed_id}",
        "/api/v1/managed-certificates/{managed_id}/renew",
        "/api/v1/managed-certificates/{managed_id}/hold",
        "/api/v1/managed-certificates/{managed_id}/release",
        "/api/v1/approvals",
        "/api/v1/approvals/{approval_id}",
        "/api/v1/approvals/{approval_id}/approve",
        "/api/v1/approvals/{approval_id}/decline",
        "/api/v1/deployment-targets",
        "/api/v1/deployment-targets/{target_id}",
        "/api/v1/deployments",
        "/api/v1/deployments/{deployment_id}",
        "/api/v1/deployments/{deployment_id}/deploy",
        "/api/v1/clients/{code}/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/orders/{order_id}/steps",
        "/api/v1/orders/{order_id}/messages",
        "/api/v1/orders/{order_id}/fee",
        "/api/v1/orders/{order_id}/certificate",
        "/api/v1/clients/{code}/revocations",
        "/api/v1/revocations",
        "/api/v1/revocations/{revocation_id}",
        "/api/v1/revocations/{revocation_id}/done",
        "/api/v1/clients/{code}/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/wait",
        "/api/v1/tasks/{task_id}/resume",
        "/api/v1/tasks/{task_id}/close",
        "/api/v1/acme-accounts",
        "/api/v1/acme-accounts/{account_id}/register",
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/notes",
        "/api/v1/incidents/{incident_id}/cause",
        "/api/v1/incidents/{incident_id}/recovery",
        "/api/v1/incidents/{incident_id}/waiting",
        "/api/v1/incidents/{incident_id}/waiting/end",
        "/api/v1/checks",
        "/api/v1/checks/{check_id}",
        "/api/v1/checks/{check_id}/rollups",
        "/api/v1/maintenance-windows",
        "/api/v1/maintenance-windows/{window_id}",
        "/api/v1/maintenance-windows/{window_id}/cancel",
        "/api/v1/sla/credits",
        "/api/v1/invoices",
        "/api/v1/invoices/{number}",
        "/api/v1/invoices/{number}/credit-notes",
        "/api/v1/invoice-runs",
        "/api/v1/contracts/{contract_id}/fees",
        "/api/v1/contracts/{contract_id}/fees/{fee_id}",
        "/api/v1/contracts/{contract_id}/liability-cap",
        "/api/v1/contracts/{contract_id}/changes",
        "/api/v1/contract-changes/{change_id}/accept",
        "/api/v1/contract-changes/{change_id}/decline",
        "/api/v1/invoices/{invoice_number}/payments",
        "/api/v1/invoices/{invoice_number}/interest",
        "/api/v1/clients/{code}/surcharges",
        # The work desk's requests.
        "/api/v1/requests",
        "/api/v1/requests/{request_id}",
        "/api/v1/requests/{request_id}/messages",
        "/api/v1/requests/{request_id}/state",
        "/api/v1/requests/{request_id}/attachments",
        "/api/v1/requests/{request_id}/attachments/{attachment_id}",
        # The desk's scope of work and support hours.
        "/api/v1/contracts/{contract_id}/catalogue",
        "/api/v1/contracts/{contract_id}/catalogue/apply-shipped",
        "/api/v1/contracts/{contract_id}/catalogue/{item_id}",
        "/api/v1/contracts/{contract_id}/allowance",
        "/api/v1/requests/{request_id}/scope",
        "/api/v1/requests/{request_id}/work",
        "/api/v1/requests/{request_id}/work/{entry_id}",
        "/api/v1/desk/closed-days",
        "/api/v1/desk/closed-days/{closed_day_id}",
        "/api/v1/contracts/{contract_id}/support-hours",
        "/api/v1/requests/{request_id}/targets",
        # The desk: waits on the client, suspension, unanswered, personal-data incidents.
        "/api/v1/requests/{request_id}/waiting",
        "/api/v1/requests/{request_id}/waiting/end",
        "/api/v1/requests/{request_id}/suspend",
        "/api/v1/requests/{request_id}/resume",
        "/api/v1/desk/unanswered",
        "/api/v1/data-incidents",
        "/api/v1/data-incidents/{data_incident_id}",
        "/api/v1/data-incidents/{data_incident_id}/measures",
        "/api/v1/estimates",
        "/api/v1/estimates/{estimate_id}",
        "/api/v1/estimates/{estimate_id}/pdf",
        "/api/v1/estimates/{estimate_id}/issue",
        "/api/v1/estimates/{estimate_id}/withdraw",
        "/api/v1/estimates/{estimate_id}/accept",
        "/api/v1/estimates/{estimate_id}/decline",
        # The software on managed servers and their accounts (MNT-01, MNT-07).
        "/api/v1/servers/{server_id}/software",
        "/api/v1/servers/{server_id}/software/packages",
        "/api/v1/servers/{server_id}/software/setup",
        "/api/v1/servers/{server_id}/software/collect",
        "/api/v1/software/account-events/{account_event_id}/acknowledge",
        "/api/v1/advisories/data",
        "/api/v1/servers/{server_id}/findings",
        "/api/v1/updates",
        "/api/v1/updates/{update_id}",
        "/api/v1/announcements",
        "/api/v1/announcements/{announcement_id}",
        "/api/v1/announcements/{announcement_id}/send",
        "/api/v1/announcement-periods",
        "/api/v1/announcement-periods/{profile_code}",
        "/api/v1/reports",
        "/api/v1/reports/{report_id}",
        "/api/v1/reports/{report_id}/release",
        "/api/v1/clients/{code}/report-settings",
    }
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {"type": "http", "scheme": "bearer"}
    assert schemes["Session"]["in"] == "cookie"


def test_it_names_operations_plainly(db, client):
    spec = client.get("/api/v1/openapi.json").json()
    ids = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    assert {"list_certificates", "create_endpoint", "delete_endpoint"} <= ids


def test_it_serves_the_docs_page(db, client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.content.decode()


# --- every answer is documented (issue 13) -------------------------------------------------------

SPEC = api.get_openapi_schema()
OPERATIONS = sorted(
    (method, path)
    for path, ops in SPEC["paths"].items()
    for method in ops
    if method != "parameters"
)
IDS = [f"{m.upper()} {p}" for m, p in OPERATIONS]


def documented(method: str, path: str) -> set[int]:
    return {int(code) for code in SPEC["paths"][path][method]["responses"]}


def with_ids(path: str, value: str = "1") -> str:
    return re.sub(r"{\w+}", value, path)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=IDS)
def test_every_answer_of_the_framework_is_documented(method, path, scene, operator):
    """No credentials, no CSRF token, a body that is not JSON or not the schema, a path
    parameter of the wrong type: each answer is one the document lists for the operation."""
    anonymous = Client()
    answers = {anonymous.generic(method.upper(), with_ids(path)).status_code}
    operation = SPEC["paths"][path][method]
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(operator)
    if method != "get":
        answers.add(signed_in.generic(method.upper(), with_ids(path)).status_code)
    bearer = Client(headers={"Authorization": f"Bearer {create_token(operator, 't')[1]}"})
    if "requestBody" in operation:
        for body in ("{", "[]"):
            answers.add(
                bearer.generic(
                    method.upper(), with_ids(path), body, content_type="application/json"
                ).status_code
            )
    if "{" in path and any(
        p["in"] == "path" and p["schema"].get("type") == "integer"
        for p in operation.get("parameters", [])
    ):
        answers.add(bearer.generic(method.upper(), with_ids(path, "x")).status_code)
    assert answers <= documented(method, path), answers - documented(method, path)


def test_every_operation_lists_what_the_framework_may_answer():
    for method, path in OPERATIONS:
        codes = documented(method, path)
        operation = SPEC["paths"][path][method]
        assert 401 in codes, (method, path)
        if "requestBody" in operation:
            assert {400, 422} <= codes, (method, path)
        if operation.get("parameters"):
            assert 422 in codes, (method, path)
        if method != "get":
            assert 403 in codes, (method, path)


def test_every_schema_has_a_name_of_its_own():
    """The document names each body and answer after its class: two classes of one name would
    share one description, and one operation would be documented with the other's fields."""
    import importlib
    import pkgutil

    from ninja import Schema

    import mamori.api

    seen: dict[str, str] = {}
    clashes = []
    for info in pkgutil.iter_modules(mamori.api.__path__):
        module = importlib.import_module(f"mamori.api.{info.name}")
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, Schema)):
                continue
            if value.__module__ != module.__name__:
                continue
            if value.__name__ in seen and seen[value.__name__] != module.__name__:
                clashes.append(f"{value.__name__}: {seen[value.__name__]}, {module.__name__}")
            seen.setdefault(value.__name__, module.__name__)
    assert seen and not clashes, clashes
