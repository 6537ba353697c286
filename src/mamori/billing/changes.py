"""Individual orders and change requests (CT-06): recorded against a contract with their
documents, they change nothing until accepted.

- :func:`record_change` keeps what was received: the kind, the day, a summary, the fee changes
  it asks for (``fee_changes``, checked against the contract's fees) and its documents. Every
  document is kept as a vault secret (encrypted; its reading is audited), so one that holds
  personal data is never stored in the clear; the caller says which do (``personal``), and the
  secret's notes say so.
- :func:`accept_change` on day D: each changed fee ends on D − 1 and its successor (new amount,
  ``Fee.change`` pointing here) starts on D; a new fee starts on D; a fee given without amount
  ends on D − 1. Invoices for days before D keep the old amounts.
- :func:`decline_change` records the answer and changes nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from mamori.billing.fees import check_staff
from mamori.billing.models import ChangeState, ContractChange, Fee, FeeKind, TaxRate
from mamori.clients.models import Contract
from mamori.core import audit
from mamori.core.models import User
from mamori.inventory.services import jsonable
from mamori.vault.models import SecretKind

#: The largest document kept (bytes).
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


@dataclass
class Document:
    name: str
    content: bytes
    personal: bool = False


def clean_fee_changes(contract: Contract, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` in their one stored form, or ``ValidationError`` naming what is wrong."""
    if not isinstance(entries, list):
        raise ValidationError({"fee_changes": _("Expected a list of fee changes.")})
    fees = {fee.pk: fee for fee in contract.fees.all()}
    cleaned = []
    problems = []
    for n, entry in enumerate(entries, start=1):
        fee_id = entry.get("fee")
        if fee_id in ("", None):
            fee_id = None
        else:
            try:
                fee_id = int(fee_id)
            except (TypeError, ValueError):
                fee_id = -1
            if fee_id not in fees:
                problems.append(
                    _("Change %(n)s: the fee is not one of this contract's.") % {"n": n}
                )
                continue
        fee = fees.get(fee_id)
        amount = entry.get("amount")
        if amount in ("", None):
            amount = None
            if fee is None:
                problems.append(_("Change %(n)s: a new fee needs an amount.") % {"n": n})
                continue
        else:
            try:
                amount = Decimal(str(amount).replace(",", ""))
            except InvalidOperation:
                amount = Decimal(-1)
            if amount < 0 or amount != amount.to_integral_value():
                problems.append(
                    _("Change %(n)s: the amount is a whole number of yen, 0 or more.") % {"n": n}
                )
                continue
        kind = entry.get("kind") or (fee.kind if fee else "")
        if kind not in FeeKind.values:
            problems.append(_("Change %(n)s: choose the kind of fee.") % {"n": n})
            continue
        rate = entry.get("tax_rate")
        rate = int(rate) if rate not in (None, "") else (fee.tax_rate if fee else TaxRate.STANDARD)
        if rate not in TaxRate.values:
            problems.append(_("Change %(n)s: the tax rate is 10, 8 or 0.") % {"n": n})
            continue
        included = entry.get("tax_included")
        if included is None:
            included = fee.tax_included if fee else False
        description = entry.get("description")
        if description is None:
            description = fee.description if fee else ""
        cleaned.append(
            {
                "fee": fee_id,
                "kind": kind,
                "description": str(description).strip()[:200],
                "amount": None if amount is None else str(amount.quantize(Decimal(1))),
                "tax_rate": rate,
                "tax_included": bool(included),
            }
        )
    if problems:
        raise ValidationError({"fee_changes": problems})
    return cleaned


def record_change(
    actor: User | None,
    contract: Contract,
    *,
    kind: str,
    received_on: dt.date,
    summary: str,
    fee_changes: list[dict[str, Any]] | None = None,
    documents: list[Document] = (),
    request=None,
) -> ContractChange:
    """Record an order form or change request of ``contract``, awaiting acceptance."""
    from mamori.vault.services import store_secret

    check_staff(actor, contract.client, ContractChange)
    change = ContractChange(
        contract=contract,
        kind=kind,
        received_on=received_on,
        summary=(summary or "").strip(),
        fee_changes=clean_fee_changes(contract, list(fee_changes or [])),
        created_by=actor,
    )
    change.full_clean()
    for document in documents:
        if len(document.content) > MAX_DOCUMENT_BYTES:
            raise ValidationError({"documents": _("A document may be at most 10 MB.")})
    with transaction.atomic():
        change.save()
        names = []
        for document in documents:
            notes = _("Personal data") if document.personal else ""
            secret = store_secret(
                contract.client,
                kind=SecretKind.OTHER,
                name=f"{change.get_kind_display()} {received_on:%Y-%m-%d}: {document.name}"[:200],
                value=document.content,
                actor=actor,
                request=request,
                notes=notes,
            )
            change.documents.add(secret)
            names.append({"name": document.name, "personal": document.personal})
        audit.record(
            "contract_change.create",
            change,
            actor=actor,
            request=request,
            changes={
                "contract": jsonable(contract),
                "kind": kind,
                "received_on": received_on.isoformat(),
                "fee_changes": change.fee_changes,
                "documents": names,
            },
            client_id=contract.client_id,
        )
    return change


def _check_proposed(change: ContractChange) -> None:
    if change.state != ChangeState.PROPOSED:
        raise ValidationError(
            _("This change was already %(state)s on %(day)s.")
            % {"state": change.get_state_display(), "day": change.decided_on}
        )


def accept_change(
    actor: User | None, change: ContractChange, on: dt.date, *, request=None
) -> list[Fee]:
    """Accept ``change`` on ``on``: its fee changes apply from that day. The new fees."""
    contract = change.contract
    check_staff(actor, contract.client, ContractChange)
    _check_proposed(change)
    if on < change.received_on:
        raise ValidationError(
            {"decided_on": _("A change cannot be accepted before it was received.")}
        )
    day_before = on - dt.timedelta(days=1)
    created: list[Fee] = []
    ended: list[dict[str, Any]] = []
    with transaction.atomic():
        locked = ContractChange.objects.select_for_update().get(pk=change.pk)
        _check_proposed(locked)
        for entry in change.fee_changes:
            old = None
            if entry["fee"] is not None:
                old = (
                    Fee.objects.select_for_update()
                    .filter(pk=entry["fee"], contract=contract)
                    .first()
                )
                if old is None:
                    raise ValidationError(
                        {"fee_changes": _("A fee this change names no longer exists.")}
                    )
                if (old.starts_on or contract.start) >= on:
                    raise ValidationError(
                        {
                            "decided_on": _(
                                "A fee this change replaces starts on or after %(day)s: accept "
                                "it on a later day, or change that fee directly."
                            )
                            % {"day": on.isoformat()}
                        }
                    )
                if old.ends_on is not None and old.ends_on < on:
                    raise ValidationError(
                        {"fee_changes": _("A fee this change names has already ended.")}
                    )
                old_end = old.ends_on
                old.ends_on = day_before
                old.full_clean()
                old.save(update_fields=["ends_on"])
                ended.append({"fee": old.pk, "ends_on": day_before.isoformat()})
            else:
                old_end = None
            if entry["amount"] is None:
                continue
            fee = Fee(
                contract=contract,
                kind=entry["kind"],
                description=entry["description"],
                amount=Decimal(entry["amount"]),
                tax_rate=entry["tax_rate"],
                tax_included=entry["tax_included"],
                starts_on=on,
                ends_on=old_end,
                change=change,
            )
            fee.full_clean()
            fee.save()
            created.append(fee)
        change.state = ChangeState.ACCEPTED
        change.decided_on = on
        change.save(update_fields=["state", "decided_on"])
        audit.record(
            "contract_change.accept",
            change,
            actor=actor,
            request=request,
            changes={
                "decided_on": on.isoformat(),
                "ended": ended,
                "started": [
                    {"fee": f.pk, "kind": f.kind, "amount": str(f.amount)} for f in created
                ],
            },
            client_id=contract.client_id,
        )
    return created


def decline_change(
    actor: User | None, change: ContractChange, on: dt.date, *, request=None
) -> None:
    """Decline ``change`` on ``on``: recorded, nothing else changes."""
    check_staff(actor, change.contract.client, ContractChange)
    _check_proposed(change)
    with transaction.atomic():
        locked = ContractChange.objects.select_for_update().get(pk=change.pk)
        _check_proposed(locked)
        change.state = ChangeState.DECLINED
        change.decided_on = on
        change.save(update_fields=["state", "decided_on"])
        audit.record(
            "contract_change.decline",
            change,
            actor=actor,
            request=request,
            changes={"decided_on": on.isoformat()},
            client_id=change.contract.client_id,
        )
