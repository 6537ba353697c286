"""Writing a client's contacts and contracts: one function per write, with its audit event, in
one transaction, through the path every record shares (:mod:`mamori.inventory.services`)."""

from __future__ import annotations

from typing import Any

from mamori.clients.models import Client, Contact, Contract
from mamori.core.models import User
from mamori.inventory.services import change_record, create_record, delete_record

CONTACT_FIELDS = ("name", "email", "language", "notify")
CONTRACT_FIELDS = (
    "type",
    "title",
    "start",
    "term_months",
    "auto_renew",
    "renewal_policy",
    "expiry_notice_days",
    "notes",
)


def create_contact(
    actor: User | None, client: Client, values: dict[str, Any], *, request=None
) -> Contact:
    return create_record(
        Contact, "contacts", client, values, actor=actor, action="contact.create", request=request
    )


def change_contact(
    actor: User | None, contact: Contact, values: dict[str, Any], *, request=None
) -> dict:
    return change_record(
        contact, "contacts", values, actor=actor, action="contact.update", request=request
    )


def delete_contact(actor: User | None, contact: Contact, *, request=None) -> None:
    """Refused while the contact has chat channels (they would go with it). Notices sent to it
    keep their recipient's address and lose the link."""
    delete_record(
        contact,
        "contacts",
        actor=actor,
        action="contact.delete",
        changes={"name": contact.name},
        request=request,
    )


def create_contract(
    actor: User | None, client: Client, values: dict[str, Any], *, request=None
) -> Contract:
    return create_record(
        Contract,
        "contracts",
        client,
        values,
        actor=actor,
        action="contract.create",
        request=request,
    )


def change_contract(
    actor: User | None, contract: Contract, values: dict[str, Any], *, request=None
) -> dict:
    return change_record(
        contract, "contracts", values, actor=actor, action="contract.update", request=request
    )


def delete_contract(actor: User | None, contract: Contract, *, request=None) -> None:
    """Refused while endpoints or managed certificates name the contract: their notice schedule
    and renewal instruction come from it."""
    delete_record(
        contract,
        "contracts",
        actor=actor,
        action="contract.delete",
        changes={"type": contract.type, "start": contract.start.isoformat()},
        also=("endpoints", "managed_certificates"),
        request=request,
    )
