"""Information-handling officers of each client and of the provider (ACC-02, 004 §35.4–5)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.access.models import InformationOfficer
from mamori.core.models import AuditEvent

pytestmark = pytest.mark.req("ACC-02")


def officers(**slots) -> dict:
    data = {}
    for position, (name, title) in slots.items():
        data[f"officer{position[-1]}-name"] = name
        data[f"officer{position[-1]}-title"] = title
        data[f"officer{position[-1]}-email"] = ""
        data[f"officer{position[-1]}-phone"] = ""
    return data


def test_it_flags_a_client_with_fewer_than_two_officers(client, operator, acme):
    client.force_login(operator)
    body = client.get(reverse("client_detail", args=["acme"])).content.decode()
    assert 'id="officers"' in body
    assert "notice-inline" in body

    data = officers(o1=("鈴木一郎", "情報システム部長"), o2=("田中花子", "総務部"))
    assert client.post(reverse("client_officers", args=["acme"]), data).status_code == 302
    body = client.get(reverse("client_detail", args=["acme"])).content.decode()
    assert "鈴木一郎" in body and "田中花子" in body
    assert "notice-inline" not in body
    assert AuditEvent.objects.filter(action="officer.create", client=acme).count() == 2


def test_it_lets_the_client_admin_edit_and_viewers_read(client, owner, member, acme):
    client.force_login(owner)
    data = officers(o1=("鈴木一郎", "部長"), o2=("", ""))
    assert client.post(reverse("client_officers", args=["acme"]), data).status_code == 302
    client.force_login(member)
    assert "鈴木一郎" in client.get(reverse("client_detail", args=["acme"])).content.decode()
    assert client.get(reverse("client_officers", args=["acme"])).status_code == 403


def test_it_clears_an_emptied_slot(client, owner, acme):
    InformationOfficer.objects.create(client=acme, position=2, name="退職者")
    client.force_login(owner)
    client.post(reverse("client_officers", args=["acme"]), officers(o1=("新任", ""), o2=("", "")))
    assert list(acme.information_officers.values_list("name", flat=True)) == ["新任"]


def test_it_requires_a_name_for_an_officer(client, owner, acme):
    client.force_login(owner)
    data = officers(o1=("", "部長"), o2=("", ""))
    assert client.post(reverse("client_officers", args=["acme"]), data).status_code == 200
    assert not InformationOfficer.objects.exists()


def test_it_keeps_the_providers_officers_for_provider_admins(client, provider_admin, operator):
    client.force_login(operator)
    assert client.get(reverse("provider_settings")).status_code == 403
    client.force_login(provider_admin)
    data = officers(o1=("守田太郎", "情報セキュリティ室"), o2=("守田花子", "品質管理部"))
    assert client.post(reverse("provider_settings"), data).status_code == 302
    assert list(InformationOfficer.objects.provider().values_list("name", flat=True)) == [
        "守田太郎",
        "守田花子",
    ]


def test_the_dashboard_lists_clients_without_two_officers(client, operator, owner, member, acme):
    client.force_login(operator)
    body = client.get(reverse("dashboard")).content.decode()
    assert 'id="missing-officers"' in body and acme.name in body
    # The client's administrator names them, so sees the flag; a viewer does not.
    client.force_login(member)
    assert 'id="missing-officers"' not in client.get(reverse("dashboard")).content.decode()
    client.force_login(owner)
    assert 'id="missing-officers"' in client.get(reverse("dashboard")).content.decode()
    data = officers(o1=("鈴木一郎", "情報システム部長"), o2=("田中花子", "総務部"))
    assert client.post(reverse("client_officers", args=["acme"]), data).status_code == 302
    body = client.get(reverse("dashboard")).content.decode()
    assert 'id="missing-officers"' not in body
