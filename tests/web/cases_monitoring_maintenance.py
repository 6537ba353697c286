"""Tenancy cases for maintenance window pages (see tests/web/tenancy.py).

acme's window covers its site on a future night; provider staff (and acme's assigned
subcontractor) change it, acme's own people only read the calendar.
"""

import datetime as dt

from django.utils import timezone

from mamori.clients.models import Client
from mamori.monitoring.models import MaintenanceWindow
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, Case

EXEMPT: dict[str, str] = {}

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_window() -> MaintenanceWindow:
    starts = (timezone.now() + dt.timedelta(days=2)).replace(microsecond=0)
    window, _ = MaintenanceWindow.objects.get_or_create(
        client=Client.objects.get(code="acme"),
        title="www.acme.example: OS updates",
        defaults={"starts_at": starts, "ends_at": starts + dt.timedelta(hours=2)},
    )
    return window


def window_kwargs(s) -> dict:
    return {"pk": acme_window().pk}


def window_rows() -> list[dict]:
    acme_window()
    return list(MaintenanceWindow.objects.values().order_by("pk"))


def listing(s) -> dict:
    acme_window()
    return {}


def edit_post(s) -> dict:
    window = acme_window()
    local = timezone.localtime(window.starts_at)
    return {
        "client": window.client_id,
        "site": s.site.pk,
        "title": "www.acme.example: OS and PHP updates",
        "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (local + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "recurrence": "none",
        "notify_hours_before": "24",
    }


CASES: dict[str, Case] = {
    "maintenance_calendar": Case(LIST, listing, readers=ACME_PEOPLE),
    # Planning is staff work; a client user is refused whatever the client, so the outsider's
    # POST is tested in tests/monitoring/test_maintenance_pages.py instead.
    "maintenance_add": Case(FORM, writers=STAFF, snapshot=window_rows),
    "maintenance_edit": Case(
        FORM, window_kwargs, post=edit_post, writers=STAFF, snapshot=window_rows
    ),
    "maintenance_cancel": Case(
        ACTION, window_kwargs, post=lambda s: {}, writers=STAFF, snapshot=window_rows
    ),
}
