"""Checks inside a maintenance window, against a real nginx and a real SMTP server (MON-06):
the outage is seen, but no incident opens and nothing is sent; after the window, either the
site is back (still nothing) or it is still down (one incident, from the window's end)."""

from __future__ import annotations

import datetime as dt

import pytest

from mamori.monitoring.models import CheckState, Incident, MaintenanceWindow
from mamori.monitoring.services import run_due
from mamori.notices import services as notices
from mamori.notices.models import Notice

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.req("MON-06")]

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
# The work: 01:02 to 01:10 UTC.
STARTS, ENDS = T0 + 2 * MINUTE, T0 + 10 * MINUTE


def plan(site, scope: str) -> MaintenanceWindow:
    target = {"client": {}, "site": {"site": site}, "server": {"server": site.server}}[scope]
    window = MaintenanceWindow(
        client=site.client,
        title="nginx upgrade",
        starts_at=STARTS,
        ends_at=ENDS,
        notify_hours_before=0,
        **target,
    )
    # Planned before T0 (the test's clock); stored first, then validated as a stored window,
    # since the rule against planning a window after it ended judges new times only.
    window.save()
    window.full_clean()
    return window


def down_inside_the_window(nginx, check) -> None:
    run_due(T0)  # up before the work
    nginx.stop()
    for minute in (3, 4, 5, 6):
        run_due(T0 + minute * MINUTE)
    check.refresh_from_db()
    assert check.state == CheckState.DOWN and check.consecutive_failures == 4
    assert not Incident.objects.exists()
    assert not Notice.objects.exists()


@pytest.mark.parametrize("scope", ["client", "site", "server"])
def test_an_outage_inside_the_window_opens_nothing_and_its_end_sends_nothing(
    scope, acme_site, nginx, web, smtp, make_check
):
    check = make_check(acme_site.client, "http", {"url": web, "keyword": "Welcome"}, site=acme_site)
    plan(acme_site, scope)
    down_inside_the_window(nginx, check)

    nginx.start()
    run_due(T0 + 9 * MINUTE)  # back before the end
    run_due(ENDS)
    run_due(ENDS + MINUTE)
    check.refresh_from_db()
    assert check.state == CheckState.UP
    assert not Incident.objects.exists()
    # No recovery notice and no burst of the notices held back during the window.
    assert not Notice.objects.exists()
    assert notices.deliver_due().sent == 0
    assert smtp.messages == []


def test_an_outage_that_outlasts_the_window_opens_one_incident_from_its_end(
    acme_site, nginx, web, smtp, make_check
):
    check = make_check(acme_site.client, "http", {"url": web, "keyword": "Welcome"}, site=acme_site)
    plan(acme_site, "server")
    down_inside_the_window(nginx, check)

    run_due(ENDS)  # the window is over and the site is still down
    incident = Incident.objects.get()
    assert incident.uptime_check == check
    assert incident.started_at >= ENDS
    for minute in (11, 12):
        run_due(T0 + minute * MINUTE)
    assert Incident.objects.count() == 1
    # One incident notice per recipient (the contact and the operators), nothing for the window.
    assert notices.deliver_due().sent == Notice.objects.count() > 0
    assert all(n.incident == incident for n in Notice.objects.all())
