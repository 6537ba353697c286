"""Tenancy cases of the monthly report pages (RPT-01): acme's people read acme's released
reports; building, releasing and the settings are provider administrators' and operators'."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from mamori.clients.models import Client
from mamori.reports.models import Report, ReportSettings, ReportState
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

STAFF = frozenset({"operator", "provider_admin"})
MONTH = dt.date(2026, 10, 1)


def acme_report() -> Report:
    """acme's October report, released and sent (its figures: one availability row)."""
    acme = Client.objects.get(code="acme")
    return Report.objects.get_or_create(
        client=acme,
        month=MONTH,
        version=1,
        defaults={
            "state": ReportState.SENT,
            "released_at": timezone.now(),
            "sent_at": timezone.now(),
            "figures": {"format": 1, "client": "acme", "month": "2026-10", "sections": {}},
        },
    )[0]


def acme_draft_report() -> Report:
    """acme's September report, built and waiting for review (only provider staff see it)."""
    acme = Client.objects.get(code="acme")
    return Report.objects.get_or_create(
        client=acme,
        month=dt.date(2026, 9, 1),
        version=1,
        defaults={"figures": {"format": 1, "client": "acme", "month": "2026-09", "sections": {}}},
    )[0]


def acme_released_report() -> Report:
    """acme's August report, released, its notices not queued yet (acme's people see it)."""
    acme = Client.objects.get(code="acme")
    return Report.objects.get_or_create(
        client=acme,
        month=dt.date(2026, 8, 1),
        version=1,
        defaults={
            "state": ReportState.RELEASED,
            "released_at": timezone.now(),
            "figures": {"format": 1, "client": "acme", "month": "2026-08", "sections": {}},
        },
    )[0]


def report_rows() -> list[dict]:
    acme_report(), acme_released_report()  # made lazily: the snapshot before holds them too
    return [
        *Report.objects.values("pk", "state", "version", "notices").order_by("pk"),
        *ReportSettings.objects.values().order_by("pk"),
    ]


EXEMPT = {
    "report_build": "builds a month for a client chosen in the form: provider administrators "
    "and operators only, 403 for everyone else; a client they do not see is refused by the form "
    "(tests/reports/test_pages.py)",
}

CASES = {
    "report_list": Case(LIST, lambda s: (acme_report(), {})[1], readers=ACME_PEOPLE),
    "report_detail": Case(PAGE, lambda s: {"pk": acme_report().pk}, readers=ACME_PEOPLE),
    # A PDF: its text is not searched for acme's markers (tests/reports reads it).
    "report_pdf": Case(
        PAGE,
        lambda s: {"pk": acme_report().pk, "language": "ja"},
        readers=ACME_PEOPLE,
        shows_acme=False,
    ),
    "report_rebuild": Case(
        ACTION,
        lambda s: {"pk": acme_report().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=report_rows,
    ),
    "report_release": Case(
        ACTION,
        lambda s: {"pk": acme_released_report().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=report_rows,
    ),
    "report_settings": Case(
        FORM,
        lambda s: {"code": s.acme.code},
        post=lambda s: {"business_day": "3", "auto_release": "on"},
        readers=STAFF,
        writers=STAFF,
        snapshot=report_rows,
    ),
}
