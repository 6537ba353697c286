"""The API's resources: endpoints (create, delete, check), certificates and notices with filters."""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import pytest
from django.utils import timezone

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.inventory.models import Endpoint, Site

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401


@pytest.fixture
def api(client, owner):
    """The test client with the owner's bearer token on every request."""
    _, value = create_token(owner, "test")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {value}"
    return client


@pytest.fixture
def staff_api(client, operator):
    _, value = create_token(operator, "test")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {value}"
    return client


def post(client, path: str, body: dict):
    return client.post(path, body, content_type="application/json")


@pytest.mark.req("ACC-03")
def test_it_creates_an_endpoint_with_an_audit_event(scene, owner, api):
    response = post(
        api,
        "/api/v1/endpoints",
        {"client": "acme", "host": "API.acme.example", "port": 8443, "site": scene.site.pk},
    )
    assert response.status_code == 201
    data = response.json()
    assert data["host"] == "api.acme.example"
    assert data["client"] == "acme"
    assert data["site"] == scene.site.pk
    assert data["state"] == "unknown"
    endpoint = Endpoint.objects.get(pk=data["id"])
    event = AuditEvent.objects.get(action="endpoint.create")
    assert event.actor == owner
    assert event.object_id == str(endpoint.pk)
    assert event.client_id == scene.acme.pk
    assert event.changes["port"] == 8443


@pytest.mark.parametrize(
    "body, field",
    [
        ({"client": "acme", "host": "x.acme.example", "port": 70000}, "port"),
        ({"client": "acme", "host": ""}, "host"),
        ({"client": "acme", "host": "x.acme.example", "check_interval": 5}, "check_interval"),
        ({"client": "acme", "host": "x.acme.example", "trust_bundle": "nope"}, "trust_bundle"),
        ({"client": "nobody", "host": "x.acme.example"}, "client"),
        ({"client": "acme", "host": "x.acme.example", "port": "eighty"}, "port"),
        ({"host": "x.acme.example"}, "client"),
    ],
)
def test_it_answers_invalid_input_with_field_errors(scene, api, body, field):
    response = post(api, "/api/v1/endpoints", body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field for e in errors), errors
    assert not Endpoint.objects.filter(host="x.acme.example").exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_another_clients_site(scene, api):
    other = Site.objects.create(client=scene.globex, name="g", url="https://g.globex.example/")
    response = post(
        api, "/api/v1/endpoints", {"client": "acme", "host": "x.acme.example", "site": other.pk}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "site"


def test_it_refuses_a_duplicate_endpoint(scene, api):
    response = post(api, "/api/v1/endpoints", {"client": "acme", "host": "shop.acme.example"})
    assert response.status_code == 422
    assert Endpoint.objects.filter(host="shop.acme.example").count() == 1


@pytest.mark.req("ACC-03")
def test_it_deletes_an_endpoint_with_an_audit_event(scene, owner, api):
    pk = scene.problem_endpoint.pk
    response = api.delete(f"/api/v1/endpoints/{pk}")
    assert response.status_code == 204
    assert not Endpoint.objects.filter(pk=pk).exists()
    event = AuditEvent.objects.get(action="endpoint.delete")
    assert event.actor == owner
    assert event.object_id == str(pk)


def test_it_makes_an_endpoint_due_for_a_check(scene, api):
    response = api.post(f"/api/v1/endpoints/{scene.problem_endpoint.pk}/check")
    assert response.status_code == 202
    scene.problem_endpoint.refresh_from_db()
    assert scene.problem_endpoint.next_check_at <= timezone.now()


def test_it_filters_endpoints(scene, staff_api):
    codes = {e["client"] for e in staff_api.get("/api/v1/endpoints?client=globex").json()["items"]}
    assert codes == {"globex"}
    hosts = [e["host"] for e in staff_api.get("/api/v1/endpoints?state=unknown").json()["items"]]
    assert hosts == ["mail.acme.example"]


def test_it_reports_what_an_endpoint_serves(scene, api):
    data = api.get(f"/api/v1/endpoints/{scene.expiring_endpoint.pk}").json()
    assert data["certificate"] == scene.expiring_cert.fingerprint_sha256
    assert data["days_left"] == 20


def fingerprints(response) -> list[str]:
    assert response.status_code == 200
    return [c["fingerprint_sha256"] for c in response.json()["items"]]


def test_it_filters_certificates_expiring_within_days(scene, staff_api):
    found = fingerprints(staff_api.get("/api/v1/certificates?expiring_within=30"))
    # Served now and expiring within 30 days, the expired one still served included; the
    # replaced old certificate is not served any more.
    assert found == [scene.globex_cert.fingerprint_sha256, scene.expiring_cert.fingerprint_sha256]


def test_it_filters_certificates_by_problem(scene, staff_api):
    found = fingerprints(staff_api.get("/api/v1/certificates?problem=hostname_mismatch"))
    assert found == [scene.wrong_cert.fingerprint_sha256]
    assert fingerprints(staff_api.get("/api/v1/certificates?problem=weak_key")) == []


def test_it_filters_certificates_by_client(scene, staff_api):
    found = set(fingerprints(staff_api.get("/api/v1/certificates?client=acme")))
    assert found == {
        scene.wrong_cert.fingerprint_sha256,
        scene.expiring_cert.fingerprint_sha256,
        scene.old_cert.fingerprint_sha256,
    }
    assert fingerprints(staff_api.get("/api/v1/certificates?client=nobody")) == []


def test_it_combines_certificate_filters(scene, staff_api):
    found = fingerprints(staff_api.get("/api/v1/certificates?client=acme&expiring_within=30"))
    assert found == [scene.expiring_cert.fingerprint_sha256]


def test_it_reads_a_certificate_by_fingerprint(scene, api):
    cert = scene.expiring_cert
    data = api.get(f"/api/v1/certificates/{cert.fingerprint_display}").json()
    assert data["fingerprint_sha256"] == cert.fingerprint_sha256
    assert data["sans"] == ["www.acme.example", "acme.example"]
    assert data["served_by"] == [scene.expiring_endpoint.pk]
    assert data["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert {s["endpoint"] for s in data["sightings"]} == {scene.expiring_endpoint.pk}


def test_it_paginates(scene, staff_api):
    data = staff_api.get("/api/v1/endpoints?limit=2&offset=0").json()
    assert data["count"] == 4
    assert len(data["items"]) == 2


def test_it_filters_notices(scene, staff_api):
    items = staff_api.get("/api/v1/notices?state=failed").json()["items"]
    assert [n["subject"] for n in items] == ["[operator] shop.acme.example internal alert"]
    items = staff_api.get("/api/v1/notices?client=globex").json()["items"]
    assert [n["client"] for n in items] == ["globex"]


def test_it_keeps_internal_notices_and_addresses_from_viewers(scene, member, client):
    _, value = create_token(member, "test")
    items = client.get("/api/v1/notices", headers={"Authorization": f"Bearer {value}"}).json()[
        "items"
    ]
    assert [n["id"] for n in items] == [scene.notice.pk]
    assert items[0]["recipient"] == "山田太郎"


def test_it_shows_contact_addresses_to_the_client_admin(scene, api):
    contacts = api.get("/api/v1/clients/acme").json()["contacts"]
    assert "yamada@acme.example" in {c["email"] for c in contacts}


def test_it_hides_contact_addresses_from_viewers(scene, member, client):
    _, value = create_token(member, "test")
    data = client.get("/api/v1/clients/acme", headers={"Authorization": f"Bearer {value}"}).json()
    assert {c["email"] for c in data["contacts"]} == {None}
    assert data["contracts"][0]["expiry_notice_days"] == [60, 30, 14, 7, 1]


def test_it_speaks_the_token_users_language(scene, owner, client):
    owner.language = "en"
    owner.save()
    _, value = create_token(owner, "test")
    response = client.post(
        "/api/v1/endpoints",
        {"client": "acme", "host": "x.acme.example", "port": 70000},
        content_type="application/json",
        headers={"Authorization": f"Bearer {value}"},
    )
    assert response.status_code == 422
    assert "less than or equal to 65535" in response.json()["detail"][0]["msg"]
