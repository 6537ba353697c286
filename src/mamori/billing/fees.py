"""A contract's fees (BIL-01): create, change and delete, one function per write with its audit
event in one transaction. The pages, the API and the command line all come here, so the rule
(provider staff who see the client, ``Fee.change_rule``) and the validation are the same.

A fee that an invoice line has billed is kept: it can be ended (``ends_on``), not deleted, so the
issued invoice keeps what it refers to.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from mamori.billing.models import Fee, InvoiceLine
from mamori.clients.models import Contract
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import may_change
from mamori.inventory.services import Refused, jsonable, rule_message

FEE_FIELDS = (
    "kind",
    "description",
    "amount",
    "tax_rate",
    "tax_included",
    "starts_on",
    "ends_on",
)


def check_staff(actor: User | None, target: Any, model: type) -> None:
    """Raise :class:`Refused` if ``actor`` may not change ``model`` records of ``target``'s
    client (``actor`` ``None``: the command line, with full rights)."""
    if actor is not None and not may_change(actor, target, model.change_rule):
        raise Refused(rule_message(model.change_rule, model))


def _checked(fee: Fee) -> None:
    fee.full_clean()
    contract = fee.contract
    if fee.starts_on and fee.starts_on < contract.start:
        raise ValidationError({"starts_on": _("A fee cannot start before its contract.")})


def create_fee(
    actor: User | None, contract: Contract, values: dict[str, Any], *, request=None
) -> Fee:
    check_staff(actor, contract.client, Fee)
    fee = Fee(contract=contract, **values)
    _checked(fee)
    with transaction.atomic():
        fee.save()
        audit.record(
            "fee.create",
            fee,
            actor=actor,
            request=request,
            changes={"contract": jsonable(contract), **{k: jsonable(v) for k, v in values.items()}},
            client_id=contract.client_id,
        )
    return fee


def change_fee(actor: User | None, fee: Fee, values: dict[str, Any], *, request=None) -> dict:
    """Change the fields of ``values`` that differ; ``{field: [old, new]}``. A billed fee keeps
    what its invoice lines say: only its end date and description may change."""
    check_staff(actor, fee.contract.client, Fee)
    before = copy.copy(fee)
    changed: dict[str, list[Any]] = {}
    for name, new in values.items():
        if name not in FEE_FIELDS:
            raise ValueError(f"not a fee field: {name}")
        old = getattr(before, name)
        if old != new:
            setattr(fee, name, new)
            changed[name] = [jsonable(old), jsonable(new)]
    if not changed:
        return {}
    frozen = set(changed) - {"ends_on", "description"}
    if frozen and InvoiceLine.objects.filter(fee=fee).exists():
        raise ValidationError(
            {
                name: _("This fee has been invoiced: end it and add a new one instead.")
                for name in sorted(frozen)
            }
        )
    _checked(fee)
    with transaction.atomic():
        fee.save()
        audit.record(
            "fee.update",
            fee,
            actor=actor,
            request=request,
            changes=changed,
            client_id=fee.contract.client_id,
        )
    return changed


def delete_fee(actor: User | None, fee: Fee, *, request=None) -> None:
    check_staff(actor, fee.contract.client, Fee)
    if InvoiceLine.objects.filter(fee=fee).exists():
        raise Refused(_("This fee has been invoiced: end it instead of deleting it."))
    with transaction.atomic():
        audit.record(
            "fee.delete",
            fee,
            actor=actor,
            request=request,
            changes={
                "contract": jsonable(fee.contract),
                "kind": fee.kind,
                "amount": jsonable(fee.amount),
            },
            client_id=fee.contract.client_id,
        )
        fee.delete()


def fees_in_force(contract: Contract, on) -> list[Fee]:
    """The contract's fees valid on the day ``on`` (a fee without start starts with the
    contract)."""
    return [
        fee
        for fee in contract.fees.all()
        if (fee.starts_on or contract.start) <= on and (fee.ends_on is None or on <= fee.ends_on)
    ]
