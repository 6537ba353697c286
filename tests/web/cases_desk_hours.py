"""Tenancy cases of the support-hours pages (see tests/web/tenancy.py): a contract's support
hours; the provider's closed days are its own calendar, not a client's record."""

from __future__ import annotations

import datetime as dt

from mamori.clients.models import Client
from mamori.desk.models import ClosedDay, Request, SupportHours
from tests.web.tenancy import ACME_PEOPLE, PAGE, Case

EXEMPT: dict[str, str] = {
    "desk_closed_days": "the provider's own closed days, no client's data: provider "
    "administrators and operators only, 403 for everyone else (tests/desk/test_hours_pages.py)",
    "desk_closed_day_delete": "likewise (tests/desk/test_hours_pages.py)",
}

# The provider's staff who see acme set its contracts' support hours.
STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_contract():
    return Client.objects.get(code="acme").contracts.order_by("pk").first()


def acme_request() -> Request:
    """A request of acme (its targets are computed, not stored)."""
    acme = Client.objects.get(code="acme")
    return Request.objects.get_or_create(
        client=acme,
        subject="トップページの文言修正",
        defaults={"channel": "phone", "contract": acme_contract()},
    )[0]


def spare_closed_day() -> ClosedDay:
    return ClosedDay.objects.get_or_create(
        name="夏季休業", defaults={"first": dt.date(2026, 8, 13), "last": dt.date(2026, 8, 16)}
    )[0]


def hours_rows():
    return list(SupportHours.objects.values().order_by("pk"))


CASES: dict[str, Case] = {
    # Read by acme's people; changed (POST) by the provider's staff who see acme.
    "contract_support_hours": Case(
        PAGE,
        lambda s: {"pk": acme_contract().pk},
        post=lambda s: {
            "weekdays": ["0", "1", "2", "3", "4"],
            "opens": "09:00",
            "closes": "17:30",
            "first_response": "4h",
            "resolution": "3d",
        },
        readers=ACME_PEOPLE,
        writers=STAFF,
        snapshot=hours_rows,
    ),
}
