"""Writing a client's contacts and contracts: one function per write, with its audit event, in
one transaction, through the path every record shares (:mod:`mamori.inventory.services`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from mamori.clients.models import Client, Contact, Contract
from mamori.core.models import User
from mamori.core.permissions import Rule
from mamori.inventory.services import (
    Refused,
    change_record,
    check_write,
    create_record,
    delete_record,
    jsonable,
    normalised,
    rule_message,
    save_record,
)

CLIENT_FIELDS = ("code", "name", "address", "representative", "notes")


def create_client(actor: User | None, values: dict[str, Any], *, request=None) -> Client:
    """A new client, as the inventory import makes one: only the provider's administrators and
    operators may (:func:`~mamori.inventory.transfer.applying.may_create_clients`)."""
    from mamori.inventory.transfer.applying import may_create_clients

    if not may_create_clients(actor):
        raise Refused(rule_message(Rule.STAFF, Client))
    values = normalised("clients", values)
    client = Client(**values)
    return save_record(
        client,
        section="clients",
        client=client,
        actor=actor,
        action="client.create",
        changes={name: jsonable(value) for name, value in values.items()},
        request=request,
    )


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


def delete_contact(actor: User, contact: Contact, *, request=None) -> None:
    """Delete a contact as its page does: its chat channels go with it, each removed with its
    secret destroyed (:func:`mamori.notices.services.remove_contact_channel`). Notices sent to
    it keep the address they were sent to and lose the link."""
    from mamori.notices import services as notices

    check_write("contacts", actor, contact.client, contact, contact)
    with transaction.atomic():
        for channel in contact.channels.all():
            try:
                notices.remove_contact_channel(channel, actor=actor, request=request)
            except PermissionDenied:
                raise Refused(rule_message(Rule.CLIENT_ADMIN, Contact)) from None
        delete_record(
            contact,
            "contacts",
            actor=actor,
            action="contact.delete",
            changes={
                "name": contact.name,
                "email": contact.email,
                "language": contact.language,
                "notify": list(contact.notify),
            },
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
