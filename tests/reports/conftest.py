"""A scripted month for the monthly report: November 2026 of acme (a website-maintenance
contract beside its SSL one), with figures written from the scenario, not from the code."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from mamori.clients.models import Contact, Contract, ContractType
from mamori.desk import services as desk
from mamori.desk.work import log_work
from mamori.inventory.models import Site
from mamori.monitoring.models import Check, Incident, MaintenanceWindow, Rollup, SlaPolicy
from mamori.weblogs.models import DayFigures

JST = ZoneInfo("Asia/Tokyo")
NOVEMBER = dt.date(2026, 11, 1)


def jst(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=JST)


@pytest.fixture(autouse=True)
def tokyo(settings):
    settings.TIME_ZONE = "Asia/Tokyo"


@pytest.fixture
def maintained(acme):
    """acme under website maintenance (001) as well, its contacts receiving reports."""
    Contract.objects.create(
        client=acme, type=ContractType.SITE_MAINTENANCE, start=dt.date(2026, 4, 1)
    )
    for contact in Contact.objects.filter(
        client=acme, email__in=["yamada@acme.example", "jane@acme.example"]
    ):
        contact.notify = [*contact.notify, "reports"]
        contact.save()
    return acme


@pytest.fixture
def scripted(maintained, operator):
    """November 2026 of acme:

    - the check "www" ran 1,440 times a day for 30 days, all up except 60 runs on the 10th:
      43,140 of 43,200 up = 99.861 % (rounded down);
    - one incident on the 10th, 03:00–04:00 JST, the provider's, a total outage: 60 minutes,
      shorter than the 6 hours of the SLA, so the SLA month is 100 % and no credit;
    - a maintenance window on the 20th, 01:00–03:00 (120 minutes), and one next month on
      15 December 01:00–02:00;
    - one request received on the 5th with 90 + 30 minutes of work logged;
    - visitors of www.acme.example: 120 on the 1st and 80 on the 2nd (200), 300 + 200 page views.
    """
    acme = maintained
    site = Site.objects.create(
        client=acme, name="www.acme.example", url="https://www.acme.example/"
    )
    check = Check.objects.create(
        client=acme,
        site=site,
        name="www",
        kind="http",
        settings={"url": "https://www.acme.example/"},
    )
    for day in range(1, 31):
        Rollup.objects.create(
            uptime_check=check,
            resolution="1d",
            start=jst(11, day),
            count=1440,
            up_count=1380 if day == 10 else 1440,
            sum_ms=144000,
            min_ms=50,
            max_ms=900,
        )
    Incident.objects.create(
        client=acme,
        uptime_check=check,
        site=site,
        title="www down",
        state="closed",
        total_outage=True,
        started_at=jst(11, 10, 3),
        confirmed_at=jst(11, 10, 3),
        recovered_at=jst(11, 10, 4),
        closed_at=jst(11, 10, 5),
        cause="provider",
    )
    SlaPolicy.objects.create(
        client=acme,
        name="Website SLA",
        monthly_fee=Decimal(50000),
        tiers=[{"below": 99.9, "credit_percent": 10}],
        long_outage_hours=6,
    )
    MaintenanceWindow.objects.create(
        client=acme, title="OS updates", starts_at=jst(11, 20, 1), ends_at=jst(11, 20, 3)
    )
    MaintenanceWindow.objects.create(
        client=acme, title="PHP upgrade", starts_at=jst(12, 15, 1), ends_at=jst(12, 15, 2)
    )
    req = desk.create_request(
        acme, channel="phone", subject="Add a contact form", received_at=jst(11, 5, 11)
    )
    log_work(req, 90, "Built the form", jst(11, 6, 14), operator)
    log_work(req, 30, "Tested it", jst(11, 7, 10), operator)
    DayFigures.objects.create(
        site=site, day=dt.date(2026, 11, 1), hits=500, page_views=300, visitors=120
    )
    DayFigures.objects.create(
        site=site, day=dt.date(2026, 11, 2), hits=400, page_views=200, visitors=80
    )
    return {"client": acme, "site": site, "check": check, "request": req}
