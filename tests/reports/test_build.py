"""The month's figures (RPT-01): known answers from the scripted month, equal to what the pages
and the API show for the same month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mamori.clients.models import Client, Contract, ContractType
from mamori.desk.work import month_work
from mamori.monitoring import sla
from mamori.monitoring.models import SlaPolicy
from mamori.reports import build
from tests.reports.conftest import NOVEMBER

pytestmark = pytest.mark.req("RPT-01")


def test_the_scripted_month_has_its_known_figures(scripted):
    figures = build.build(scripted["client"], NOVEMBER)
    s = figures["sections"]
    assert figures["month"] == "2026-11"
    [check] = s["availability"]["checks"]
    assert (check["runs"], check["up"], check["percent"]) == (43200, 43140, "99.861")
    assert check["days"]["2026-11-10"] == [1440, 1380]
    [incident] = s["incidents"]["incidents"]
    assert (incident["cause"], incident["minutes"], incident["total_outage"]) == (
        "provider",
        60,
        True,
    )
    [policy] = s["sla"]["policies"]
    # One hour is shorter than the contract's 6 hours: nothing counts, no credit (004 §30.4).
    assert Decimal(policy["availability_percent"]) == Decimal(100)
    assert policy["downtime_minutes"] == 0
    assert Decimal(policy["credit_percent"]) == 0
    assert policy["maintenance_minutes"] == 120
    [window] = s["maintenance"]["windows"]
    assert (window["title"], window["minutes"]) == ("OS updates", 120)
    work = s["work"]
    assert (work["requests_received"], work["minutes"]) == (1, 120)
    [site] = s["visitors"]["sites"]
    assert (site["visitors"], site["page_views"]) == (200, 500)
    assert [w["title"] for w in s["next_month"]["windows"]] == ["PHP upgrade"]
    assert s["next_month"]["month"] == "2026-12"


def test_sections_without_anything_are_left_out(scripted):
    s = build.build(scripted["client"], NOVEMBER)["sections"]
    # No backups, updates, certificates or announcements happened in the month.
    assert not {"backups", "updates", "certificates", "announcements"} & set(s)


def test_a_client_without_a_contract_for_a_subject_gets_no_section(scripted):
    acme = scripted["client"]
    Contract.objects.filter(client=acme, type=ContractType.SITE_MAINTENANCE).delete()
    s = build.build(acme, NOVEMBER)["sections"]
    # Only the SSL contract is left: no monitoring, work or visitors section.
    assert set(s) <= {"certificates", "announcements", "next_month"}
    assert "availability" not in s and "work" not in s and "visitors" not in s


def test_a_contract_that_starts_later_does_not_cover_the_month(db):
    client = Client.objects.create(code="late", name="Late")
    Contract.objects.create(client=client, type="site_maintenance", start=dt.date(2026, 12, 1))
    assert build.covered_types(client, NOVEMBER) == set()
    assert build.build(client, NOVEMBER)["sections"] == {}


def test_the_figures_equal_the_pages(scripted):
    """The SLA page's measured availability and SLA figures, the desk's month of work."""
    acme = scripted["client"]
    s = build.build(acme, NOVEMBER)["sections"]
    policy = SlaPolicy.objects.get(client=acme)
    [measured] = sla.measured(policy, NOVEMBER)
    assert s["availability"]["checks"][0]["percent"] == str(measured.percent)
    page = sla.figures(policy, NOVEMBER)
    assert s["sla"]["policies"][0]["availability_percent"] == str(page.availability_percent)
    assert s["work"]["minutes"] == month_work(acme, NOVEMBER).minutes


def test_the_figures_equal_the_api(scripted, client, operator):
    acme = scripted["client"]
    s = build.build(acme, NOVEMBER)["sections"]
    from mamori.core.tokens import create_token

    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_token(operator, 'test')[1]}"}
    site = scripted["site"]
    body = client.get(f"/api/v1/sites/{site.pk}/visitors?month=2026-11", **auth).json()
    assert (s["visitors"]["sites"][0]["visitors"], s["visitors"]["sites"][0]["page_views"]) == (
        body["visitors"],
        body["page_views"],
    )
