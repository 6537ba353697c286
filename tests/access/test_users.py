"""User management and its role rules (ACC-01): who may create and change whom."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from mamori.core.models import AuditEvent, Role, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.req("ACC-01")

NEW_PASSWORD = "a fresh passphrase 2026"


def new_user(**extra) -> dict:
    return {
        "username": "newbie",
        "email": "newbie@example.com",
        "role": "client_viewer",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **extra,
    }


def test_it_lets_a_client_admin_add_users_to_their_client(client, owner, acme):
    client.force_login(owner)
    response = client.post(reverse("client_user_create", args=["acme"]), new_user())
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert (user.role, user.client) == (Role.CLIENT_VIEWER, acme)
    assert user.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.get(action="user.create")
    assert event.client_id == acme.pk
    assert "password" not in str(event.changes)


def test_it_refuses_provider_roles_to_a_client_admin(client, owner):
    client.force_login(owner)
    for role in ("operator", "provider_admin", "subcontractor"):
        response = client.post(reverse("client_user_create", args=["acme"]), new_user(role=role))
        assert response.status_code == 200
        assert "role" in response.context["form"].errors
    assert not User.objects.filter(username="newbie").exists()
    assert client.get(reverse("staff_create")).status_code == 403


def test_it_hides_other_clients_from_a_client_admin(client, owner, outsider):
    client.force_login(owner)
    assert (
        client.post(reverse("client_user_create", args=["globex"]), new_user()).status_code == 404
    )
    assert client.get(reverse("user_edit", args=[outsider.pk])).status_code == 404
    assert not User.objects.filter(username="newbie").exists()


def test_it_hides_provider_staff_from_a_client_admin(client, owner, operator):
    client.force_login(owner)
    assert client.get(reverse("user_edit", args=[operator.pk])).status_code == 404


def test_it_lets_nobody_change_their_own_role(client, owner, provider_admin, member):
    client.force_login(owner)
    data = {"first_name": "Own", "email": owner.email, "role": "client_viewer"}
    response = client.post(reverse("user_edit", args=[owner.pk]), data)
    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.role == Role.CLIENT_ADMIN

    # A viewer cannot reach user management at all.
    client.force_login(member)
    data = {"email": member.email, "role": "client_admin"}
    assert client.post(reverse("user_edit", args=[member.pk]), data).status_code == 403
    member.refresh_from_db()
    assert member.role == Role.CLIENT_VIEWER

    client.force_login(provider_admin)
    data = {"email": provider_admin.email, "role": "provider_admin", "is_active": ""}
    client.post(reverse("user_edit", args=[provider_admin.pk]), data)
    provider_admin.refresh_from_db()
    assert provider_admin.is_active  # nor deactivate themselves


def test_it_keeps_operators_out_of_user_management(client, operator, member, subcontractor):
    client.force_login(operator)
    assert client.get(reverse("user_edit", args=[member.pk])).status_code == 403
    data = {"email": operator.email, "role": "provider_admin"}
    assert client.post(reverse("user_edit", args=[operator.pk]), data).status_code == 403
    assert client.get(reverse("staff_create")).status_code == 403
    operator.refresh_from_db()
    assert operator.role == Role.OPERATOR


def test_it_lets_a_provider_admin_add_a_subcontractor_with_clients(
    client, provider_admin, acme, globex
):
    client.force_login(provider_admin)
    data = new_user(role="subcontractor", assigned_clients=[acme.pk], password1="", password2="")
    response = client.post(reverse("staff_create"), data)
    # No password typed: one is generated and shown once.
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    password = re.search(r'id="generated-password">([A-Za-z0-9]+)<', response.content.decode())
    user = User.objects.get(username="newbie")
    assert user.check_password(password.group(1))
    assert (user.role, user.client) == (Role.SUBCONTRACTOR, None)
    assert list(user.assigned_clients.all()) == [acme]


def test_it_validates_an_initial_password(client, provider_admin):
    client.force_login(provider_admin)
    data = new_user(role="operator", password1="12345678", password2="12345678")
    response = client.post(reverse("staff_create"), data)
    assert "password1" in response.context["form"].errors
    assert not User.objects.filter(username="newbie").exists()


def test_it_deactivates_instead_of_deleting(client, owner, member):
    client.force_login(owner)
    data = {"email": member.email, "role": "client_viewer", "language": ""}
    response = client.post(reverse("user_edit", args=[member.pk]), data)
    assert response.status_code == 302
    member.refresh_from_db()
    assert not member.is_active
    event = AuditEvent.objects.get(action="user.update", object_id=str(member.pk))
    assert event.changes["is_active"] == [True, False]


def test_it_lets_an_admin_set_a_password(client, owner, member):
    client.force_login(owner)
    data = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert client.post(reverse("user_password", args=[member.pk]), data).status_code == 302
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="user.password_set").count() == 1


def test_it_lets_users_change_their_own_password(client, member):
    client.force_login(member)
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert client.post(reverse("password_change"), data).status_code == 302
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    # Still signed in on this session.
    assert client.get(reverse("account_security")).status_code == 200


def test_it_lists_only_the_users_someone_may_see(client, owner, member, outsider, operator):
    client.force_login(outsider)
    body = client.get(reverse("user_list")).content.decode()
    assert "outsider" in body
    assert "owner@acme.example" not in body
    assert "operator@provider.example" not in body
    client.force_login(owner)
    body = client.get(reverse("user_list")).content.decode()
    assert "member@acme.example" in body
    assert "boss@globex.example" not in body


def test_it_lets_a_client_admin_manage_contacts(client, owner, acme):
    client.force_login(owner)
    data = {
        "name": "佐藤花子",
        "email": "sato@acme.example",
        "language": "ja",
        "notify": ["incidents"],
    }
    assert client.post(reverse("contact_create", args=["acme"]), data).status_code == 302
    contact = acme.contacts.get(email="sato@acme.example")
    assert contact.notify == ["incidents"]
    data = {**data, "email": "jane@acme.example"}
    response = client.post(reverse("contact_edit", args=[contact.pk]), data)
    assert "email" in response.context["form"].errors  # another contact has it
    assert client.post(reverse("contact_delete", args=[contact.pk])).status_code == 302
    assert not acme.contacts.filter(email="sato@acme.example").exists()
    contact_events = AuditEvent.objects.filter(action__startswith="contact.").order_by("pk")
    actions = list(contact_events.values_list("action", flat=True))
    assert actions == ["contact.create", "contact.delete"]
