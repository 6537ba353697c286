"""Tenancy cases of the estimates' pages (see tests/web/tenancy.py): the provider's
administrators and operators draft, issue and withdraw acme's estimates; acme's administrator and
viewer read the issued ones (the administrator answers them); the subcontractor assigned to acme
sees the work but not the money (403); outsiders get 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mamori.billing.models import Estimate, EstimateLine, IssuerProfile
from mamori.clients.models import Client
from mamori.desk.models import Request
from tests.web.tenancy import ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

READERS = frozenset({"owner", "member", "operator", "provider_admin"})
STAFF = frozenset({"operator", "provider_admin"})
ANSWERERS = frozenset({"owner", "operator", "provider_admin"})


def acme_request() -> Request:
    acme = Client.objects.get(code="acme")
    return Request.objects.get_or_create(
        client=acme,
        subject="採用ページの新規作成",
        defaults={
            "channel": "portal",
            "contract": acme.contracts.order_by("pk").first(),
            "scope": "out_of_scope",
            "contact": acme.contacts.filter(email="jane@acme.example").first(),
        },
    )[0]


def _estimate(number: str, state: str) -> Estimate:
    acme = Client.objects.get(code="acme")
    IssuerProfile.objects.update_or_create(
        pk=1, defaults={"name": "株式会社まもり", "registration_number": "T1234567890123"}
    )
    found = Estimate.objects.filter(title=f"acme.example {number}").first()
    if found is not None:
        return found
    issued = state != "draft"
    estimate = Estimate.objects.create(
        client=acme,
        request=acme_request(),
        title=f"acme.example {number}",
        number=number if issued else "",
        state=state,
        issue_date=dt.date(2026, 6, 1) if issued else None,
        valid_until=dt.date(2099, 12, 31) if issued else None,
        issued_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC) if issued else None,
        recipient={"name": acme.name},
        totals=[{"rate": 10, "net": "50000", "tax": "5000"}],
        net_total=Decimal(50000),
        tax_total=Decimal(5000),
        total=Decimal(55000),
    )
    EstimateLine.objects.create(
        estimate=estimate,
        position=1,
        description="採用ページの制作",
        unit_price=Decimal(50000),
        amount=Decimal(50000),
    )
    return estimate


def acme_estimate() -> Estimate:
    """acme's issued estimate, awaiting its answer."""
    return _estimate("EST-2026-0901", "issued")


def acme_draft() -> Estimate:
    return _estimate("draft", "draft")


def estimate_rows():
    acme_estimate(), acme_draft()  # made before the snapshot, as the URL would make them
    return [
        list(Estimate.objects.values().order_by("pk")),
        list(EstimateLine.objects.values().order_by("pk")),
    ]


def _lines(s) -> dict:
    return {
        "title": "採用ページの新規作成",
        "language": "ja",
        "notes": "",
        "rows": "1",
        "description_1": "採用ページの制作",
        "quantity_1": "1",
        "unit_price_1": "60000",
        "tax_rate_1": "10",
    }


CASES: dict[str, Case] = {
    "estimate_list": Case(LIST, readers=READERS),
    "estimate_create": Case(
        ACTION,
        lambda s: {"request_pk": acme_request().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=estimate_rows,
    ),
    "estimate_detail": Case(PAGE, lambda s: {"pk": acme_estimate().pk}, readers=READERS),
    "estimate_edit": Case(
        FORM,
        lambda s: {"pk": acme_draft().pk},
        post=_lines,
        readers=STAFF,
        writers=STAFF,
        snapshot=estimate_rows,
    ),
    "estimate_issue": Case(
        ACTION,
        lambda s: {"pk": acme_draft().pk},
        post=lambda s: {"valid_until": "2099-12-31"},
        writers=STAFF,
        snapshot=estimate_rows,
    ),
    "estimate_withdraw": Case(
        ACTION,
        lambda s: {"pk": acme_estimate().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=estimate_rows,
    ),
    "estimate_accept": Case(
        FORM,
        lambda s: {"pk": acme_estimate().pk},
        post=lambda s: {},
        readers=ANSWERERS,
        writers=ANSWERERS,
        snapshot=estimate_rows,
    ),
    "estimate_decline": Case(
        FORM,
        lambda s: {"pk": acme_estimate().pk},
        post=lambda s: {"reason": "予算の都合"},
        readers=ANSWERERS,
        writers=ANSWERERS,
        snapshot=estimate_rows,
    ),
    # A PDF: its text is not searched for acme's markers (tests/desk/test_estimate_flow reads it).
    "estimate_pdf": Case(
        PAGE,
        lambda s: {"pk": acme_estimate().pk, "language": "ja"},
        readers=READERS,
        shows_acme=False,
    ),
}
