"""Writing a contract's fees (BIL-01): one function per write, each with its audit event in one
transaction, through the path the inventory import takes (:func:`mamori.inventory.services.
save_record`: the same permission — the provider's staff — validation and audit). Pages and the
API call these; the import writes fees through the same ``save_record``."""

from __future__ import annotations

import copy
from typing import Any

from mamori.billing.models import Fee
from mamori.clients.models import Contract
from mamori.core.models import User
from mamori.inventory.services import jsonable, normalised, save_record

FEE_FIELDS = ("kind", "description", "amount", "tax_rate", "tax_included", "starts_on", "ends_on")


def create_fee(
    actor: User | None, contract: Contract, values: dict[str, Any], *, request=None
) -> Fee:
    """A new fee of ``contract`` (``values`` by model field name, read as the import reads them)."""
    values = normalised("fees", values)
    fee = Fee(contract=contract, **values)
    return save_record(
        fee,
        section="fees",
        client=contract.client,
        actor=actor,
        action="fee.create",
        changes={name: jsonable(value) for name, value in values.items()},
        request=request,
    )


def change_fee(actor: User | None, fee: Fee, values: dict[str, Any], *, request=None) -> dict:
    """Change the fields of ``values`` that differ: ``{field: [old, new]}``, nothing written
    when nothing differs. Issued invoices keep what they billed (their lines are frozen)."""
    values = normalised("fees", values)
    before = copy.copy(fee)
    changed: dict[str, list[Any]] = {}
    for name, new in values.items():
        old = getattr(fee, name)
        if old != new:
            changed[name] = [jsonable(old), jsonable(new)]
            setattr(fee, name, new)
    if changed:
        save_record(
            fee,
            section="fees",
            client=fee.contract.client,
            actor=actor,
            action="fee.update",
            changes=changed,
            before=before,
            update_fields=list(changed),
            request=request,
        )
    return changed
