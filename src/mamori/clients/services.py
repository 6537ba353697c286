"""Writing a client's contacts and contracts: one function per write, with its audit event, in
one transaction, through the path every record shares (:mod:`mamori.inventory.services`)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from mamori.clients import terms
from mamori.clients.models import (
    Client,
    Contact,
    Contract,
    ContractNotice,
    NoticeKind,
    NoticeMedium,
    TermsProfile,
)
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, changes_every_client
from mamori.inventory.services import (
    Referenced,
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
    "terms_profile",
    "formed_on",
    "applied_via_web",
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


# --- contract terms (CT-02..CT-05) --------------------------------------------------------------

PROFILE_FIELDS = (
    "code",
    "name_ja",
    "name_en",
    "term_kind",
    "term_months",
    "auto_renew",
    "notice_days",
    "minimum_term",
    "cancellation",
    "mid_term_notice_days",
    "cooling_off_days",
    "reminder_days",
    "first_month_whole",
    "bill_to_period_end",
    "retention_years",
)


def may_edit_profiles(actor: User | None) -> bool:
    """Terms profiles are the provider's: its administrators and operators."""
    return actor is None or changes_every_client(actor, Rule.STAFF)


def _profile_refused() -> Refused:
    return Refused(rule_message(Rule.STAFF, TermsProfile))


def create_terms_profile(
    actor: User | None, values: dict[str, Any], *, request=None
) -> TermsProfile:
    if not may_edit_profiles(actor):
        raise _profile_refused()
    profile = TermsProfile(**{k: v for k, v in values.items() if k in PROFILE_FIELDS})
    profile.full_clean()
    with transaction.atomic():
        profile.save()
        audit.record(
            "terms_profile.create",
            profile,
            actor=actor,
            request=request,
            changes={k: jsonable(getattr(profile, k)) for k in PROFILE_FIELDS},
        )
    return profile


def change_terms_profile(
    actor: User | None, profile: TermsProfile, values: dict[str, Any], *, request=None
) -> dict:
    """Change the fields of ``values`` that differ; a profile contracts use keeps its code (the
    import and export name it by its code)."""
    if not may_edit_profiles(actor):
        raise _profile_refused()
    changed: dict[str, list[Any]] = {}
    updated = copy.copy(profile)
    for name, new in values.items():
        if name not in PROFILE_FIELDS:
            continue
        old = getattr(updated, name)
        if old != new:
            changed[name] = [jsonable(old), jsonable(new)]
            setattr(updated, name, new)
    if not changed:
        return changed
    updated.full_clean()
    with transaction.atomic():
        updated.save(update_fields=[*changed, "updated_at"])
        audit.record("terms_profile.update", updated, actor=actor, request=request, changes=changed)
    for name in changed:
        setattr(profile, name, getattr(updated, name))
    return changed


def delete_terms_profile(actor: User | None, profile: TermsProfile, *, request=None) -> None:
    """Refused while contracts follow the profile (it is protected), and for shipped ones."""
    if not may_edit_profiles(actor):
        raise _profile_refused()
    count = profile.contracts.count()
    if count:
        raise Referenced(profile, [(str(Contract._meta.verbose_name_plural), count)])
    with transaction.atomic():
        audit.record(
            "terms_profile.delete",
            profile,
            actor=actor,
            request=request,
            changes={"code": profile.code},
        )
        profile.delete()


def record_contract_notice(
    actor: User | None,
    contract: Contract,
    *,
    kind: str,
    received_on: date,
    medium: str,
    sender: str,
    requested_end_month: date | None = None,
    request=None,
) -> ContractNotice:
    """Record a cancellation or cooling-off withdrawal the client sent, with the date it takes
    effect by the contract's terms (and why, when later than asked), and its audit event, in
    one transaction. Raises :class:`~mamori.clients.terms.TermsError` for a notice the terms
    refuse (a withdrawal after the cooling-off days), ``ValidationError`` for bad values."""
    check_write("contracts", actor, contract.client, contract, contract)
    errors: dict[str, str] = {}
    if kind not in NoticeKind.values:
        errors["kind"] = str(_("Choose cancellation or withdrawal."))
    if medium not in NoticeMedium.values:
        errors["medium"] = str(_("Choose letter or e-mail."))
    sender = (sender or "").strip()
    if not sender:
        errors["sender"] = str(_("A value is required."))
    if not isinstance(received_on, date):
        errors["received_on"] = str(_("A value is required."))
    if errors:
        raise ValidationError(errors)
    if requested_end_month is not None:
        requested_end_month = requested_end_month.replace(day=1)
    with transaction.atomic():
        locked = Contract.objects.select_for_update().get(pk=contract.pk)
        notices = list(locked.notices.all())
        rules = terms.rules_of(contract)
        formed = contract.formation_date
        current = terms.status(contract, received_on, notices)
        if current.state == terms.State.WITHDRAWN:
            raise terms.TermsError("already_withdrawn")
        if current.state == terms.State.ENDED:
            raise terms.TermsError("already_ended", end=current.end.isoformat())
        if kind == NoticeKind.WITHDRAWAL:
            effective = terms.check_withdrawal(formed, rules, contract.applied_via_web, received_on)
            effect = terms.Effect(effective, deadline=terms.cooling_off_last_day(formed, rules))
        else:
            if received_on < formed and rules.cancellation != terms.MONTH_AFTER_ACCEPTANCE:
                raise terms.TermsError("before_formation", formed=formed.isoformat())
            effect = terms.cancellation_effect(
                contract.start, formed, rules, received_on, requested_end_month
            )
        notice = ContractNotice.objects.create(
            contract=contract,
            kind=kind,
            received_on=received_on,
            medium=medium,
            sender=sender[:200],
            requested_end_month=requested_end_month,
            effective_on=effect.end,
            reason=effect.reason,
            reason_params=effect.params,
            deadline=effect.deadline,
            created_by=actor if actor is not None and actor.pk else None,
        )
        audit.record(
            f"contract.{kind}",
            contract,
            actor=actor,
            request=request,
            changes={
                "notice": notice.pk,
                "received_on": received_on.isoformat(),
                "medium": medium,
                "sender": notice.sender,
                "requested_end_month": (
                    requested_end_month.strftime("%Y-%m") if requested_end_month else None
                ),
                "effective_on": effect.end.isoformat(),
                "reason": effect.reason,
            },
            client_id=contract.client_id,
        )
    return notice


def notice_reason(notice: ContractNotice) -> str:
    """Why the notice takes effect when it does, in the active language ("" if as asked)."""
    return terms.reason_text(notice.reason, notice.reason_params)
