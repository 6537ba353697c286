"""A client's contacts and contracts: list, read, create, change and delete.

Reading is for whoever sees the client; a contact's e-mail address is shown to provider staff
and the client's own administrators only (ACC-04), and only they can search by it. Contacts are
changed by the provider's administrators and operators and the client's administrators;
contracts by provider staff (``may_change``). Writes go through :mod:`mamori.clients.services`.
"""

from typing import Literal

from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Status
from ninja.pagination import paginate

from mamori.api.contract_terms import TermsOut, terms_of
from mamori.api.errors import invalid, problem
from mamori.api.inventory_records import DELETE_RULE, client_for, given, not_null, service_answers
from mamori.api.schemas import ContactOut, ContractOut, Day, Error, Input
from mamori.clients import services
from mamori.clients.models import (
    Contact,
    Contract,
    ContractType,
    NoticeTopic,
    RenewalPolicy,
    TermsProfile,
)
from mamori.core.models import Language, Role

TopicName = Literal[tuple(NoticeTopic.values)]  # type: ignore[valid-type]
LanguageName = Literal[tuple(Language.values)]  # type: ignore[valid-type]
ContractTypeName = Literal[tuple(ContractType.values)]  # type: ignore[valid-type]
RenewalPolicyName = Literal[tuple(RenewalPolicy.values)]  # type: ignore[valid-type]

# --- contacts -----------------------------------------------------------------------------------

contacts = Router(tags=["contacts"])


class ContactRecordOut(ContactOut):
    id: int
    client: str

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code


class ContactIn(Input):
    client: str = Field(..., description="Code of the client.")
    name: str
    email: str = Field(..., description="One contact per address and client.")
    language: LanguageName = "ja"  # type: ignore[valid-type]
    notify: list[TopicName] = Field(  # type: ignore[valid-type]
        [], description="The notice topics the contact receives."
    )


class ContactPatch(Input):
    name: str | None = None
    email: str | None = None
    language: LanguageName | None = None  # type: ignore[valid-type]
    notify: list[TopicName] | None = None  # type: ignore[valid-type]


def _contacts(request: HttpRequest):
    return Contact.objects.visible_to(request.auth).select_related("client")


def _sees_all_emails(user) -> bool:
    """Whether ``user`` sees the address of every contact it sees (provider staff); a client
    administrator sees those of its own client (:class:`ContactOut`)."""
    return user.is_provider_staff


@contacts.get("", response=list[ContactRecordOut], summary="List contacts")
@paginate
def list_contacts(
    request: HttpRequest,
    client: str | None = None,
    q: str | None = Query(
        None, description="Part of the name, or of the e-mail address for those who see it."
    ),
    language: str | None = None,
):
    user = request.auth
    qs = _contacts(request)
    if client:
        qs = qs.filter(client__code=client)
    if q:
        match = Q(name__icontains=q)
        # An address is searched only where the caller could read it (ACC-04).
        if _sees_all_emails(user):
            match |= Q(email__icontains=q)
        elif user.role == Role.CLIENT_ADMIN:
            match |= Q(email__icontains=q, client_id=user.client_id)
        qs = qs.filter(match)
    if language:
        qs = qs.filter(language=language)
    return qs.order_by("client__code", "name", "pk")


@contacts.get(
    "/{contact_id}", response={200: ContactRecordOut, 404: Error}, summary="Read a contact"
)
def get_contact(request: HttpRequest, contact_id: int):
    return get_object_or_404(_contacts(request), pk=contact_id)


@contacts.post(
    "",
    response={201: ContactRecordOut, 403: Error, 422: Error},
    summary="Add a contact",
    description="The provider's administrators and operators, and the client's administrators.",
)
def create_contact(request: HttpRequest, payload: ContactIn):
    user = request.auth
    client = client_for(user, payload.client)
    with service_answers():
        contact = services.create_contact(
            user, client, payload.dict(exclude={"client"}), request=request
        )
    return Status(201, get_object_or_404(_contacts(request), pk=contact.pk))


@contacts.patch(
    "/{contact_id}",
    response={200: ContactRecordOut, 403: Error, 404: Error, 422: Error},
    summary="Change a contact",
    description="Only the fields given change.",
)
def update_contact(request: HttpRequest, contact_id: int, payload: ContactPatch):
    contact = get_object_or_404(_contacts(request), pk=contact_id)
    values = given(payload, services.CONTACT_FIELDS)
    not_null(values, services.CONTACT_FIELDS)
    with service_answers():
        services.change_contact(request.auth, contact, values, request=request)
    return get_object_or_404(_contacts(request), pk=contact.pk)


@contacts.delete(
    "/{contact_id}",
    response={204: None, 403: Error, 404: Error},
    summary="Delete a contact",
    description="As on the contact's page: its chat channels go with it (their secrets "
    "destroyed); the notices sent to it keep the address they were sent to.",
)
def delete_contact(request: HttpRequest, contact_id: int):
    contact = get_object_or_404(_contacts(request), pk=contact_id)
    with service_answers():
        services.delete_contact(request.auth, contact, request=request)
    return Status(204, None)


# --- contracts ----------------------------------------------------------------------------------

contracts = Router(tags=["contracts"])


class ContractRecordOut(ContractOut):
    client: str
    notes: str
    terms_profile: str | None = Field(None, description="The code of its terms profile.")
    formed_on: Day | None
    applied_via_web: bool
    terms: TermsOut = Field(..., description="Its dates today, computed from its terms.")

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_terms_profile(obj) -> str | None:
        return obj.terms_profile.code if obj.terms_profile else None

    @staticmethod
    def resolve_terms(obj) -> dict:
        return terms_of(obj)


class ContractIn(Input):
    client: str = Field(..., description="Code of the client.")
    type: ContractTypeName  # type: ignore[valid-type]
    title: str = ""
    start: Day
    term_months: int = Field(12, ge=1, le=32767)
    auto_renew: bool = True
    renewal_policy: RenewalPolicyName = "approval"  # type: ignore[valid-type]
    expiry_notice_days: list[int] | None = Field(
        None, description="Days before a certificate expires to notify; default: the setting."
    )
    notes: str = ""
    terms_profile: str | None = Field(None, description="The code of a terms profile.")
    formed_on: Day | None = Field(None, description="Formation date; default: the start.")
    applied_via_web: bool = False


class ContractPatch(Input):
    type: ContractTypeName | None = None  # type: ignore[valid-type]
    title: str | None = None
    start: Day | None = None
    term_months: int | None = Field(None, ge=1, le=32767)
    auto_renew: bool | None = None
    renewal_policy: RenewalPolicyName | None = None  # type: ignore[valid-type]
    expiry_notice_days: list[int] | None = None
    notes: str | None = None
    terms_profile: str | None = None
    formed_on: Day | None = None
    applied_via_web: bool | None = None


def _contracts(request: HttpRequest):
    return (
        Contract.objects.visible_to(request.auth)
        .select_related("client", "terms_profile")
        .prefetch_related("notices")
    )


def _with_profile(values: dict) -> dict:
    """``terms_profile`` given as a code, as the record it names (422 if none)."""
    if values.get("terms_profile") is not None:
        found = TermsProfile.objects.filter(code=values["terms_profile"]).first()
        if found is None:
            raise invalid(problem("terms_profile", "No terms profile with this code."))
        values["terms_profile"] = found
    return values


@contracts.get(
    "",
    response=list[ContractRecordOut],
    summary="List contracts",
    description="`active_on`: only contracts started by that day.",
)
@paginate
def list_contracts(
    request: HttpRequest,
    client: str | None = None,
    type: str | None = None,
    active_on: Day | None = None,
):
    qs = _contracts(request)
    if client:
        qs = qs.filter(client__code=client)
    if type:
        qs = qs.filter(type=type)
    if active_on is not None:
        qs = qs.filter(start__lte=active_on)
    return qs.order_by("client__code", "start", "type", "pk")


@contracts.get(
    "/{contract_id}", response={200: ContractRecordOut, 404: Error}, summary="Read a contract"
)
def get_contract(request: HttpRequest, contract_id: int):
    return get_object_or_404(_contracts(request), pk=contract_id)


@contracts.post(
    "",
    response={201: ContractRecordOut, 403: Error, 422: Error},
    summary="Add a contract",
    description="Provider staff who see the client.",
)
def create_contract(request: HttpRequest, payload: ContractIn):
    user = request.auth
    client = client_for(user, payload.client)
    values = payload.dict(exclude={"client"})
    if values["expiry_notice_days"] is None:
        del values["expiry_notice_days"]  # the model's default
    _with_profile(values)
    with service_answers():
        contract = services.create_contract(user, client, values, request=request)
    return Status(201, get_object_or_404(_contracts(request), pk=contract.pk))


@contracts.patch(
    "/{contract_id}",
    response={200: ContractRecordOut, 403: Error, 404: Error, 422: Error},
    summary="Change a contract",
    description="Only the fields given change.",
)
def update_contract(request: HttpRequest, contract_id: int, payload: ContractPatch):
    contract = get_object_or_404(_contracts(request), pk=contract_id)
    values = given(payload, services.CONTRACT_FIELDS)
    nullable = ("terms_profile", "formed_on")
    not_null(values, tuple(f for f in services.CONTRACT_FIELDS if f not in nullable))
    _with_profile(values)
    with service_answers():
        services.change_contract(request.auth, contract, values, request=request)
    return get_object_or_404(_contracts(request), pk=contract.pk)


@contracts.delete(
    "/{contract_id}",
    response={204: None, 403: Error, 404: Error, 409: Error},
    summary="Delete a contract",
    description=f"{DELETE_RULE} A contract is also kept while endpoints or managed certificates "
    "name it: their notice schedule and renewal instruction come from it.",
)
def delete_contract(request: HttpRequest, contract_id: int):
    contract = get_object_or_404(_contracts(request), pk=contract_id)
    with service_answers():
        services.delete_contract(request.auth, contract, request=request)
    return Status(204, None)
