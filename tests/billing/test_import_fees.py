"""Contracts' fees in the inventory file (BIL-01): imported through the one write path with
their audit events, idempotent, all or nothing, and exported back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mamori.billing.models import Fee
from mamori.core.models import AuditEvent
from mamori.inventory.transfer import export_inventory, import_file

FILE = """
clients:
  - code: acme
    contracts:
      - type: ssl_management
        start: 2026-04-01
        fees:
          - kind: monthly
            amount: 33000
            tax_included: true
            description: 保守管理費
          - kind: other
            amount: 5000
            starts_on: 2026-06-01
            tax_rate: 8
"""


@pytest.mark.req("BIL-01")
def test_fees_import_once_and_export_back(acme, operator):
    report = import_file(FILE.encode(), filename="fees.yaml", actor=operator)
    assert report.ok, [str(e) for e in report.errors]
    monthly, other = Fee.objects.order_by("kind")
    assert (monthly.kind, monthly.amount, monthly.tax_included) == ("monthly", Decimal(33000), True)
    assert (other.tax_rate, other.starts_on.isoformat()) == (8, "2026-06-01")
    assert AuditEvent.objects.filter(action="import.create", object_type="billing.Fee").count() == 2
    again = import_file(FILE.encode(), filename="fees.yaml", actor=operator)
    assert again.ok and Fee.objects.count() == 2
    assert again.counts["fees"]["unchanged"] == 2
    exported = export_inventory(fmt="yaml", clients=["acme"], actor=operator)
    for text in ("fees:", "amount: 33000", "description: 保守管理費"):
        assert text in exported
    # The export imports back as no change.
    back = import_file(exported.encode(), filename="back.yaml", actor=operator)
    assert back.ok and back.counts["fees"]["unchanged"] == 2


@pytest.mark.req("BIL-01")
def test_a_bad_fee_imports_nothing(acme, operator, owner):
    bad = FILE.replace("tax_rate: 8", "tax_rate: 7").replace("33000", "34000")
    report = import_file(bad.encode(), filename="fees.yaml", actor=operator)
    assert not report.ok
    assert any("tax_rate" in str(e) for e in report.errors)
    assert not Fee.objects.exists()
    # Fees are the provider's to set: a client's administrator may not.
    report = import_file(FILE.encode(), filename="fees.yaml", actor=owner)
    assert not report.ok and not Fee.objects.exists()


@pytest.mark.req("BIL-01")
def test_fee_services_write_with_audit_and_staff_only(acme, operator, owner):
    from django.core.exceptions import ValidationError

    from mamori.billing import services
    from mamori.inventory.services import Refused

    contract = acme.contracts.get()
    fee = services.create_fee(operator, contract, {"kind": "monthly", "amount": 10000})
    assert services.change_fee(operator, fee, {"amount": 12000}) == {
        "amount": [Decimal(10000), Decimal(12000)]
    }
    assert services.change_fee(operator, fee, {"amount": 12000}) == {}
    actions = AuditEvent.objects.filter(object_type="billing.Fee").values_list("action", flat=True)
    assert sorted(actions) == ["fee.create", "fee.update"]
    with pytest.raises(Refused):
        services.create_fee(owner, contract, {"kind": "monthly", "amount": 1})
    with pytest.raises(ValidationError):
        services.create_fee(operator, contract, {"kind": "weekly", "amount": 1})
