"""The API's inventory records: sites, servers, domains, contacts and contracts (list with
filters, read, create, change, delete), their permissions and what a delete may not take along."""

# ruff: noqa: F811 (test arguments name the fixtures imported below)

from __future__ import annotations

import json

import pytest

from mamori.clients.models import Contact, Contract
from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.inventory.models import Domain, Server, Site
from mamori.monitoring.models import Check
from mamori.notices.models import Notice

# The page tests' fixtures (a scene of two clients' data); pytest finds them here.
from tests.web.conftest import fast_password_hashing, scene, test_ca  # noqa: F401


def bearer(client, user):
    _, value = create_token(user, "test")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {value}"
    return client


@pytest.fixture
def api(client, owner):
    return bearer(client, owner)


@pytest.fixture
def staff_api(client, operator):
    return bearer(client, operator)


def send(client, method: str, path: str, body: dict):
    return client.generic(method, path, json.dumps(body), "application/json")


@pytest.mark.req("CT-07")
@pytest.mark.req("ACC-03")
def test_a_site_is_created_changed_and_deleted_with_audit_events(scene, owner, api):
    response = send(
        api,
        "POST",
        "/api/v1/sites",
        {"client": "acme", "name": " Shop ", "url": "HTTPS://Shop.Acme.Example", "cms": "EC-CUBE"},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    # Read as the import file reads it: the one spelling of the URL, text stripped.
    assert (data["client"], data["name"], data["url"]) == (
        "acme",
        "Shop",
        "https://shop.acme.example/",
    )
    site = Site.objects.get(pk=data["id"])
    created = AuditEvent.objects.get(action="site.create")
    assert (created.actor, created.client_id, created.object_id) == (
        owner,
        scene.acme.pk,
        str(site.pk),
    )

    response = send(api, "PATCH", f"/api/v1/sites/{site.pk}", {"server": scene.server.pk})
    assert response.status_code == 200
    assert response.json()["server"] == scene.server.pk
    assert response.json()["cms"] == "EC-CUBE"  # left out: unchanged
    assert AuditEvent.objects.get(action="site.update").changes == {"server": [None, "web01"]}
    send(api, "PATCH", f"/api/v1/sites/{site.pk}", {"server": scene.server.pk})
    assert AuditEvent.objects.filter(action="site.update").count() == 1  # nothing changed

    assert api.delete(f"/api/v1/sites/{site.pk}").status_code == 204
    assert not Site.objects.filter(pk=site.pk).exists()
    assert AuditEvent.objects.get(action="site.delete").changes["url"] == site.url


@pytest.mark.req("CT-07")
def test_it_finds_a_site_by_client_and_part_of_its_url(scene, staff_api):
    Site.objects.create(client=scene.globex, name="Globex", url="https://www.globex.example/")
    items = staff_api.get("/api/v1/sites", {"client": "acme", "q": "www.acme"}).json()["items"]
    assert [i["id"] for i in items] == [scene.site.pk]
    items = staff_api.get("/api/v1/sites", {"server": scene.server.pk}).json()["items"]
    assert [i["id"] for i in items] == [scene.site.pk]
    assert staff_api.get("/api/v1/sites", {"q": "nothing"}).json()["items"] == []


@pytest.mark.req("MON-01")
def test_refuses_to_delete_a_site_with_checks(scene, api):
    Check.objects.create(
        client=scene.acme,
        site=scene.site,
        name="www",
        kind="http",
        settings={"url": scene.site.url},
    )
    response = api.delete(f"/api/v1/sites/{scene.site.pk}")
    assert response.status_code == 409
    assert "1" in response.json()["detail"]
    assert Site.objects.filter(pk=scene.site.pk).exists()
    assert Check.objects.filter(site=scene.site).count() == 1
    assert not AuditEvent.objects.filter(action="site.delete").exists()


@pytest.mark.req("CT-08")
def test_refuses_to_delete_a_server_that_hosts_a_site(scene, api):
    response = api.delete(f"/api/v1/servers/{scene.server.pk}")
    assert response.status_code == 409
    assert Server.objects.filter(pk=scene.server.pk).exists()


@pytest.mark.req("CT-08")
def test_it_validates_a_server_like_the_import(scene, api):
    response = send(api, "POST", "/api/v1/servers", {"client": "acme", "name": "db", "kind": "VPS"})
    assert response.status_code == 201
    assert response.json()["kind"] == "vps"  # a choice in any letter case, as in the file
    response = send(api, "POST", "/api/v1/servers", {"client": "acme", "name": "x", "kind": "rack"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "kind"]
    response = send(
        api, "POST", "/api/v1/servers", {"client": "acme", "name": "web01", "kind": "vps"}
    )
    assert response.status_code == 422  # the name is taken
    response = send(api, "PATCH", f"/api/v1/servers/{scene.server.pk}", {"name": None})
    assert response.status_code == 422


def test_a_domain_is_listed_by_expiry(scene, api):
    send(
        api,
        "POST",
        "/api/v1/domains",
        {"client": "acme", "name": "Acme.Example", "expires_on": "2027-01-31"},
    )
    send(
        api,
        "POST",
        "/api/v1/domains",
        {"client": "acme", "name": "acme.jp", "expires_on": "2028-01-31"},
    )
    items = api.get("/api/v1/domains", {"expires_before": "2027-12-31"}).json()["items"]
    assert [i["name"] for i in items] == ["acme.example"]
    domain = Domain.objects.get(name="acme.jp")
    assert api.delete(f"/api/v1/domains/{domain.pk}").status_code == 204


@pytest.mark.req("ACC-01")
def test_another_clients_records_are_not_found(scene, api):
    server = Server.objects.create(client=scene.globex, name="g1", kind="vps")
    site = Site.objects.create(client=scene.globex, name="G", url="https://g.example/")
    assert api.get(f"/api/v1/servers/{server.pk}").status_code == 404
    assert api.delete(f"/api/v1/sites/{site.pk}").status_code == 404
    assert send(api, "PATCH", f"/api/v1/sites/{site.pk}", {"cms": "x"}).status_code == 404
    # Nor can a record of acme point at it.
    response = send(
        api,
        "POST",
        "/api/v1/sites",
        {"client": "acme", "name": "x", "url": "https://x.acme.example/", "server": server.pk},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "server"]
    response = send(api, "POST", "/api/v1/domains", {"client": "globex", "name": "globex.example"})
    assert response.status_code == 422


@pytest.mark.req("ACC-01")
def test_viewers_may_not_write(scene, member, client):
    viewer = bearer(client, member)
    response = send(viewer, "POST", "/api/v1/domains", {"client": "acme", "name": "acme.example"})
    assert response.status_code == 403
    assert not Domain.objects.exists()
    assert viewer.delete(f"/api/v1/servers/{scene.server.pk}").status_code == 403


@pytest.mark.req("ACC-04")
def test_contact_addresses_are_shown_and_searched_only_for_those_who_may_see_them(
    scene, member, client
):
    viewer = bearer(client, member)
    items = viewer.get("/api/v1/contacts", {"client": "acme"}).json()["items"]
    assert items and {c["email"] for c in items} == {None}
    assert viewer.get("/api/v1/contacts", {"q": "yamada@"}).json()["items"] == []
    assert [c["name"] for c in viewer.get("/api/v1/contacts", {"q": "山田"}).json()["items"]] == [
        "山田太郎"
    ]


@pytest.mark.req("ACC-04")
def test_a_client_admin_keeps_the_clients_contacts(scene, owner, api):
    found = api.get("/api/v1/contacts", {"q": "yamada@"}).json()["items"]
    assert [c["email"] for c in found] == ["yamada@acme.example"]
    response = send(
        api,
        "POST",
        "/api/v1/contacts",
        {
            "client": "acme",
            "name": "Suzuki",
            "email": "Suzuki@ACME.example",
            "notify": ["incidents"],
        },
    )
    assert response.status_code == 201, response.content
    contact = Contact.objects.get(pk=response.json()["id"])
    response = send(api, "PATCH", f"/api/v1/contacts/{contact.pk}", {"notify": ["bogus"]})
    assert response.status_code == 422
    assert (
        send(api, "PATCH", f"/api/v1/contacts/{contact.pk}", {"language": "en"}).json()["language"]
        == "en"
    )
    assert api.delete(f"/api/v1/contacts/{contact.pk}").status_code == 204


@pytest.mark.req("ACC-04")
def test_deleting_a_contact_keeps_the_notices_sent_to_it(scene, api):
    yamada = Contact.objects.get(email="yamada@acme.example")
    assert api.delete(f"/api/v1/contacts/{yamada.pk}").status_code == 204
    notice = Notice.objects.get(pk=scene.notice.pk)
    assert (notice.contact, notice.recipient) == (None, "yamada@acme.example")


@pytest.mark.req("CT-01")
def test_contracts_are_kept_by_provider_staff(scene, api, operator, client):
    body = {"client": "acme", "type": "site_maintenance", "start": "2026-10-01"}
    assert send(api, "POST", "/api/v1/contracts", body).status_code == 403
    staff = bearer(client, operator)
    response = send(staff, "POST", "/api/v1/contracts", {**body, "expiry_notice_days": [30, 7]})
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["first_term_end"], data["expiry_notice_days"]) == ("2027-09-30", [30, 7])
    items = staff.get("/api/v1/contracts", {"client": "acme", "type": "site_maintenance"}).json()
    assert [c["id"] for c in items["items"]] == [data["id"]]
    response = send(staff, "PATCH", f"/api/v1/contracts/{data['id']}", {"term_months": 24})
    assert response.json()["first_term_end"] == "2028-09-30"
    assert staff.delete(f"/api/v1/contracts/{data['id']}").status_code == 204


@pytest.mark.req("CT-01")
def test_refuses_to_delete_a_contract_that_endpoints_follow(scene, staff_api):
    contract = Contract.objects.get(client=scene.acme)
    scene.expiring_endpoint.contract = contract
    scene.expiring_endpoint.save()
    response = staff_api.delete(f"/api/v1/contracts/{contract.pk}")
    assert response.status_code == 409
    assert Contract.objects.filter(pk=contract.pk).exists()
