"""Tenancy cases of the scope of work's pages: a contract's catalogue, its items, classifying
a request and its work log (see tests/web/tenancy.py). acme's objects are made on first use."""

from __future__ import annotations

import datetime as dt

from mamori.clients.models import Client, Contract
from mamori.desk.models import CatalogueItem, Request, WorkLog
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, PAGE, Case

EXEMPT: dict[str, str] = {}

# The provider's staff who see acme keep its catalogue, classify and log work.
STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_scope_contract() -> Contract:
    """acme's website maintenance contract (the API tenancy test's spare contract too)."""
    return Contract.objects.get_or_create(
        client=Client.objects.get(code="acme"), type="site_maintenance", start=dt.date(2026, 4, 1)
    )[0]


def acme_item() -> CatalogueItem:
    """A free item of acme's contract that no request was classified under."""
    return CatalogueItem.objects.get_or_create(
        contract=acme_scope_contract(),
        code="spare",
        defaults={
            "scope": "in_scope",
            "name_ja": "軽微なテキスト修正",
            "name_en": "Minor text fixes",
            "keywords": "誤字\ntypo",
            "clause": "001 §3(3)",
        },
    )[0]


def acme_request() -> Request:
    """acme's request (the one of the requests' cases), under the maintenance contract."""
    from tests.web.cases_desk_requests import acme_request as request_of_acme

    req, contract = request_of_acme(), acme_scope_contract()
    if req.contract_id != contract.pk:
        req.contract = contract
        req.save(update_fields=["contract"])
    return req


def acme_work() -> WorkLog:
    """A work log entry on acme's request without an author (as by a user since removed):
    only a provider administrator may change it."""
    return WorkLog.objects.get_or_create(
        request=acme_request(), defaults={"minutes": 30, "text": "誤字を修正して公開"}
    )[0]


def scope_rows():
    acme_item()
    acme_work()
    return [
        list(CatalogueItem.objects.values().order_by("pk")),
        list(Request.objects.values("pk", "scope", "catalogue_item", "allowance_month")),
        list(WorkLog.objects.values().order_by("pk")),
    ]


CASES: dict[str, Case] = {
    "contract_catalogue": Case(
        PAGE, lambda s: {"pk": acme_item().contract_id}, readers=ACME_PEOPLE
    ),
    "catalogue_apply": Case(
        ACTION,
        lambda s: {"pk": acme_scope_contract().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=scope_rows,
    ),
    "catalogue_item_add": Case(
        FORM,
        lambda s: {"pk": acme_scope_contract().pk},
        post=lambda s: {
            "code": "image-swap",
            "scope": "in_scope",
            "name_ja": "画像差替え",
            "name_en": "Image swaps",
            "keywords": "画像差し替え",
        },
        writers=STAFF,
        snapshot=scope_rows,
    ),
    "catalogue_item_edit": Case(
        FORM,
        lambda s: {"pk": acme_item().pk},
        post=lambda s: {
            "code": "spare",
            "scope": "in_scope",
            "name_ja": "軽微なテキスト修正",
            "name_en": "Minor text fixes",
            "monthly_limit": "3",
        },
        writers=STAFF,
        snapshot=scope_rows,
    ),
    "catalogue_item_delete": Case(
        FORM,
        lambda s: {"pk": acme_item().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=scope_rows,
    ),
    "request_classify": Case(
        ACTION,
        lambda s: {"pk": acme_request().pk},
        post=lambda s: {"choice": str(acme_item().pk)},
        writers=STAFF,
        snapshot=scope_rows,
    ),
    "work_add": Case(
        ACTION,
        lambda s: {"pk": acme_request().pk},
        post=lambda s: {"minutes": "15", "text": "確認"},
        writers=STAFF,
        snapshot=scope_rows,
    ),
    # An entry is changed by its author or a provider administrator (tests/desk: the author).
    "work_edit": Case(
        FORM,
        lambda s: {"pk": acme_work().pk},
        post=lambda s: {"minutes": "45", "text": "誤字を修正して公開"},
        writers=frozenset({"provider_admin"}),
        snapshot=scope_rows,
    ),
    "work_delete": Case(
        ACTION,
        lambda s: {"pk": acme_work().pk},
        post=lambda s: {},
        writers=frozenset({"provider_admin"}),
        snapshot=scope_rows,
    ),
}
