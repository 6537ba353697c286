"""TOTP second factor: enrolment, the two-step sign-in, replay, recovery codes, the policy."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from mamori.access import services
from mamori.access.models import AccessPolicy, RecoveryCode, TwoFactor
from mamori.core.models import AuditEvent
from tests.access.conftest import code_at

pytestmark = [pytest.mark.req("ACC-01"), pytest.mark.req("ACC-03")]


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_it_enrols_an_authenticator_from_the_account_page(client, operator):
    client.force_login(operator)
    page = client.get(reverse("totp_enrol"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', body).group(1).replace(" ", "")
    row = TwoFactor.objects.get(user=operator)
    assert row.confirmed_at is None
    assert secret not in row.secret  # encrypted at rest

    wrong = client.post(reverse("totp_enrol"), {"code": "000000"})
    assert wrong.status_code == 200
    assert not services.has_two_factor(operator)

    done = client.post(reverse("totp_enrol"), {"code": code_at(secret)})
    codes = re.findall(r"<li><code>([a-z2-9-]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    assert services.has_two_factor(operator)
    assert RecoveryCode.objects.filter(user=operator).count() == 10
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists()
    assert AuditEvent.objects.filter(action="user.2fa_enable", object_id=str(operator.pk)).exists()


def test_it_signs_in_in_two_steps(client, operator, enrol, sign_in):
    secret, _codes = enrol(operator)
    response = sign_in("operator", next="/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login_code")
    assert not is_signed_in(client)
    # The half-finished sign-in opens nothing.
    assert client.get(reverse("dashboard")).status_code == 302

    response = client.post(reverse("login_code"), {"code": code_at(secret, 1)})
    assert response.status_code == 302
    assert is_signed_in(client)
    assert client.get(reverse("dashboard")).status_code == 200


def test_it_refuses_a_wrong_code(client, operator, enrol, sign_in):
    enrol(operator)
    sign_in("operator")
    response = client.post(reverse("login_code"), {"code": "123456"})
    assert response.status_code == 200
    assert not is_signed_in(client)


def test_it_refuses_a_code_used_before(client, operator, enrol, sign_in):
    secret, _codes = enrol(operator)
    code = code_at(secret, 1)
    sign_in("operator")
    client.post(reverse("login_code"), {"code": code})
    assert is_signed_in(client)
    client.logout()

    sign_in("operator")
    response = client.post(reverse("login_code"), {"code": code})
    assert response.status_code == 200
    assert not is_signed_in(client)


def test_it_accepts_each_recovery_code_once(client, operator, enrol, sign_in):
    _secret, codes = enrol(operator)
    sign_in("operator")
    client.post(reverse("login_code"), {"code": codes[0].upper()})
    assert is_signed_in(client)
    assert services.remaining_recovery_codes(operator) == 9
    client.logout()

    sign_in("operator")
    client.post(reverse("login_code"), {"code": codes[0]})
    assert not is_signed_in(client)


def test_it_turns_two_factor_off_only_with_a_code(client, operator, enrol):
    secret, _codes = enrol(operator)
    client.force_login(operator)
    client.post(reverse("totp_disable"), {"code": "000000"})
    assert services.has_two_factor(operator)
    client.post(reverse("totp_disable"), {"code": code_at(secret, 1)})
    assert not services.has_two_factor(operator)
    assert not RecoveryCode.objects.filter(user=operator).exists()


def test_it_sends_staff_to_enrolment_under_the_policy(client, operator, sign_in):
    AccessPolicy.objects.update_or_create(pk=1, defaults={"require_staff_2fa": True})
    response = sign_in("operator")
    assert response["Location"] == reverse("login_enrol")
    assert not is_signed_in(client)
    assert client.get(reverse("account_security")).status_code == 302

    page = client.get(reverse("login_enrol"))
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1)
    response = client.post(reverse("login_enrol"), {"code": code_at(secret.replace(" ", ""))})
    assert response.status_code == 200
    assert "recovery-codes" in response.content.decode()
    assert is_signed_in(client)
    assert services.has_two_factor(operator)


def test_it_does_not_require_two_factor_of_client_users(client, owner, sign_in):
    AccessPolicy.objects.update_or_create(pk=1, defaults={"require_staff_2fa": True})
    sign_in("owner")
    assert is_signed_in(client)


def test_it_ends_sessions_of_staff_without_two_factor_when_the_policy_starts(
    client, provider_admin, operator, enrol
):
    from django.test import Client

    other = Client()
    other.force_login(operator)
    enrol(provider_admin)
    client.force_login(provider_admin)
    client.post(reverse("provider_settings"), {"policy-require_staff_2fa": "on"})
    assert AccessPolicy.current().require_staff_2fa
    assert other.get(reverse("dashboard")).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


def test_it_sends_back_to_the_start_after_five_wrong_codes(client, operator, enrol, sign_in):
    enrol(operator)
    sign_in("operator")
    for _ in range(4):
        assert client.post(reverse("login_code"), {"code": "000000"}).status_code == 200
    response = client.post(reverse("login_code"), {"code": "000000"})
    assert response["Location"] == reverse("login")
    # Locked now, even with the right password and code.
    response = sign_in("operator")
    assert response.status_code == 200
    assert response.context["locked"]
    assert client.get(reverse("login_code")).status_code == 302
    assert not is_signed_in(client)
