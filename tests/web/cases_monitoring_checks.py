"""Tenancy cases for the monitoring overview and the check pages (see tests/web/tenancy.py)."""

from mamori.clients.models import Client
from mamori.monitoring.models import Check
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_check() -> Check:
    check, _ = Check.objects.get_or_create(
        client=Client.objects.get(code="acme"),
        name="www.acme.example HTTPS",
        defaults={"kind": "http", "settings": {"url": "https://www.acme.example/"}},
    )
    return check


def check_kwargs(s) -> dict:
    return {"pk": acme_check().pk}


def check_rows() -> list[dict]:
    acme_check()
    return list(Check.objects.values().order_by("pk"))


def listing(s) -> dict:
    acme_check()
    return {}


def edit_post(s) -> dict:
    check = acme_check()
    return {
        "client": check.client_id,
        "name": "www.acme.example HTTPS (edited)",
        "kind": "http",
        "interval_seconds": 60,
        "timeout_seconds": 10,
        "failures_to_confirm": 2,
        "recoveries_to_confirm": 2,
        "enabled": "on",
        "http_url": "https://www.acme.example/health",
        "http_method": "GET",
        "dns_rdtype": "A",
    }


CASES: dict[str, Case] = {
    "monitoring_overview": Case(LIST, listing, readers=ACME_PEOPLE),
    "check_list": Case(LIST, listing, readers=ACME_PEOPLE),
    "check_detail": Case(PAGE, check_kwargs, readers=ACME_PEOPLE),
    # Adding is staff work; a client user is refused whatever the client (see
    # tests/monitoring/test_check_pages.py).
    "check_add": Case(FORM, writers=STAFF, snapshot=check_rows),
    "check_edit": Case(
        FORM, check_kwargs, post=edit_post, readers=STAFF, writers=STAFF, snapshot=check_rows
    ),
    "check_delete": Case(
        FORM, check_kwargs, post=lambda s: {}, readers=STAFF, writers=STAFF, snapshot=check_rows
    ),
    "check_pause": Case(
        ACTION, check_kwargs, post=lambda s: {}, writers=STAFF, snapshot=check_rows
    ),
}
