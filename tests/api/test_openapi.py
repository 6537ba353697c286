"""The OpenAPI document is valid OpenAPI 3 and describes every route and both ways to sign in."""

from __future__ import annotations

from openapi_spec_validator import validate


def test_it_serves_a_valid_openapi_document(db, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {
        "/api/v1/clients",
        "/api/v1/clients/{code}",
        "/api/v1/endpoints",
        "/api/v1/endpoints/{endpoint_id}",
        "/api/v1/endpoints/{endpoint_id}/check",
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
        "/api/v1/checks",
        "/api/v1/checks/{check_id}",
        "/api/v1/checks/{check_id}/rollups",
        "/api/v1/maintenance-windows",
        "/api/v1/maintenance-windows/{window_id}",
        "/api/v1/maintenance-windows/{window_id}/cancel",
        "/api/v1/sla/credits",
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
