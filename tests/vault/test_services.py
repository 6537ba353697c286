"""Storing, revealing and destroying secrets through the service API (VLT-01..03, ACC-03)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from mamori.core.models import AuditEvent, Role
from mamori.vault import services
from mamori.vault.models import DataKey, DestructionRecord, Secret, SecretKind
from tests.vault.conftest import CANARY, KEYSTORE_DB

pytestmark = KEYSTORE_DB


@pytest.fixture
def secret(acme, operator):
    return services.store_secret(
        acme,
        kind=SecretKind.SERVER_LOGIN,
        name="web01 root",
        value=CANARY,
        actor=operator,
        username="root",
        location="ssh://web01.acme.example",
    )


@pytest.mark.req("VLT-01")
def test_it_keeps_the_value_only_as_ciphertext_and_the_key_in_the_keystore(secret):
    row = Secret.objects.values().get(pk=secret.pk)
    assert CANARY.encode() not in bytes(row["sealed_value"])
    assert all(CANARY not in str(v) for k, v in row.items() if k != "sealed_value")
    data_key = DataKey.objects.using("keystore").get(key_ref=secret.key_ref)
    assert data_key.master_key_id.startswith("mk-")
    assert services.decrypt_for_export(Secret.objects.get(pk=secret.pk)) == CANARY.encode()


@pytest.mark.req("VLT-01")
def test_it_refuses_a_ciphertext_copied_onto_another_secret(secret, acme, operator):
    other = services.store_secret(
        acme, kind=SecretKind.OTHER, name="other", value="other value", actor=operator
    )
    other.sealed_value, other.key_ref = secret.sealed_value, secret.key_ref
    with pytest.raises(services.SecretUnavailable):
        services.decrypt_for_export(other)


@pytest.mark.req("VLT-01")
def test_it_changes_the_value_under_a_new_data_key_and_erases_the_old_one(
    secret, operator, django_capture_on_commit_callbacks
):
    old_ref = secret.key_ref
    with django_capture_on_commit_callbacks(execute=True):
        services.change_secret_value(secret, "new value", actor=operator)
    assert secret.key_ref != old_ref
    assert not DataKey.objects.filter(key_ref=old_ref).exists()
    assert services.decrypt_for_export(Secret.objects.get(pk=secret.pk)) == b"new value"
    event = AuditEvent.objects.get(action="secret.value_change")
    assert event.changes == {"value_changed": True}


@pytest.mark.req("VLT-02")
def test_it_reveals_only_to_staff_assigned_to_the_client_with_a_purpose(
    secret, make_user, acme, globex, operator, provider_admin, subcontractor, owner, member
):
    assigned_admin = make_user("boss", Role.PROVIDER_ADMIN, assigned=[acme])
    elsewhere = make_user("elsewhere", Role.OPERATOR, assigned=[globex])
    for user in (operator, provider_admin, owner, member, elsewhere):
        with pytest.raises(PermissionDenied):
            services.reveal_secret(secret, actor=user, purpose="障害対応")
    with pytest.raises(ValidationError):
        services.reveal_secret(secret, actor=subcontractor, purpose="   ")
    assert not AuditEvent.objects.filter(action="secret.reveal").exists()
    for user in (subcontractor, assigned_admin):
        assert (
            services.reveal_secret(secret, actor=user, purpose="サーバー障害対応のためSSHログイン")
            == CANARY
        )
    events = AuditEvent.objects.filter(action="secret.reveal").order_by("pk")
    assert [e.actor_label for e in events] == ["subcon", "boss"]
    assert events[0].changes == {"purpose": "サーバー障害対応のためSSHログイン"}
    assert events[0].client_id == acme.pk and events[0].object_id == str(secret.pk)


@pytest.mark.req("VLT-02")
@pytest.mark.django_db(transaction=True, databases=["default", "keystore"])
def test_it_commits_the_reveal_event_before_returning_the_value(acme, operator, subcontractor):
    secret = services.store_secret(
        acme, kind=SecretKind.API_TOKEN, name="token", value=CANARY, actor=operator
    )
    # Inside a caller's transaction the event could still roll back after the value is out.
    with pytest.raises(RuntimeError), transaction.atomic():
        services.reveal_secret(secret, actor=subcontractor, purpose="deploy")
    assert services.reveal_secret(secret, actor=subcontractor, purpose="deploy") == CANARY
    assert AuditEvent.objects.filter(action="secret.reveal").count() == 1


@pytest.mark.req("VLT-03")
def test_it_destroys_the_data_key_and_keeps_a_record(secret, provider_admin, acme):
    key_ref = secret.key_ref
    with pytest.raises(ValidationError):
        services.destroy_secret(secret, actor=provider_admin, reason=" ")
    record = services.destroy_secret(secret, actor=provider_admin, reason="契約終了")
    assert not DataKey.objects.filter(key_ref=key_ref).exists()
    row = Secret.objects.get(pk=secret.pk)
    assert (
        row.destroyed_at and row.destroyed_by == provider_admin and bytes(row.sealed_value) == b""
    )
    assert record.client == acme and record.secret == row and record.reason == "契約終了"
    assert "web01 root" in record.description and record.actor_label == "padmin"
    assert CANARY not in record.description + record.method
    assert DestructionRecord.objects.count() == 1
    with pytest.raises(services.SecretDestroyed):
        services.decrypt_for_export(row)
    with pytest.raises(ValidationError):
        services.destroy_secret(row, actor=provider_admin, reason="again")
    event = AuditEvent.objects.get(action="secret.destroy")
    assert event.changes["reason"] == "契約終了"


@pytest.mark.req("VLT-01")
def test_it_lets_only_provider_staff_who_see_the_client_store(acme, owner, make_user):
    stranger = make_user("stranger", Role.SUBCONTRACTOR)
    for user in (owner, stranger):
        with pytest.raises(PermissionDenied):
            services.store_secret(acme, kind="other", name="x", value="y", actor=user)
    assert not Secret.objects.exists()


@pytest.mark.req("VLT-01")
def test_it_keeps_private_keys_as_bytes(acme, subcontractor):
    pem = b"-----BEGIN PRIVATE KEY-----\nMIIB" + CANARY.encode() + b"\n-----END PRIVATE KEY-----\n"
    secret = services.store_private_key(acme, pem, actor=None)
    assert secret.kind == SecretKind.PRIVATE_KEY and secret.name
    assert services.decrypt_for_export(secret) == pem
    assert services.reveal_secret(secret, actor=subcontractor, purpose="CSR") == pem
    with pytest.raises(ValidationError):
        services.store_private_key(acme, b"not a key", actor=None)
