"""Adding, changing and deleting a client's records from its page: the same validation as the
inventory import (its messages), the rule of each kind of record per role, the audit trail and a
confirmation, and deletes refused while other records depend on the record."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from mamori.clients.models import Client, Contact, Contract
from mamori.core.models import AuditEvent
from mamori.inventory import transfer
from mamori.inventory.models import Domain, Server, Site
from mamori.inventory.services import normalised

pytestmark = [pytest.mark.req("ACC-03"), pytest.mark.req("ACC-01")]

NEW = {
    "contacts": (
        Contact,
        {
            "name": "佐藤花子",
            "email": "Sato@Acme.Example",
            "language": "ja",
            "notify": ["incidents"],
        },
    ),
    "contracts": (
        Contract,
        {
            "type": "site_maintenance",
            "title": "サイト保守契約",
            "start": "2026-05-01",
            "term_months": "24",
            "auto_renew": "on",
            "renewal_policy": "approval",
            "expiry_notice_days": "30, 14, 7",
            "notes": "",
        },
    ),
    "servers": (
        Server,
        {
            "name": "db01",
            "kind": "cloud",
            "provider": "AWS",
            "os": "",
            "middleware": "",
            "network": "",
            "notes": "",
        },
    ),
    "sites": (
        Site,
        {
            "name": "採用サイト",
            "url": "https://recruit.acme.example/",
            "server": "",
            "cms": "",
            "related_systems": "",
        },
    ),
    "domains": (Domain, {"name": "Acme.Example", "registrar": "お名前.com", "expires_on": ""}),
}


def add_url(kind: str, code: str = "acme") -> str:
    return reverse("record_add", args=[code, kind])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.req("CT-01")
@pytest.mark.req("CT-07")
@pytest.mark.req("CT-08")
@pytest.mark.parametrize("kind", list(NEW))
def test_an_operator_adds_each_record_with_its_audit_event_and_a_confirmation(
    scene, operator, login, kind
):
    model, data = NEW[kind]
    client = login(operator)
    page = client.get(reverse("client_detail", args=["acme"]))
    assert add_url(kind) in page.content.decode()  # the card's add button
    before = model.objects.filter(client=scene.acme).count()
    response = client.post(add_url(kind), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"].startswith(reverse("client_detail", args=["acme"]))
    assert model.objects.filter(client=scene.acme).count() == before + 1
    event = AuditEvent.objects.get(action=f"{kind[:-1]}.create")
    assert event.actor == operator
    assert event.client_id == scene.acme.pk
    assert any("追加しました" in m for m in messages_of(response))


def test_values_are_read_as_the_import_reads_them(scene, operator, login):
    client = login(operator)
    client.post(add_url("contacts"), NEW["contacts"][1])
    client.post(add_url("domains"), NEW["domains"][1])
    # The domain of an address in lower case, its mailbox as written (RFC 5321 §2.4).
    assert Contact.objects.filter(client=scene.acme, email="Sato@acme.example").exists()
    assert Domain.objects.filter(client=scene.acme, name="acme.example").exists()
    contract = Contract.objects.get(client=scene.acme, type="ssl_management")
    client.post(
        reverse("record_edit", args=["acme", "contracts", contract.pk]),
        {**NEW["contracts"][1], "type": "ssl_management", "start": "2026-04-01",
         "expiry_notice_days": "7, 60,30"},
    )  # fmt: skip
    contract.refresh_from_db()
    assert contract.expiry_notice_days == [60, 30, 7]


def import_message(section: str, field: str, value) -> str:
    with pytest.raises(ValidationError) as caught:
        normalised(section, {field: value})
    return caught.value.message_dict[field][0]


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("sites", "url", "not a url"),
        ("contacts", "email", "sato at acme"),
        ("domains", "name", "bad host name!!"),
    ],
)
def test_a_value_the_import_refuses_is_refused_with_the_imports_message(
    scene, operator, login, kind, field, value
):
    model, data = NEW[kind]
    client = login(operator)
    count = model.objects.count()
    response = client.post(add_url(kind), {**data, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [import_message(kind, field, value)]
    assert model.objects.count() == count
    assert not AuditEvent.objects.filter(action__endswith=".create").exists()


def test_a_second_contact_with_the_same_address_is_refused_at_the_field(scene, operator, login):
    client = login(operator)
    response = client.post(
        add_url("contacts"), {**NEW["contacts"][1], "email": "YAMADA@acme.example"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "この顧客には、同じメールアドレスの連絡先がすでにあります。"
    ]


def test_a_site_cannot_name_another_clients_server(scene, operator, login):
    other = Server.objects.create(client=scene.globex, name="g01", kind="vps")
    client = login(operator)
    response = client.post(add_url("sites"), {**NEW["sites"][1], "server": other.pk})
    assert response.status_code == 200
    assert "server" in response.context["form"].errors
    assert not Site.objects.filter(url="https://recruit.acme.example/").exists()


def test_an_operator_changes_a_site_with_the_changes_audited(scene, operator, login):
    client = login(operator)
    url = reverse("record_edit", args=["acme", "sites", scene.site.pk])
    page = client.get(url)
    assert page.context["form"]["url"].value() == scene.site.url
    data = {"name": "本社サイト", "url": scene.site.url, "server": scene.server.pk,
            "cms": "WordPress", "related_systems": ""}  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 302
    scene.site.refresh_from_db()
    assert scene.site.name == "本社サイト"
    event = AuditEvent.objects.get(action="site.update")
    assert event.changes == {"name": ["コーポレートサイト", "本社サイト"]}
    assert any("保存しました" in m for m in messages_of(response))


def test_deleting_a_server_a_site_names_is_refused_with_the_reason(scene, operator, login):
    client = login(operator)
    url = reverse("record_delete", args=["acme", "servers", scene.server.pk])
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 409
    assert "サイト" in response.content.decode()
    assert Server.objects.filter(pk=scene.server.pk).exists()
    assert not AuditEvent.objects.filter(action="server.delete").exists()


def test_an_operator_deletes_a_domain_with_its_audit_event(scene, operator, login):
    domain = Domain.objects.create(client=scene.acme, name="acme.example")
    client = login(operator)
    response = client.post(reverse("record_delete", args=["acme", "domains", domain.pk]))
    assert response.status_code == 302
    assert not Domain.objects.filter(pk=domain.pk).exists()
    event = AuditEvent.objects.get(action="domain.delete")
    assert event.actor == operator and event.changes == {"name": "acme.example"}
    assert any("削除しました" in m for m in messages_of(response))


def test_a_contact_is_deleted_from_the_client_page(scene, owner, login):
    contact = Contact.objects.get(client=scene.acme, email="keiri@acme.example")
    client = login(owner)
    response = client.post(reverse("record_delete", args=["acme", "contacts", contact.pk]))
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert AuditEvent.objects.filter(action="contact.delete", actor=owner).exists()


def test_a_client_admin_manages_inventory_and_contacts_but_not_contracts(scene, owner, login):
    client = login(owner)
    body = client.get(reverse("client_detail", args=["acme"])).content.decode()
    for kind in ("contacts", "servers", "sites", "domains"):
        assert add_url(kind) in body
    assert add_url("contracts") not in body
    contract = Contract.objects.get(client=scene.acme)
    assert reverse("record_edit", args=["acme", "contracts", contract.pk]) not in body
    assert client.get(add_url("contracts")).status_code == 403
    assert client.post(add_url("contracts"), NEW["contracts"][1]).status_code == 403
    assert (
        client.get(reverse("record_edit", args=["acme", "contracts", contract.pk])).status_code
        == 403
    )
    assert (
        client.post(reverse("record_delete", args=["acme", "contracts", contract.pk])).status_code
        == 403
    )
    assert Contract.objects.filter(pk=contract.pk).exists()
    assert client.get(reverse("client_add")).status_code == 403
    assert reverse("client_add") not in client.get(reverse("client_list")).content.decode()


def test_a_client_viewer_gets_neither_the_buttons_nor_the_pages(scene, member, login):
    client = login(member)
    body = client.get(reverse("client_detail", args=["acme"])).content.decode()
    assert "/add/" not in body.replace(reverse("endpoint_add"), "")
    assert reverse("record_edit", args=["acme", "sites", scene.site.pk]) not in body
    for kind in NEW:
        assert client.get(add_url(kind)).status_code == 403
    assert client.post(add_url("sites"), NEW["sites"][1]).status_code == 403
    delete = reverse("record_delete", args=["acme", "sites", scene.site.pk])
    assert client.post(delete).status_code == 403
    assert Site.objects.filter(pk=scene.site.pk).exists()


def test_another_clients_records_are_not_found(scene, outsider, login):
    client = login(outsider)
    assert client.get(add_url("sites")).status_code == 404
    assert (
        client.get(reverse("record_edit", args=["acme", "sites", scene.site.pk])).status_code == 404
    )
    assert (
        client.get(reverse("record_edit", args=["globex", "sites", scene.site.pk])).status_code
        == 404
    )


def test_an_operator_adds_a_client_from_the_clients_list(scene, operator, login):
    client = login(operator)
    assert reverse("client_add") in client.get(reverse("client_list")).content.decode()
    data = {"code": "initech", "name": "イニテック株式会社", "address": "", "representative": "",
            "notes": ""}  # fmt: skip
    response = client.post(reverse("client_add"), data)
    assert response.status_code == 302
    assert response["Location"] == reverse("client_detail", args=["initech"])
    assert AuditEvent.objects.filter(action="client.create", actor=operator).exists()
    again = client.post(reverse("client_add"), {**data, "code": "Not A Code"})
    assert "code" in again.context["form"].errors
    taken = client.post(reverse("client_add"), data)
    assert "code" in taken.context["form"].errors
    assert Client.objects.filter(code="initech").count() == 1


def test_the_empty_cards_offer_to_add(scene, operator, login):
    client = login(operator)
    Client.objects.create(code="empty", name="空の会社")
    body = client.get(reverse("client_detail", args=["empty"])).content.decode()
    for kind in NEW:
        assert body.count(add_url(kind, "empty")) == 2  # in the card's header and its empty line


def test_the_contact_pages_of_users_and_contacts_write_through_the_same_path(scene, owner, login):
    client = login(owner)
    response = client.post(reverse("contact_create", args=["acme"]), NEW["contacts"][1])
    assert response["Location"] == reverse("client_access", args=["acme"])
    assert AuditEvent.objects.filter(action="contact.create", actor=owner).exists()


# --- the import page's format document and template file -----------------------------------------


def test_the_import_page_links_its_format_and_a_template(scene, operator, login):
    client = login(operator)
    body = client.get(reverse("inventory_import")).content.decode()
    assert reverse("import_format") in body and reverse("import_template") in body
    page = client.get(reverse("import_format"))
    assert page.status_code == 200
    assert "<table>" in page.content.decode()  # the record keys, rendered
    assert "Inventory import and export format" in page.content.decode()


def test_the_template_file_imports_cleanly(scene, operator, login):
    client = login(operator)
    response = client.get(reverse("import_template"))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = response.content
    preview = transfer.import_file(data, filename="t.yaml", actor=operator, dry_run=True)
    assert preview.ok, [str(e) for e in preview.errors]
    report = transfer.import_file(data, filename="t.yaml", actor=operator, dry_run=False)
    assert report.ok
    sample = Client.objects.get(code="sample")
    assert sample.contacts.count() == 2 and sample.sites.count() == 1
    assert sample.endpoints.count() == 1 and sample.domains.count() == 1


def test_a_client_viewer_does_not_get_the_format_or_template(scene, member, login):
    client = login(member)
    assert client.get(reverse("import_format")).status_code == 403
    assert client.get(reverse("import_template")).status_code == 403


# --- forms that pick a client's site or server -------------------------------------------------


@pytest.mark.req("MON-01")
def test_the_check_form_names_each_sites_client_and_refuses_another_clients_site(
    scene, operator, login
):
    from mamori.monitoring.models import Check

    other = Site.objects.create(
        client=scene.globex, name="コーポレートサイト", url="https://www.globex.example/"
    )
    client = login(operator)
    page = client.get(reverse("check_add"))
    body = page.content.decode()
    assert "data-client-scoped" in body
    assert (
        f'data-client="{scene.globex.pk}"' in body
        and 'data-url="https://www.globex.example/"' in body
    )
    assert page.context["form"]["client"].label == "顧客"
    data = {"client": scene.acme.pk, "site": other.pk, "name": "www", "kind": "http",
            "http_url": "https://www.globex.example/", "interval_seconds": 60,
            "timeout_seconds": 10, "failures_to_confirm": 2, "recoveries_to_confirm": 2,
            "enabled": "on"}  # fmt: skip
    response = client.post(reverse("check_add"), data)
    assert response.status_code == 200
    assert response.context["form"].errors["site"]
    assert not Check.objects.filter(site=other).exists()


@pytest.mark.parametrize(
    ("url", "field"),
    [("incident_add", "site"), ("maintenance_add", "site"), ("managed_add", "contract")],
)
def test_other_forms_name_the_client_of_each_choice(scene, operator, login, url, field):
    client = login(operator)
    response = client.get(reverse(url))
    assert response.status_code == 200
    body = response.content.decode()
    assert "data-client-scoped" in body
    select = body.split(f'name="{field}"')[1].split("</select>")[0]
    assert f'data-client="{scene.acme.pk}"' in select
