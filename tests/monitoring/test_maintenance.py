"""Maintenance windows (MON-06): when they occur, what they cover, and the client's advance
notices (once per occurrence, in each contact's language, cancelled once), delivered through
a real SMTP server."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from mamori.inventory.models import Server, Site
from mamori.monitoring import maintenance
from mamori.monitoring.models import Check, MaintenanceWindow
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind
from mamori.operations.runner import run_once

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.req("MON-06")]

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
HOUR = dt.timedelta(hours=1)


def tokyo(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


def window(client, starts, hours=2, **extra) -> MaintenanceWindow:
    w = MaintenanceWindow(
        client=client,
        title=extra.pop("title", "OS updates"),
        starts_at=starts,
        ends_at=starts + hours * HOUR,
        **extra,
    )
    # Saved first, then validated as a stored window: these windows lie in the past, and the
    # rule against planning a window after it ended judges new times only.
    w.save()
    w.full_clean()
    return w


def local_starts(w, start, end) -> list[str]:
    return [
        timezone.localtime(s, TOKYO).strftime("%Y-%m-%d %a %H:%M")
        for s, _ in maintenance.occurrences(w, start, end)
    ]


# --- occurrences ---------------------------------------------------------------------------------


def test_a_weekly_window_repeats_at_the_same_tokyo_time(acme):
    # Sunday 02:00–04:00 in Tokyo, i.e. Saturday 17:00 UTC.
    w = window(acme, tokyo(2026, 11, 29, 2, 0), recurrence="weekly")
    assert local_starts(w, tokyo(2026, 12, 1), tokyo(2027, 1, 1)) == [
        "2026-12-06 Sun 02:00",
        "2026-12-13 Sun 02:00",
        "2026-12-20 Sun 02:00",
        "2026-12-27 Sun 02:00",
    ]
    [(s, e)] = maintenance.occurrences(w, tokyo(2026, 12, 6, 3, 0), tokyo(2026, 12, 6, 3, 1))
    assert s == dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.UTC) and e - s == 2 * HOUR


def test_a_weekly_window_keeps_its_local_time_across_a_daylight_saving_change(acme):
    with timezone.override("Europe/Berlin"):
        berlin = zoneinfo.ZoneInfo("Europe/Berlin")
        w = window(acme, dt.datetime(2026, 10, 18, 10, 0, tzinfo=berlin), recurrence="weekly")
        starts = [
            s for s, _ in maintenance.occurrences(w, w.starts_at, w.starts_at + 14 * 24 * HOUR)
        ]
    assert [s.astimezone(berlin).hour for s in starts] == [10, 10]
    assert (
        starts[1].astimezone(dt.UTC) - starts[0].astimezone(dt.UTC) == 7 * 24 * HOUR + HOUR
    )  # clocks went back on 25 October


def test_a_monthly_window_on_the_31st_falls_on_the_last_day_of_shorter_months(acme):
    # dateutil's relativedelta clamps to the month's end; each occurrence is counted from the
    # first, so March is back on the 31st.
    w = window(acme, tokyo(2027, 1, 31, 1, 0), recurrence="monthly")
    assert local_starts(w, tokyo(2027, 1, 1), tokyo(2027, 6, 1)) == [
        "2027-01-31 Sun 01:00",
        "2027-02-28 Sun 01:00",
        "2027-03-31 Wed 01:00",
        "2027-04-30 Fri 01:00",
        "2027-05-31 Mon 01:00",
    ]


def test_a_repeating_window_stops_after_repeat_until(acme):
    w = window(
        acme, tokyo(2026, 12, 1, 3, 0), recurrence="daily", repeat_until=dt.date(2026, 12, 3)
    )
    assert local_starts(w, tokyo(2026, 11, 1), tokyo(2027, 1, 1)) == [
        "2026-12-01 Tue 03:00",
        "2026-12-02 Wed 03:00",
        "2026-12-03 Thu 03:00",
    ]


def test_a_cancelled_window_has_no_occurrences_and_covers_nothing(acme):
    site = Site.objects.create(client=acme, name="www", url="https://www.acme.example/")
    check = Check.objects.create(client=acme, site=site, name="www", kind="http", settings={})
    w = window(acme, tokyo(2026, 12, 1, 3, 0), recurrence="daily")
    assert maintenance.active_window(check, tokyo(2026, 12, 5, 4, 0)) == w
    maintenance.cancel(w, now=tokyo(2026, 12, 5, 0, 0))
    assert list(maintenance.occurrences(w, tokyo(2026, 11, 1), tokyo(2027, 1, 1))) == []
    assert maintenance.active_window(check, tokyo(2026, 12, 6, 4, 0)) is None
    assert maintenance.windows_for(check) == []


# --- scopes --------------------------------------------------------------------------------------


@pytest.fixture
def estate(acme, globex):
    web1 = Server.objects.create(client=acme, name="web1", kind="vps")
    db1 = Server.objects.create(client=acme, name="db1", kind="vps")
    www = Site.objects.create(client=acme, name="www", url="https://www.acme.example/", server=web1)
    shop = Site.objects.create(client=acme, name="shop", url="https://shop.acme.example/")

    def check(name, **scope):
        return Check.objects.create(client=acme, name=name, kind="http", settings={}, **scope)

    return {
        "web1": web1,
        "db1": db1,
        "www": www,
        "shop": shop,
        "www_check": check("www", site=www),
        "web1_check": check("web1 ping", server=web1),
        "db1_check": check("db1 port", server=db1),
        "shop_check": check("shop", site=shop),
        "client_check": check("mail"),
    }


SCOPES = {
    # window scope → the checks it covers
    "client": {"www_check", "web1_check", "db1_check", "shop_check", "client_check"},
    "www": {"www_check"},
    "web1": {"www_check", "web1_check"},  # the server and the site it hosts
    "db1": {"db1_check"},
    "shop": {"shop_check"},
}


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_a_window_covers_the_checks_of_what_it_names(scope, acme, globex, estate):
    target = (
        {}
        if scope == "client"
        else {"site" if isinstance(estate[scope], Site) else "server": estate[scope]}
    )
    w = window(acme, tokyo(2026, 12, 1, 3, 0), **target)
    window(globex, tokyo(2026, 12, 1, 3, 0), title="globex work")  # never covers acme
    at = tokyo(2026, 12, 1, 4, 0)
    covered = {
        name
        for name, check in estate.items()
        if name.endswith("_check") and maintenance.active_window(check, at) == w
    }
    assert covered == SCOPES[scope]
    assert all(
        maintenance.active_window(check, tokyo(2026, 12, 1, 5, 0)) is None
        for name, check in estate.items()
        if name.endswith("_check")
    )


# --- advance notices -----------------------------------------------------------------------------

S = dt.datetime(2026, 12, 10, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo


@pytest.fixture
def contacts(acme):
    """yamada (Japanese) and jane (English) receive maintenance notices; keiri does not."""
    for email in ("yamada@acme.example", "jane@acme.example"):
        contact = acme.contacts.get(email=email)
        contact.notify = [*contact.notify, "maintenance"]
        contact.save()
    return acme


def planned() -> list[Notice]:
    return list(
        Notice.objects.filter(kind=NoticeKind.MAINTENANCE_PLANNED).order_by("recipient", "key")
    )


def test_each_occurrence_is_announced_once_when_its_notice_period_begins(contacts, operator):
    w = window(contacts, S, recurrence="weekly", notify_hours_before=72)
    assert maintenance.announce_due(S - 73 * HOUR).notices == 0  # too early
    report = maintenance.announce_due(S - 71 * HOUR)
    assert (report.occurrences, report.notices) == (1, 2)
    # Later passes, and a second worker running the same pass, add nothing.
    for now in (S - 71 * HOUR, S - 70 * HOUR, S - dt.timedelta(minutes=1), S + HOUR):
        assert maintenance.announce_due(now).notices == 0
    sent = planned()
    assert [n.recipient for n in sent] == ["jane@acme.example", "yamada@acme.example"]
    assert {n.language for n in sent} == {"en", "ja"}
    key = f"maintenance:{w.pk}:2026-12-10T01:00:00+00:00"
    assert all(n.key.startswith(key + "|") for n in sent)
    assert all(n.maintenance_window == w and n.client == contacts for n in sent)
    # The operators planned the work: they get no copy.
    assert not Notice.objects.filter(recipient_kind="operator").exists()
    # The next week's occurrence has its own notice, three days before it.
    assert maintenance.announce_due(S + 7 * 24 * HOUR - 72 * HOUR).notices == 2
    assert len(planned()) == 4


def test_the_notice_reads_naturally_in_each_language(contacts, smtp, settings):
    settings.MAMORI_PROVIDER_NAME = "Example Hosting KK"
    site = Site.objects.create(
        client=contacts, name="コーポレートサイト", url="https://www.acme.example/"
    )
    window(
        contacts,
        S,
        site=site,
        title="OS security updates",
        description="Kernel and OpenSSL updates, one reboot.",
        notify_hours_before=24,
    )
    maintenance.announce_due(S - 2 * HOUR)
    assert notices.deliver_due().sent == 2
    [ja] = [m for m in smtp.messages if m.to == "yamada@acme.example"]
    assert (
        ja.subject.strip()
        == "【Mamori：メンテナンスのお知らせ】OS security updates（12月10日 10:00〜）"
    )
    text = ja.text()
    assert "山田太郎 様" in text and "メンテナンス作業を実施いたします" in text
    assert "2026年12月10日 10:00 〜 2026年12月10日 12:00" in text
    assert "コーポレートサイト（https://www.acme.example/）" in text
    assert "Kernel and OpenSSL updates" in text and "SLA" in text
    [en] = [m for m in smtp.messages if m.to == "jane@acme.example"]
    assert en.subject.strip().startswith(
        "[Mamori: planned maintenance] OS security updates (10 Dec, 10:00"
    )
    assert "Dear Jane Smith" in en.text() and "10 December 2026, 10:00" in en.text()
    assert "left out of the SLA" in en.text()


def test_an_occurrence_that_has_started_is_not_announced(contacts):
    # Planned late: the window is already under way when the pass runs.
    window(contacts, S, notify_hours_before=72)
    assert maintenance.announce_due(S + dt.timedelta(minutes=5)).notices == 0
    assert planned() == []


def test_announced_late_but_before_the_start_is_still_announced(contacts):
    window(contacts, S, notify_hours_before=72)
    assert maintenance.announce_due(S - HOUR).notices == 2


def test_cancelling_an_announced_window_tells_the_client_once(contacts, smtp):
    w = window(contacts, S, recurrence="weekly", notify_hours_before=72)
    maintenance.announce_due(S - 48 * HOUR)
    assert notices.deliver_due().sent == 2
    assert maintenance.cancel(w, now=S - 24 * HOUR) == 2
    assert maintenance.cancel(w, now=S - 23 * HOUR) == 0  # twice: nothing more
    assert maintenance.announce_due(S - 23 * HOUR).notices == 0  # cancelled: no more notices
    assert notices.deliver_due().sent == 2
    [ja] = [m for m in smtp.messages[2:] if m.to == "yamada@acme.example"]
    [en] = [m for m in smtp.messages[2:] if m.to == "jane@acme.example"]
    assert "メンテナンス中止" in ja.subject and "中止となりました" in ja.text()
    assert "maintenance cancelled" in en.subject and "has been cancelled" in en.text()
    assert len(planned()) == 4


def test_cancelling_a_window_nobody_was_told_about_sends_nothing(contacts):
    w = window(contacts, S, notify_hours_before=24)
    assert maintenance.cancel(w, now=S - 48 * HOUR) == 0
    assert planned() == []


def test_the_background_pass_announces_maintenance(contacts):
    starts = (timezone.now() + HOUR).replace(microsecond=0)
    w = window(contacts, starts, notify_hours_before=24)
    run_once(uptime=False)
    run_once(uptime=False)
    assert [n.maintenance_window for n in planned()] == [w, w]
