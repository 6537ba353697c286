"""A contract's fees (BIL-01), liability cap (BIL-06) and changes (CT-06); an invoice's
payments and late-payment interest (BIL-04).

Reading is for whoever sees the client; writing for the provider's staff who see it
(``may_change``, rule ``STAFF``). Writes go through the billing services, with the same
validation and messages as the pages and the command line.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from mamori.api.billing import money_reader
from mamori.api.errors import invalid, problem
from mamori.api.inventory_records import given, not_null, service_answers
from mamori.api.schemas import Day, Error, Input
from mamori.billing import changes, fees, liability, payments
from mamori.billing.models import (
    ChangeKind,
    ContractChange,
    Fee,
    FeeKind,
    Invoice,
    Payment,
)
from mamori.clients.models import Client, Contract

router = Router(tags=["billing"])

FeeKindName = Literal[tuple(FeeKind.values)]  # type: ignore[valid-type]
TaxRateValue = Literal[10, 8, 0]
ChangeKindName = Literal[tuple(ChangeKind.values)]  # type: ignore[valid-type]
Yen = Field(..., ge=0, le=Decimal("99999999999999"), description="Whole yen.")


def _contract(request: HttpRequest, contract_id: int) -> Contract:
    return get_object_or_404(
        Contract.objects.visible_to(request.auth).select_related("client"), pk=contract_id
    )


# --- fees -----------------------------------------------------------------------------------------


class ContractFeeOut(Schema):
    id: int
    client: str
    contract: int = Field(..., alias="contract_id")
    kind: str
    description: str
    amount: Decimal
    tax_rate: int
    tax_included: bool
    starts_on: Day | None
    ends_on: Day | None
    change: int | None = Field(None, alias="change_id")

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.contract.client.code


class ContractFeeIn(Input):
    kind: FeeKindName  # type: ignore[valid-type]
    description: str = ""
    amount: Decimal = Yen
    tax_rate: TaxRateValue = 10
    tax_included: bool = False
    starts_on: Day | None = Field(None, description="Empty: from the contract's start.")
    ends_on: Day | None = None


class ContractFeePatch(Input):
    kind: FeeKindName | None = None  # type: ignore[valid-type]
    description: str | None = None
    amount: Decimal | None = Field(None, ge=0, le=Decimal("99999999999999"))
    tax_rate: TaxRateValue | None = None
    tax_included: bool | None = None
    starts_on: Day | None = None
    ends_on: Day | None = None


def _fee(request: HttpRequest, contract_id: int, fee_id: int) -> Fee:
    return get_object_or_404(
        Fee.objects.visible_to(request.auth).select_related("contract__client"),
        pk=fee_id,
        contract_id=contract_id,
    )


@router.get(
    "/contracts/{contract_id}/fees",
    response={200: list[ContractFeeOut], 404: Error},
    summary="List fees",
)
def list_fees(request: HttpRequest, contract_id: int):
    contract = _contract(request, contract_id)
    return (
        Fee.objects.visible_to(request.auth)
        .filter(contract=contract)
        .select_related("contract__client")
    )


@router.post(
    "/contracts/{contract_id}/fees",
    response={201: ContractFeeOut, 403: Error, 404: Error, 422: Error},
    summary="Add a fee",
    description="Provider staff who see the client.",
)
def create_fee(request: HttpRequest, contract_id: int, payload: ContractFeeIn):
    contract = _contract(request, contract_id)
    with service_answers():
        fee = fees.create_fee(request.auth, contract, payload.dict(), request=request)
    return Status(201, fee)


@router.patch(
    "/contracts/{contract_id}/fees/{fee_id}",
    response={200: ContractFeeOut, 403: Error, 404: Error, 422: Error},
    summary="Change a fee",
    description="Only the fields given change. An invoiced fee may only be ended or renamed.",
)
def update_fee(request: HttpRequest, contract_id: int, fee_id: int, payload: ContractFeePatch):
    fee = _fee(request, contract_id, fee_id)
    values = given(payload, fees.FEE_FIELDS)
    not_null(values, ("kind", "description", "amount", "tax_rate", "tax_included"))
    with service_answers():
        fees.change_fee(request.auth, fee, values, request=request)
    return _fee(request, contract_id, fee_id)


@router.delete(
    "/contracts/{contract_id}/fees/{fee_id}",
    response={204: None, 403: Error, 404: Error},
    summary="Delete a fee",
    description="Refused (403) for a fee an invoice has billed: end it instead.",
)
def delete_fee(request: HttpRequest, contract_id: int, fee_id: int):
    fee = _fee(request, contract_id, fee_id)
    with service_answers():
        fees.delete_fee(request.auth, fee, request=request)
    return Status(204, None)


# --- the liability cap ----------------------------------------------------------------------------


class CapStepOut(Schema):
    what: str
    amount: Decimal
    date: Day | None


class LiabilityCapOut(Schema):
    client: str
    contract: int
    on: Day
    rule: str
    clause: str
    amount: Decimal
    period_start: Day | None
    steps: list[CapStepOut]
    formula: str


@router.get(
    "/contracts/{contract_id}/liability-cap",
    response={200: LiabilityCapOut, 404: Error},
    summary="The contract's liability cap on a day",
    description="With the arithmetic (`steps`, `formula`); `on` defaults to today.",
)
def get_liability_cap(request: HttpRequest, contract_id: int, on: Day | None = None):
    contract = _contract(request, contract_id)
    data = liability.liability_cap(contract, on or timezone.localdate()).as_dict()
    return data


# --- orders and changes ---------------------------------------------------------------------------


class ContractFeeChangeIn(Input):
    fee: int | None = Field(None, description="The fee changed; empty: a new fee.")
    kind: FeeKindName | None = None  # type: ignore[valid-type]
    description: str | None = None
    amount: Decimal | None = Field(
        None, ge=0, le=Decimal("99999999999999"), description="Empty: the fee ends."
    )
    tax_rate: TaxRateValue | None = None
    tax_included: bool | None = None


class ChangeDocumentIn(Input):
    name: str = Field(..., min_length=1, max_length=150)
    content_base64: str
    personal: bool = Field(False, description="Holds personal data (kept encrypted anyway).")


class ContractChangeIn(Input):
    kind: ChangeKindName  # type: ignore[valid-type]
    received_on: Day
    summary: str
    fee_changes: list[ContractFeeChangeIn] = []
    documents: list[ChangeDocumentIn] = []


class ContractChangeOut(Schema):
    id: int
    client: str
    contract: int = Field(..., alias="contract_id")
    kind: str
    received_on: Day
    summary: str
    fee_changes: list[dict]
    state: str
    decided_on: Day | None
    documents: list[int]

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.contract.client.code

    @staticmethod
    def resolve_documents(obj) -> list[int]:
        return [secret.pk for secret in obj.documents.all()]


class ChangeDecisionIn(Input):
    on: Day | None = Field(None, description="The day of the answer; default: today.")


def _change(request: HttpRequest, change_id: int) -> ContractChange:
    return get_object_or_404(
        ContractChange.objects.visible_to(request.auth).select_related("contract__client"),
        pk=change_id,
    )


@router.get(
    "/contracts/{contract_id}/changes",
    response={200: list[ContractChangeOut], 404: Error},
    summary="List a contract's orders and changes",
)
def list_contract_changes(request: HttpRequest, contract_id: int):
    contract = _contract(request, contract_id)
    return ContractChange.objects.visible_to(request.auth).filter(contract=contract)


@router.post(
    "/contracts/{contract_id}/changes",
    response={201: ContractChangeOut, 403: Error, 404: Error, 422: Error},
    summary="Record an order form or change request",
    description="It changes nothing until accepted. Documents are kept encrypted in the vault.",
)
def create_contract_change(request: HttpRequest, contract_id: int, payload: ContractChangeIn):
    contract = _contract(request, contract_id)
    documents = []
    for n, doc in enumerate(payload.documents):
        try:
            content = base64.b64decode(doc.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(problem(f"documents.{n}.content_base64", "Not base64.")) from None
        documents.append(changes.Document(doc.name, content, doc.personal))
    with service_answers():
        change = changes.record_change(
            request.auth,
            contract,
            kind=payload.kind,
            received_on=payload.received_on,
            summary=payload.summary,
            fee_changes=[entry.dict(exclude_unset=True) for entry in payload.fee_changes],
            documents=documents,
            request=request,
        )
    return Status(201, change)


@router.post(
    "/contract-changes/{change_id}/accept",
    response={200: ContractChangeOut, 403: Error, 404: Error, 422: Error},
    summary="Accept an order or change",
    description="Changed fees end the day before and the new amounts start on that day.",
)
def accept_contract_change(request: HttpRequest, change_id: int, payload: ChangeDecisionIn):
    change = _change(request, change_id)
    with service_answers():
        changes.accept_change(
            request.auth, change, payload.on or timezone.localdate(), request=request
        )
    return _change(request, change_id)


@router.post(
    "/contract-changes/{change_id}/decline",
    response={200: ContractChangeOut, 403: Error, 404: Error, 422: Error},
    summary="Decline an order or change",
    description="Recorded; nothing else changes.",
)
def decline_contract_change(request: HttpRequest, change_id: int, payload: ChangeDecisionIn):
    change = _change(request, change_id)
    with service_answers():
        changes.decline_change(
            request.auth, change, payload.on or timezone.localdate(), request=request
        )
    return _change(request, change_id)


# --- payments and interest ------------------------------------------------------------------------


class InvoicePaymentOut(Schema):
    id: int
    client: str
    invoice: str
    received_on: Day
    amount: Decimal
    note: str

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.invoice.client.code

    @staticmethod
    def resolve_invoice(obj) -> str:
        return obj.invoice.number


class InvoicePaymentIn(Input):
    amount: Decimal = Field(..., ge=1, le=Decimal("99999999999999"), description="Whole yen.")
    received_on: Day
    note: str = ""


class LateInterestOut(Schema):
    client: str
    invoice: str
    on: Day
    overdue: bool
    balance: Decimal
    interest: Decimal
    billed: Decimal | None = Field(None, description="The amount of the charge just made.")


class LateInterestIn(Input):
    on: Day


def _invoice(request: HttpRequest, number: str) -> Invoice:
    money_reader(request)
    return get_object_or_404(
        Invoice.objects.visible_to(request.auth).select_related("client"), number=number
    )


@router.get(
    "/invoices/{invoice_number}/payments",
    response={200: list[InvoicePaymentOut], 403: Error, 404: Error},
    summary="List an invoice's payments",
)
def list_payments(request: HttpRequest, invoice_number: str):
    invoice = _invoice(request, invoice_number)
    return (
        Payment.objects.visible_to(request.auth).filter(invoice=invoice).select_related("invoice")
    )


@router.post(
    "/invoices/{invoice_number}/payments",
    response={201: InvoicePaymentOut, 403: Error, 404: Error, 422: Error},
    summary="Record a payment",
    description="Partial payments add up; more than is still owed, or a payment on a credit "
    "note, is refused (422).",
)
def record_payment(request: HttpRequest, invoice_number: str, payload: InvoicePaymentIn):
    invoice = _invoice(request, invoice_number)
    with service_answers():
        payment = payments.record_payment(
            request.auth,
            invoice,
            amount=payload.amount,
            received_on=payload.received_on,
            note=payload.note,
            request=request,
        )
    return Status(201, payment)


def _interest(invoice: Invoice, on, billed=None) -> dict:
    return {
        "client": invoice.client.code,
        "invoice": invoice.number,
        "on": on,
        "overdue": payments.is_overdue(invoice, on),
        "balance": payments.balance(invoice),
        "interest": payments.interest_due(invoice, on),
        "billed": billed,
    }


@router.get(
    "/invoices/{invoice_number}/interest",
    response={200: LateInterestOut, 403: Error, 404: Error},
    summary="Late-payment interest up to a day",
    description="14.5 % a year, 365-day basis, yen rounded down; `on` defaults to today.",
)
def get_interest(request: HttpRequest, invoice_number: str, on: Day | None = None):
    invoice = _invoice(request, invoice_number)
    return _interest(invoice, on or timezone.localdate())


@router.post(
    "/invoices/{invoice_number}/interest",
    response={200: LateInterestOut, 403: Error, 404: Error, 422: Error},
    summary="Bill late-payment interest up to a day",
    description="As a charge on the next invoice, less what was billed before; a day is never "
    "billed twice.",
)
def bill_interest(request: HttpRequest, invoice_number: str, payload: LateInterestIn):
    invoice = _invoice(request, invoice_number)
    with service_answers():
        charge = payments.bill_interest(request.auth, invoice, payload.on, request=request)
    return _interest(invoice, payload.on, charge.unit_price if charge else None)


# --- the fee-evasion surcharge --------------------------------------------------------------------


class SurchargeIn(Input):
    evaded: Decimal = Field(..., ge=1, le=Decimal("49999999999999"), description="Whole yen.")
    reason: str = Field(..., description="What was evaded, and how it was found.")
    occurred_on: Day
    contract: int | None = Field(None, description="The contract concerned, if one.")


class SurchargeOut(Schema):
    id: int
    client: str
    contract: int | None = Field(None, alias="contract_id")
    source: str
    description: str
    occurred_on: Day
    amount: Decimal = Field(..., alias="unit_price")
    tax_rate: int

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code


@router.post(
    "/clients/{code}/surcharges",
    response={201: SurchargeOut, 403: Error, 404: Error, 422: Error},
    summary="Add the fee-evasion surcharge",
    description="Twice the evaded amount (004 §32), billed on the next invoice.",
)
def add_surcharge(request: HttpRequest, code: str, payload: SurchargeIn):
    client = get_object_or_404(Client.objects.visible_to(request.auth), code=code)
    contract = None
    if payload.contract is not None:
        contract = client.contracts.filter(pk=payload.contract).first()
        if contract is None:
            raise invalid(problem("contract", "Not one of this client's contracts."))
    with service_answers():
        charge = payments.add_surcharge(
            request.auth,
            client,
            evaded=payload.evaded,
            reason=payload.reason,
            occurred_on=payload.occurred_on,
            contract=contract,
            request=request,
        )
    return Status(201, charge)
