"""Orders and change requests (CT-06): nothing changes until accepted; accepting on D ends the
changed fees on D − 1 and starts the new amounts on D; declining changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from mamori.billing import changes
from mamori.billing.fees import fees_in_force
from mamori.billing.models import ChangeState, Fee, FeeKind
from mamori.core.models import AuditEvent
from mamori.inventory.services import Refused
from tests.billing.payments_support import contract_of, monthly_fee

pytestmark = pytest.mark.req("CT-06")

D = dt.date


@pytest.fixture(autouse=True)
def english():
    """These tests read the services' messages in English."""
    with translation.override("en"):
        yield


def _amounts(contract, on):
    return sorted((f.kind, f.amount) for f in fees_in_force(contract, on))


def test_accepted_change_applies_from_the_acceptance_day(acme, operator):
    contract = contract_of(acme)
    fee = monthly_fee(contract, 33000)
    change = changes.record_change(
        operator,
        contract,
        kind="change",
        received_on=D(2026, 6, 10),
        summary="監視対象を2台追加",
        fee_changes=[
            {"fee": fee.pk, "amount": "44,000"},
            {"fee": None, "kind": "other", "amount": 20000, "description": "初期設定"},
        ],
    )
    # Recorded only: nothing changes before acceptance.
    assert _amounts(contract, D(2026, 7, 1)) == [(FeeKind.MONTHLY, Decimal(33000))]
    new = changes.accept_change(operator, change, D(2026, 7, 1))
    assert len(new) == 2
    fee.refresh_from_db()
    assert fee.ends_on == D(2026, 6, 30)
    assert _amounts(contract, D(2026, 6, 30)) == [(FeeKind.MONTHLY, Decimal(33000))]
    assert _amounts(contract, D(2026, 7, 1)) == [
        (FeeKind.MONTHLY, Decimal(44000)),
        (FeeKind.OTHER, Decimal(20000)),
    ]
    assert all(f.change_id == change.pk and f.starts_on == D(2026, 7, 1) for f in new)
    change.refresh_from_db()
    assert change.state == ChangeState.ACCEPTED and change.decided_on == D(2026, 7, 1)
    assert AuditEvent.objects.filter(action="contract_change.accept").count() == 1
    with pytest.raises(ValidationError, match="already"):
        changes.decline_change(operator, change, D(2026, 7, 2))


def test_declined_change_changes_nothing(acme, operator):
    contract = contract_of(acme)
    fee = monthly_fee(contract, 33000)
    change = changes.record_change(
        operator,
        contract,
        kind="order",
        received_on=D(2026, 6, 10),
        summary="追加作業",
        fee_changes=[{"fee": fee.pk, "amount": None}],
    )
    changes.decline_change(operator, change, D(2026, 6, 20))
    fee.refresh_from_db()
    assert fee.ends_on is None
    assert Fee.objects.filter(contract=contract).count() == 1
    change.refresh_from_db()
    assert change.state == ChangeState.DECLINED


def test_fee_changes_are_checked_against_the_contract(acme, globex, operator, owner):
    contract = contract_of(acme)
    stranger = monthly_fee(contract_of(globex), 1000)
    with pytest.raises(ValidationError) as e:
        changes.record_change(
            operator,
            contract,
            kind="change",
            received_on=D(2026, 6, 10),
            summary="x",
            fee_changes=[{"fee": stranger.pk, "amount": 1}, {"fee": None, "amount": "-5"}],
        )
    assert len(e.value.message_dict["fee_changes"]) == 2
    with pytest.raises(Refused):
        changes.record_change(
            owner, contract, kind="change", received_on=D(2026, 6, 10), summary="x"
        )


@pytest.mark.django_db(databases=["default", "keystore"])
def test_documents_are_kept_encrypted_in_the_vault(acme, operator):
    contract = contract_of(acme)
    change = changes.record_change(
        operator,
        contract,
        kind="order",
        received_on=D(2026, 6, 10),
        summary="個別注文",
        documents=[changes.Document("注文書.pdf", b"%PDF-1.4 yamada taro", personal=True)],
    )
    secret = change.documents.get()
    assert secret.client == acme and "注文書.pdf" in secret.name
    sealed = secret.sealed_value
    assert b"yamada" not in (sealed if isinstance(sealed, bytes) else sealed.encode())
    from mamori.vault.services import decrypt_for_export

    assert decrypt_for_export(secret) == b"%PDF-1.4 yamada taro"
