"""Input the API refuses with a 422 naming the parameter, never a 500 (issue 13): paging past
what the database holds, a negative "expiring within", text that cannot be stored (lone
surrogates, NUL), dates written as numbers."""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from mamori.api.api import api
from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.lifecycle.models import ManagedCertificate, Order, OrderState
from tests.api.test_tenancy import BODIES, PARAMETERS
from tests.web.cases_lifecycle_managed import acme_managed
from tests.web.cases_lifecycle_orders import acme_order, issued_for_acme_order
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401

SPEC = api.get_openapi_schema()
LISTS = sorted(
    path
    for path, ops in SPEC["paths"].items()
    if any(p["name"] == "offset" for p in ops.get("get", {}).get("parameters", []))
)


def post(client, path: str, body) -> object:
    return client.post(path, json.dumps(body), content_type="application/json")


def resolve(schema: dict) -> dict:
    if "$ref" in schema:
        return SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def free_text_fields(operation: dict) -> list[str]:
    """The JSON body's fields that are plain text (no choice, no format, no pattern). A raw body
    (an access log sent as it is) has no fields: its bytes are read as a log, any bytes."""
    content = operation["requestBody"]["content"].get("application/json")
    if content is None:
        return []
    body = resolve(content["schema"])
    return sorted(
        name
        for name, prop in body["properties"].items()
        if prop.get("type") == "string" and not {"enum", "format", "const", "pattern"} & set(prop)
    )


@pytest.fixture
def api_client(client, provider_admin):
    provider_admin.language = "en"
    provider_admin.save()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {create_token(provider_admin, 'test')[1]}"
    return client


def errors_of(response) -> list[dict]:
    assert response.status_code == 422, response.content
    return response.json()["detail"]


def test_every_list_is_paged():
    assert len(LISTS) >= 15
    assert "/api/v1/clients" in LISTS and "/api/v1/deployments" in LISTS


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("limit", 2**63),
        ("limit", 2**64),
        ("limit", 0),
        ("limit", -1),
        ("offset", 2**63),
        ("offset", 2**64 + 1),
        ("offset", -1),
        ("offset", "__main__"),
    ],
)
def test_it_refuses_paging_out_of_bounds(scene, api_client, path, parameter, value):
    path = re.sub(r"{(\w+)}", lambda m: str(PARAMETERS[m.group(1)](scene)), path)
    response = api_client.get(path, {parameter: value})
    [error] = errors_of(response)
    assert error["loc"] == ["query", parameter]
    assert error["msg"]


def test_it_pages_as_far_as_the_document_says(scene, api_client):
    response = api_client.get("/api/v1/endpoints", {"limit": 1000, "offset": 1_000_000_000})
    assert response.status_code == 200
    assert response.json() == {"items": [], "count": 4}


@pytest.mark.parametrize("days", [-1, -5, 3651, 10**12])
def test_it_refuses_an_expiry_window_out_of_range(scene, api_client, days):
    [error] = errors_of(api_client.get("/api/v1/certificates", {"expiring_within": days}))
    assert error["loc"] == ["query", "expiring_within"]


def test_it_still_filters_by_expiry(scene, api_client):
    items = api_client.get("/api/v1/certificates", {"expiring_within": 0}).json()["items"]
    assert [c["fingerprint_sha256"] for c in items] == [scene.globex_cert.fingerprint_sha256]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/audit", "date_to"),
        ("/api/v1/audit", "date_from"),
        ("/api/v1/checks/{check_id}/rollups", "since"),
    ],
)
@pytest.mark.parametrize("value", ["0", "86400"])
def test_it_refuses_a_date_written_as_a_number(scene, api_client, path, parameter, value):
    path = re.sub(r"{(\w+)}", lambda m: str(PARAMETERS[m.group(1)](scene)), path)
    [error] = errors_of(api_client.get(path, {parameter: value}))
    assert error["loc"] == ["query", parameter]


TEXT_BODIES = sorted(
    (method, path, op["operationId"], tuple(free_text_fields(op)))
    for path, ops in SPEC["paths"].items()
    for method, op in ops.items()
    if "requestBody" in op and free_text_fields(op)
)


def test_most_bodies_have_free_text():
    assert len(TEXT_BODIES) >= 20


@pytest.mark.parametrize(("method", "path", "operation_id", "fields"), TEXT_BODIES)
def test_every_body_refuses_text_that_cannot_be_stored(
    scene, api_client, method, path, operation_id, fields
):
    url = re.sub(r"{(\w+)}", lambda m: str(PARAMETERS[m.group(1)](scene)), path)
    valid = BODIES[operation_id](scene)  # before counting: it may make the records it names
    before = AuditEvent.objects.count()
    for bad, words in (("x\ud800y", "U+D800"), ("x\x00y", "NUL character")):
        body = {**valid, **dict.fromkeys(fields, bad)}
        response = api_client.generic(
            method.upper(), url, json.dumps(body), content_type="application/json"
        )
        errors = errors_of(response)
        assert {e["loc"][-1] for e in errors} == set(fields), errors
        # pydantic refuses a surrogate itself where a length is checked (string_unicode).
        assert all(words in e["msg"] or e["type"] == "string_unicode" for e in errors), errors
    assert AuditEvent.objects.count() == before


def test_it_refuses_a_lone_surrogate_in_an_uploaded_certificate(scene, api_client):
    order = acme_order()
    pem = issued_for_acme_order()
    response = post(api_client, f"/api/v1/orders/{order.pk}/certificate", {"pem": pem + "\ud800"})
    [error] = errors_of(response)
    assert error["loc"] == ["body", "payload", "pem"] and "U+D800" in error["msg"]
    assert Order.objects.get(pk=order.pk).state == OrderState.NEW
    # The same certificate without it is accepted.
    response = post(api_client, f"/api/v1/orders/{order.pk}/certificate", {"pem": pem})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "issued"


def test_it_refuses_a_lone_surrogate_in_a_hold_note(scene, api_client):
    managed = acme_managed(scene)
    path = f"/api/v1/managed-certificates/{managed.pk}/hold"
    response = post(api_client, path, {"awaiting": "payment", "note": "invoice \udfff 2026"})
    [error] = errors_of(response)
    assert error["loc"] == ["body", "payload", "note"] and "U+DFFF" in error["msg"]
    assert ManagedCertificate.objects.get(pk=managed.pk).awaiting == ""
    assert post(api_client, path, {"awaiting": "payment", "note": "invoice"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        (
            "/api/v1/managed-certificates",
            {"client": "acme", "name": "x", "names": ["www.acme.example", "a\ud800.example"]},
            ["body", "payload", "names"],
        ),
        (
            "/api/v1/checks",
            {"client": "acme", "name": "x", "kind": "tcp", "settings": {"host\ud800": "x"}},
            ["body", "payload", "settings"],
        ),
    ],
)
def test_it_finds_bad_text_inside_lists_and_mappings(scene, api_client, path, body, loc):
    [error] = errors_of(post(api_client, path, body))
    assert error["loc"] == loc and "U+D800" in error["msg"]


def test_it_refuses_a_moment_written_as_a_number(scene, api_client):
    order = acme_order()
    response = post(
        api_client,
        f"/api/v1/orders/{order.pk}/messages",
        {"direction": "received", "subject": "Documents", "at": 0},
    )
    [error] = errors_of(response)
    assert error["loc"] == ["body", "payload", "at"]
    assert not order.messages.exists()


@pytest.mark.parametrize(
    ("url", "loc"),
    [
        ("/api/v1/managed-certificates?client=%00acme", ["query", "client"]),
        ("/api/v1/endpoints?state=ok%00", ["query", "state"]),
        ("/api/v1/clients/ac%00me", ["path"]),
    ],
)
def test_it_refuses_a_nul_in_the_url_before_any_query(scene, api_client, url, loc):
    """PostgreSQL refuses a NUL in any text it compares: found by the fuzzer on PostgreSQL."""
    response = api_client.get(url)

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == loc and "NUL" in error["msg"]


def test_a_page_answers_a_nul_in_the_url_with_a_bad_request(scene, client, operator):
    client.force_login(operator)

    assert client.get(reverse("managed_list") + "?client=%00acme").status_code == 400
    assert client.get(reverse("endpoint_list") + "?q=www").status_code == 200
