"""The scope of work (MNT-03, MNT-04): a contract's catalogue items, the shipped catalogue,
Mamori's proposal and the operator's classification of a request, the monthly allowance, and
the work log of a request.

Reading is for whoever sees the client; the catalogue, classifying and logging work are for the
provider's staff who see it (a work log entry is changed by its author or a provider
administrator). Writes go through :mod:`mamori.desk.catalogue`, ``classify`` and ``work``, with
the same validation and messages as the pages and the command line.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from mamori.api.contract_terms import visible_contract
from mamori.api.errors import forbidden, invalid, invalid_from, problem, query_problem
from mamori.api.inventory_records import given, not_null, service_answers
from mamori.api.schemas import Error, Input
from mamori.desk import catalogue, classify, work
from mamori.desk.models import CatalogueItem, Request, Scope, WorkLog
from mamori.desk.services import DeskError

router = Router(tags=["desk"])

ScopeName = Literal["in_scope", "out_of_scope"]


def _request(request: HttpRequest, request_id: int) -> Request:
    return get_object_or_404(
        Request.objects.visible_to(request.auth).select_related("client", "contract"),
        pk=request_id,
    )


# --- catalogue items ------------------------------------------------------------------------------


class CatalogueItemOut(Schema):
    id: int
    client: str
    contract: int = Field(..., alias="contract_id")
    code: str
    scope: str
    name_ja: str
    name_en: str
    keywords: list[str]
    monthly_limit: int | None
    clause: str

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.contract.client.code

    @staticmethod
    def resolve_keywords(obj) -> list[str]:
        return obj.keyword_list()


class CatalogueItemIn(Input):
    code: str = Field(..., description="Stable code, unique in the contract: text-fix.")
    scope: ScopeName
    name_ja: str
    name_en: str
    keywords: list[str] = Field(default_factory=list, description="Words clients write.")
    monthly_limit: int | None = Field(None, ge=1, le=32767, description="Empty: no limit.")
    clause: str = ""


class CatalogueItemPatch(Input):
    code: str | None = None
    scope: ScopeName | None = None
    name_ja: str | None = None
    name_en: str | None = None
    keywords: list[str] | None = None
    monthly_limit: int | None = Field(None, ge=1, le=32767)
    clause: str | None = None


def _values(data: dict) -> dict:
    if "keywords" in data and data["keywords"] is not None:
        data["keywords"] = "\n".join(data["keywords"])
    return data


def _item(request: HttpRequest, contract_id: int, item_id: int) -> CatalogueItem:
    return get_object_or_404(
        CatalogueItem.objects.visible_to(request.auth).select_related("contract__client"),
        pk=item_id,
        # The contract by its primary key (an id beyond the column's range finds nothing), not
        # by the foreign key's column (which SQLite cannot compare with such a number).
        contract__pk=contract_id,
    )


@router.get(
    "/contracts/{contract_id}/catalogue",
    response={200: list[CatalogueItemOut], 404: Error},
    summary="List a contract's catalogue",
)
def list_catalogue(request: HttpRequest, contract_id: int):
    contract = visible_contract(request, contract_id)
    return (
        CatalogueItem.objects.visible_to(request.auth)
        .filter(contract=contract)
        .select_related("contract__client")
    )


@router.post(
    "/contracts/{contract_id}/catalogue",
    response={201: CatalogueItemOut, 403: Error, 404: Error, 422: Error},
    summary="Add a catalogue item",
    description="Provider staff who see the client.",
)
def create_catalogue_item(request: HttpRequest, contract_id: int, payload: CatalogueItemIn):
    contract = visible_contract(request, contract_id)
    with service_answers():
        item = catalogue.create_item(
            request.auth, contract, _values(payload.dict()), request=request
        )
    return Status(201, item)


@router.post(
    "/contracts/{contract_id}/catalogue/apply-shipped",
    response={200: list[CatalogueItemOut], 403: Error, 404: Error, 422: Error},
    summary="Apply the shipped catalogue",
    description="Adds the items of the catalogue Mamori ships for the contract's kind that it "
    "lacks (by code); returns the items added (none when run again).",
)
def apply_shipped_catalogue(request: HttpRequest, contract_id: int):
    contract = visible_contract(request, contract_id)
    try:
        with service_answers():
            return catalogue.apply_shipped_catalogue(contract, request.auth, request=request)
    except DeskError as e:
        raise invalid_from(e) from None


@router.patch(
    "/contracts/{contract_id}/catalogue/{item_id}",
    response={200: CatalogueItemOut, 403: Error, 404: Error, 422: Error},
    summary="Change a catalogue item",
    description="Only the fields given change.",
)
def update_catalogue_item(
    request: HttpRequest, contract_id: int, item_id: int, payload: CatalogueItemPatch
):
    item = _item(request, contract_id, item_id)
    values = given(payload, catalogue.ITEM_FIELDS)
    not_null(values, ("code", "scope", "name_ja", "name_en", "keywords", "clause"))
    with service_answers():
        catalogue.change_item(request.auth, item, _values(values), request=request)
    return _item(request, contract_id, item_id)


@router.delete(
    "/contracts/{contract_id}/catalogue/{item_id}",
    response={204: None, 403: Error, 404: Error, 409: Error},
    summary="Delete a catalogue item",
    description="Refused (409) for an item requests were classified under.",
)
def delete_catalogue_item(request: HttpRequest, contract_id: int, item_id: int):
    item = _item(request, contract_id, item_id)
    with service_answers():
        catalogue.delete_item(request.auth, item, request=request)
    return Status(204, None)


# --- the allowance -----------------------------------------------------------------------------


class AllowanceOut(Schema):
    client: str
    contract: int
    month: str
    items: list[dict]


def _month(value: str | None) -> dt.date:
    if not value:
        return classify.month_of(dt.datetime.now(classify.TOKYO))
    try:
        return dt.datetime.strptime(value.strip(), "%Y-%m").date()
    except ValueError:
        raise invalid(query_problem("month", "Write the month as YYYY-MM.")) from None


@router.get(
    "/contracts/{contract_id}/allowance",
    response={200: AllowanceOut, 404: Error, 422: Error},
    summary="Free work used and its limit in a month",
    description="Per free item: requests counted in the month (Japan time) and the limit; "
    "`month` YYYY-MM defaults to this month.",
)
def get_allowance(request: HttpRequest, contract_id: int, month: str | None = None):
    contract = visible_contract(request, contract_id)
    first = _month(month)
    return {
        "client": contract.client.code,
        "contract": contract.pk,
        "month": f"{first:%Y-%m}",
        "items": [a.as_dict() for a in classify.allowance(contract, first)],
    }


# --- proposing and classifying a request ----------------------------------------------------------


class ScopeOut(Schema):
    request: str
    client: str
    scope: str
    item: str | None
    allowance_month: str | None
    over_limit: bool = False
    proposal: dict


def _scope_of(req: Request, over_limit: bool = False) -> dict:
    return {
        "request": req.number,
        "client": req.client.code,
        "scope": req.scope,
        "item": req.catalogue_item.code if req.catalogue_item_id else None,
        "allowance_month": f"{req.allowance_month:%Y-%m}" if req.allowance_month else None,
        "over_limit": over_limit,
        "proposal": classify.propose(req).as_dict(),
    }


class ClassifyIn(Input):
    item: str | None = Field(None, description="Code of an item of the request's contract.")
    scope: Literal["out_of_scope", "unclassified"] | None = Field(
        None, description="Without an item: out of scope, or undo the classification."
    )
    over_limit: bool = Field(False, description="Go beyond the item's monthly allowance.")


@router.get(
    "/requests/{request_id}/scope",
    response={200: ScopeOut, 404: Error},
    summary="A request's classification and Mamori's proposal",
    description="The proposal names an item and the words found; it decides nothing.",
)
def get_request_scope(request: HttpRequest, request_id: int):
    return _scope_of(_request(request, request_id))


@router.post(
    "/requests/{request_id}/scope",
    response={200: ScopeOut, 403: Error, 404: Error, 422: Error},
    summary="Classify a request",
    description="Provider staff. Free work counts against the item's monthly allowance; beyond "
    "its limit only with `over_limit`.",
)
def classify_request(request: HttpRequest, request_id: int, payload: ClassifyIn):
    req = _request(request, request_id)
    if (payload.item is None) == (payload.scope is None):
        raise invalid(problem("item", "Give either an item or a scope."))
    choice: CatalogueItem | str
    if payload.item is not None:
        found = CatalogueItem.objects.filter(contract_id=req.contract_id, code=payload.item).first()
        if found is None:
            raise invalid(
                problem("item", "No such item in the catalogue of the request's contract.")
            )
        choice = found
    else:
        choice = Scope(payload.scope).value
    try:
        classify.classify(
            req, choice, request.auth, over_limit=payload.over_limit, http_request=request
        )
    except PermissionDenied:
        raise forbidden() from None
    except DeskError as e:
        raise invalid_from(e) from None
    return _scope_of(req, getattr(req, "over_limit", False))


# --- the work log ---------------------------------------------------------------------------------


class WorkOut(Schema):
    id: int
    client: str
    request: str
    at: dt.datetime
    minutes: int
    text: str
    by: str | None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.request.client.code

    @staticmethod
    def resolve_request(obj) -> str:
        return obj.request.number

    @staticmethod
    def resolve_by(obj) -> str | None:
        return obj.user.get_username() if obj.user else None


class WorkIn(Input):
    minutes: int = Field(..., ge=1, le=24 * 60)
    text: str
    at: dt.datetime | None = Field(None, description="Empty: now.")


class WorkPatch(Input):
    minutes: int | None = Field(None, ge=1, le=24 * 60)
    text: str | None = None
    at: dt.datetime | None = None


def _entry(request: HttpRequest, request_id: int, entry_id: int) -> WorkLog:
    return get_object_or_404(
        WorkLog.objects.visible_to(request.auth).select_related("request__client", "user"),
        pk=entry_id,
        request__pk=request_id,  # as _item's contract
    )


def _work_answers(call):
    try:
        return call()
    except PermissionDenied:
        raise forbidden() from None
    except DeskError as e:
        raise invalid_from(e) from None


@router.get(
    "/requests/{request_id}/work",
    response={200: list[WorkOut], 404: Error},
    summary="A request's work log",
)
def list_work(request: HttpRequest, request_id: int):
    req = _request(request, request_id)
    return WorkLog.objects.filter(request=req).select_related("request__client", "user")


@router.post(
    "/requests/{request_id}/work",
    response={201: WorkOut, 403: Error, 404: Error, 422: Error},
    summary="Log work on a request",
    description="Provider staff who see the client.",
)
def log_work(request: HttpRequest, request_id: int, payload: WorkIn):
    req = _request(request, request_id)
    entry = _work_answers(
        lambda: work.log_work(
            req, payload.minutes, payload.text, payload.at, request.auth, http_request=request
        )
    )
    return Status(201, _entry(request, request_id, entry.pk))


@router.patch(
    "/requests/{request_id}/work/{entry_id}",
    response={200: WorkOut, 403: Error, 404: Error, 422: Error},
    summary="Change a work log entry",
    description="Its author, or a provider administrator.",
)
def update_work(request: HttpRequest, request_id: int, entry_id: int, payload: WorkPatch):
    entry = _entry(request, request_id, entry_id)
    values = given(payload, ("minutes", "text", "at"))
    not_null(values, ("minutes", "text", "at"))
    _work_answers(lambda: work.change_work(entry, request.auth, http_request=request, **values))
    return _entry(request, request_id, entry_id)


@router.delete(
    "/requests/{request_id}/work/{entry_id}",
    response={204: None, 403: Error, 404: Error},
    summary="Delete a work log entry",
    description="Its author, or a provider administrator.",
)
def delete_work(request: HttpRequest, request_id: int, entry_id: int):
    entry = _entry(request, request_id, entry_id)
    _work_answers(lambda: work.delete_work(entry, request.auth, http_request=request))
    return Status(204, None)
