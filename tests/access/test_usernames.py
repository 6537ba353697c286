"""One user name in any width or case (security review, issue 13): ``ｔｈｒ１``, ``THR1`` and
``thr1`` are one account, with one failure counter, and no second account can take another
spelling of a name."""

from __future__ import annotations

import os
from io import StringIO
from unittest import mock

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.urls import reverse

from mamori.access.models import LoginFailure
from mamori.core.models import AuditEvent, Role, User
from mamori.core.tokens import authenticate_token
from tests.access.conftest import code_at
from tests.conftest import PASSWORD

pytestmark = pytest.mark.req("ACC-01")

SPELLINGS = ["ｔｈｒ１", "THR1", "Ｔｈｒ1", " thr1 "]


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def signed_in_as(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


@pytest.fixture
def thr1(make_user):
    return make_user("thr1", Role.OPERATOR)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_it_locks_every_spelling_of_a_locked_user_name(client, thr1, sign_in, spelling):
    for _ in range(5):
        sign_in("thr1", "wrong")
    response = sign_in(spelling)
    assert response.status_code == 200
    assert response.context["locked"]
    assert not is_signed_in(client)


def test_it_counts_failures_of_every_spelling_on_one_counter(client, thr1, sign_in):
    for spelling in ["ｔｈｒ１", "THR1", "Ｔｈｒ1", "tHr1"]:
        assert not sign_in(spelling, "wrong").context.get("locked")
    assert set(LoginFailure.objects.values_list("username", flat=True)) == {"thr1"}
    sign_in("thr1", "wrong")
    assert sign_in("thr1").context["locked"]
    assert not is_signed_in(client)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_it_signs_in_to_the_one_account_by_any_spelling(client, thr1, sign_in, spelling):
    sign_in("THR1", "wrong")
    assert sign_in(spelling).status_code == 302
    assert signed_in_as(client) == thr1.pk
    # A complete sign-in clears the counter of the name, however it was typed.
    assert not LoginFailure.objects.filter(username="thr1").exists()


def test_it_counts_wrong_codes_under_the_one_name(client, thr1, enrol, sign_in):
    secret, _codes = enrol(thr1)
    for _ in range(4):
        sign_in("ｔｈｒ１", "wrong")
    sign_in("THR1")
    client.post(reverse("login_code"), {"code": "000000"})
    # The fifth failure of the name locks it: the code step ends and the password step refuses.
    assert not is_signed_in(client)
    assert sign_in("thr1").context["locked"]
    assert client.post(reverse("login_code"), {"code": code_at(secret, 1)}).status_code == 302
    assert not is_signed_in(client)


def test_it_attributes_a_failed_sign_in_to_the_account_of_any_spelling(client, thr1, sign_in):
    sign_in("ＴＨＲ１", "wrong")
    event = AuditEvent.objects.get(action="login.failed")
    assert event.object_id == str(thr1.pk)


# --- Accounts ---------------------------------------------------------------------------------


def new_staff(username: str) -> dict:
    return {
        "username": username,
        "email": "new@provider.example",
        "role": "operator",
        "password1": "a fresh passphrase 2026",
        "password2": "a fresh passphrase 2026",
    }


@pytest.mark.parametrize("spelling", ["ｔｈｒ１", "THR1", "Thr1"])
def test_it_refuses_a_new_account_under_another_spelling_of_a_name(
    client, provider_admin, thr1, spelling
):
    provider_admin.language = "en"
    provider_admin.save()
    client.force_login(provider_admin)
    response = client.post(reverse("staff_create"), new_staff(spelling))
    assert response.status_code == 200
    [error] = response.context["form"].errors["username"]
    assert "“thr1” is taken" in error
    assert "full-width and half-width" in error
    assert list(User.objects.filter(role=Role.OPERATOR)) == [thr1]


def test_it_refuses_it_to_a_client_admin_too_in_japanese(client, owner, thr1):
    owner.language = "ja"
    owner.save()
    client.force_login(owner)
    data = {**new_staff("ＴＨＲ１"), "role": "client_viewer"}
    response = client.post(reverse("client_user_create", args=["acme"]), data)
    assert response.status_code == 200
    assert "「thr1」は既に使われています" in response.content.decode()
    assert User.objects.count() == 2  # thr1 and owner: nobody new


def test_it_stores_a_new_account_under_the_one_form_of_its_name(client, provider_admin):
    client.force_login(provider_admin)
    response = client.post(reverse("staff_create"), new_staff("Ｙａｍａｄａ．Ｔａｒｏ"))
    assert response.status_code == 302
    user = User.objects.get(email="new@provider.example")
    assert user.username == "yamada.taro"
    client.logout()
    response = client.post(
        reverse("login"), {"username": "Yamada.Taro", "password": "a fresh passphrase 2026"}
    )
    assert response.status_code == 302
    assert signed_in_as(client) == user.pk


def test_it_stores_the_one_form_whatever_creates_the_account(db):
    user = User.objects.create_user("ＡＤＭＩＮ２", password=PASSWORD)
    assert user.username == "admin2"
    assert User.objects.create(username="Ｏｐｓ").username == "ops"


def test_the_token_command_finds_the_account_by_any_spelling(thr1):
    out = StringIO()
    call_command("token", "create", "ＴＨＲ１", stdout=out, stderr=StringIO())
    assert authenticate_token(out.getvalue().strip()) == thr1


def test_createsuperuser_refuses_another_spelling_of_a_name(thr1):
    with mock.patch.dict(os.environ, {"DJANGO_SUPERUSER_PASSWORD": PASSWORD}):
        with pytest.raises(CommandError, match="already taken"):
            call_command(
                "createsuperuser",
                username="ｔｈｒ１",
                email="x@example.com",
                interactive=False,
                stdout=StringIO(),
            )
        call_command(
            "createsuperuser",
            username="Ｒｏｏｔ",
            email="x@example.com",
            interactive=False,
            stdout=StringIO(),
        )
    assert User.objects.get(is_superuser=True).username == "root"


# --- Accounts from before names had one form (migration core.0003) ----------------------------


def rename_to_one_form():
    from importlib import import_module

    migration = import_module("mamori.core.migrations.0003_canonical_usernames")
    migration.rename_to_one_form(apps, None)


def test_the_migration_gives_every_name_its_one_form_unless_taken(make_user):
    users = {
        name: make_user(f"u{i}", Role.OPERATOR)
        for i, name in enumerate(["Alice", "ＢＯＢ", "thr1", "THR1", "Carol", "CAROL", "dave"])
    }
    for name, user in users.items():
        User.objects.filter(pk=user.pk).update(username=name)
    rename_to_one_form()
    names = {name: User.objects.get(pk=user.pk).username for name, user in users.items()}
    assert names == {
        "Alice": "alice",
        "ＢＯＢ": "bob",
        "thr1": "thr1",  # already in the one form
        "THR1": "THR1",  # its one form is taken: it keeps its spelling
        "Carol": "carol",  # the older of two gets the one form
        "CAROL": "CAROL",
        "dave": "dave",
    }


def test_an_account_that_kept_its_spelling_signs_in_by_it_and_shares_the_counter(
    client, thr1, make_user, sign_in, provider_admin
):
    legacy = make_user("legacy", Role.OPERATOR)
    User.objects.filter(pk=legacy.pk).update(username="THR1")
    assert sign_in("THR1").status_code == 302
    assert signed_in_as(client) == legacy.pk
    client.logout()
    assert sign_in("ｔｈｒ１").status_code == 302
    assert signed_in_as(client) == thr1.pk
    client.logout()
    for _ in range(5):
        sign_in("thr1", "wrong")
    assert sign_in("THR1").context["locked"]
    # Editing it keeps its name: it is not renamed onto the other account's.
    client.force_login(provider_admin)
    data = {"email": "legacy@provider.example", "role": "operator", "is_active": ""}
    assert client.post(reverse("user_edit", args=[legacy.pk]), data).status_code == 302
    legacy.refresh_from_db()
    assert (legacy.username, legacy.is_active) == ("THR1", False)
