"""Sign-in throttling: per user name from any address, per address for any user name."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.signals import user_login_failed
from django.urls import reverse
from django.utils import timezone

from mamori.access import throttle
from mamori.access.models import LoginFailure

pytestmark = pytest.mark.req("ACC-01")


@pytest.fixture
def failures():
    """The user names of every ``user_login_failed`` signal sent during the test."""
    seen: list[str] = []

    def listen(sender, credentials, **kwargs):
        seen.append(credentials.get("username"))

    user_login_failed.connect(listen)
    yield seen
    user_login_failed.disconnect(listen)


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_it_locks_a_user_name_after_five_failures_from_any_address(
    client, operator, sign_in, failures
):
    for i in range(5):
        response = sign_in("operator", "wrong", REMOTE_ADDR=f"10.0.0.{i + 1}")
        assert not response.context.get("locked")
    response = sign_in("operator", REMOTE_ADDR="10.0.0.99")
    assert response.status_code == 200
    assert response.context["locked"]
    assert not is_signed_in(client)
    # Every refused attempt is announced, the refused one too (the audit trail listens).
    assert failures == ["operator"] * 6


def test_it_says_the_same_for_a_user_that_does_not_exist(db, client, sign_in):
    for _ in range(5):
        sign_in("nobody", "wrong")
    assert sign_in("nobody", "wrong").context["locked"]


def test_it_locks_an_address_after_twenty_failures(client, operator, sign_in):
    for i in range(20):
        sign_in(f"guess{i}", "wrong", REMOTE_ADDR="10.9.9.9")
    assert sign_in("operator", REMOTE_ADDR="10.9.9.9").context["locked"]
    assert not is_signed_in(client)
    sign_in("operator", REMOTE_ADDR="10.9.9.10")
    assert is_signed_in(client)


def test_it_unlocks_after_fifteen_minutes(client, operator, sign_in):
    for _ in range(5):
        sign_in("operator", "wrong")
    assert sign_in("operator").context["locked"]
    LoginFailure.objects.update(created_at=timezone.now() - dt.timedelta(minutes=16))
    response = sign_in("operator")
    assert response.status_code == 302
    assert is_signed_in(client)
    # A complete sign-in forgets the user name's failures (the address's stay).
    assert not LoginFailure.objects.filter(username="operator").exists()


def test_it_does_not_lock_for_failures_spread_over_more_than_the_window(db):
    now = timezone.now()
    for minutes in (29, 22, 15, 8, 1):
        LoginFailure.objects.create(username="operator", ip="10.0.0.1")
        LoginFailure.objects.filter(created_at__gt=now - dt.timedelta(seconds=5)).update(
            created_at=now - dt.timedelta(minutes=minutes)
        )
    assert throttle.locked_until("operator", "10.0.0.1") is None
    for _ in range(4):
        throttle.record_failure("operator", "10.0.0.1")
    assert throttle.locked_until("Operator", "10.0.0.2") is not None


def test_it_deletes_failures_too_old_to_matter(db):
    LoginFailure.objects.create(username="old", ip="10.0.0.1")
    LoginFailure.objects.update(created_at=timezone.now() - dt.timedelta(hours=2))
    throttle.record_failure("new", "10.0.0.1")
    assert list(LoginFailure.objects.values_list("username", flat=True)) == ["new"]


def test_it_counts_wrong_codes_like_wrong_passwords(client, operator, enrol, sign_in):
    enrol(operator)
    sign_in("operator")
    client.post(reverse("login_code"), {"code": "000000"})
    assert LoginFailure.objects.filter(username="operator").count() == 1
