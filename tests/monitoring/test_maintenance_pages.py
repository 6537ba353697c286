"""Maintenance window pages (MON-06): the calendar with repeating windows expanded, the staff
forms with their errors, cancellation with its notice, client users' read-only view, audit."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from mamori.core.models import AuditEvent
from mamori.inventory.models import Server, Site
from mamori.monitoring import maintenance
from mamori.monitoring.models import MaintenanceWindow
from mamori.notices.models import Notice

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.req("MON-06")]

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def speaking(user, language: str = "en"):
    user.language = language
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def staff(client, operator):
    client.force_login(speaking(operator))
    return client


@pytest.fixture
def estate(acme, globex):
    web1 = Server.objects.create(client=acme, name="web1", kind="vps")
    www = Site.objects.create(client=acme, name="www", url="https://www.acme.example/", server=web1)
    other = Site.objects.create(client=globex, name="globex", url="https://globex.example/")
    return {"web1": web1, "www": www, "globex_site": other}


def weekly(acme) -> MaintenanceWindow:
    # Sundays 02:00–04:00 Tokyo time from 6 December 2026.
    starts = dt.datetime(2026, 12, 6, 2, 0, tzinfo=TOKYO)
    return MaintenanceWindow.objects.create(
        client=acme,
        title="Weekly patching",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        recurrence="weekly",
    )


def form(client_pk, **extra) -> dict:
    data = {
        "client": client_pk,
        "title": "PHP 8.4 upgrade",
        "starts_at": "2027-01-10T01:00",
        "ends_at": "2027-01-10T03:00",
        "recurrence": "none",
        "notify_hours_before": "72",
    }
    data.update(extra)
    return data


def test_the_calendar_shows_every_occurrence_of_a_repeating_window(staff, acme):
    weekly(acme)
    response = staff.get(reverse("maintenance_calendar"), {"month": "2026-12", "client": "acme"})
    assert response.status_code == 200
    weeks = response.context["weeks"]
    days = {
        day["date"].day: [i["starts"] for i in day["items"]]
        for week in weeks
        for day in week
        if day["in_month"]
    }
    assert sorted(d for d, items in days.items() if items) == [6, 13, 20, 27]
    assert response.content.decode().count("Weekly patching") >= 5  # 4 days and the list
    # November has none of its own; its last row shows 6 December, greyed out.
    response = staff.get(reverse("maintenance_calendar"), {"month": "2026-11"})
    shown = [day for week in response.context["weeks"] for day in week if day["items"]]
    assert [(d["date"], d["in_month"]) for d in shown] == [(dt.date(2026, 12, 6), False)]


def test_a_bad_month_shows_the_current_one(staff, acme):
    response = staff.get(reverse("maintenance_calendar"), {"month": "2026-13"})
    assert response.status_code == 200
    assert response.context["month"] == timezone.localdate().replace(day=1)


def test_staff_plan_a_window_for_a_server_and_it_is_audited(staff, acme, estate):
    response = staff.post(reverse("maintenance_add"), form(acme.pk, server=estate["web1"].pk))
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert (window.server, window.site, window.notify_hours_before) == (estate["web1"], None, 72)
    assert window.starts_at == dt.datetime(2027, 1, 10, 1, 0, tzinfo=TOKYO)
    assert "month=2027-01" in response["Location"]
    event = AuditEvent.objects.get(action="maintenance.add")
    assert event.object_id == str(window.pk) and event.client_id == acme.pk


def test_the_form_says_precisely_what_is_wrong(staff, acme, estate):
    with translation.override("en"):
        cases = [
            ({"site": estate["globex_site"].pk}, "site", None),  # not among the choices
            (
                {"ends_at": "2027-01-10T00:30"},
                "ends_at",
                gettext("The window must end after it starts."),
            ),
            (
                {"recurrence": "daily", "ends_at": "2027-01-11T02:00"},
                "ends_at",
                gettext("A repeating window must be shorter than its period."),
            ),
            (
                {"site": estate["www"].pk, "server": estate["web1"].pk},
                "server",
                gettext("Choose a site or a server, not both."),
            ),
        ]
        for extra, field, message in cases:
            response = staff.post(reverse("maintenance_add"), form(acme.pk, **extra))
            assert response.status_code == 200
            errors = response.context["form"].errors
            assert field in errors, extra
            if message:
                assert message in errors[field]
                assert message in response.content.decode()
    assert not MaintenanceWindow.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="maintenance").exists()


def test_a_site_of_another_client_is_refused_by_the_model(acme, globex, estate):
    window = MaintenanceWindow(
        client=acme,
        site=estate["globex_site"],
        title="x",
        starts_at=timezone.now(),
        ends_at=timezone.now() + dt.timedelta(hours=1),
    )
    with pytest.raises(Exception) as info:
        window.full_clean()
    assert "site" in info.value.message_dict


def test_staff_edit_a_window_and_the_change_is_audited(staff, acme, estate):
    window = weekly(acme)
    response = staff.post(
        reverse("maintenance_edit", args=[window.pk]),
        form(
            acme.pk,
            title="Weekly patching (longer)",
            site=estate["www"].pk,
            starts_at="2026-12-06T02:00",
            ends_at="2026-12-06T05:00",
            recurrence="weekly",
        ),
    )
    assert response.status_code == 302
    window.refresh_from_db()
    assert window.title == "Weekly patching (longer)" and window.site == estate["www"]
    assert window.ends_at - window.starts_at == dt.timedelta(hours=3)
    event = AuditEvent.objects.get(action="maintenance.edit")
    assert event.changes["title"] == ["Weekly patching", "Weekly patching (longer)"]


def test_cancelling_tells_the_client_who_was_told(staff, acme):
    contact = acme.contacts.get(email="jane@acme.example")
    contact.notify = ["maintenance"]
    contact.save()
    starts = (timezone.now() + dt.timedelta(hours=5)).replace(microsecond=0)
    window = MaintenanceWindow.objects.create(
        client=acme, title="Disk swap", starts_at=starts, ends_at=starts + dt.timedelta(hours=1)
    )
    maintenance.announce_due()
    assert Notice.objects.count() == 1
    response = staff.post(reverse("maintenance_cancel", args=[window.pk]))
    assert response.status_code == 302
    window.refresh_from_db()
    assert window.cancelled_at is not None
    assert Notice.objects.count() == 2
    assert AuditEvent.objects.get(action="maintenance.cancel").changes == {"notices": 1}
    # Once only; a cancelled window can no longer be edited.
    staff.post(reverse("maintenance_cancel", args=[window.pk]))
    assert Notice.objects.count() == 2
    assert AuditEvent.objects.filter(action="maintenance.cancel").count() == 1
    response = staff.post(reverse("maintenance_edit", args=[window.pk]), form(acme.pk))
    assert response.status_code == 302
    window.refresh_from_db()
    assert window.title == "Disk swap"


def test_client_users_see_their_windows_read_only(client, owner, acme, globex):
    weekly(acme)
    MaintenanceWindow.objects.create(
        client=globex,
        title="Globex secret work",
        starts_at=dt.datetime(2026, 12, 7, 2, 0, tzinfo=TOKYO),
        ends_at=dt.datetime(2026, 12, 7, 3, 0, tzinfo=TOKYO),
    )
    client.force_login(speaking(owner))
    response = client.get(reverse("maintenance_calendar"), {"month": "2026-12"})
    body = response.content.decode()
    assert "Weekly patching" in body and "Globex secret work" not in body
    assert reverse("maintenance_add") not in body
    window = MaintenanceWindow.objects.get(client=acme)
    assert reverse("maintenance_edit", args=[window.pk]) not in body
    assert client.post(reverse("maintenance_add"), form(acme.pk)).status_code == 403
    assert client.post(reverse("maintenance_cancel", args=[window.pk])).status_code == 403


def test_an_outsider_cannot_plan_work_for_acme(client, outsider, acme):
    client.force_login(outsider)
    assert client.post(reverse("maintenance_add"), form(acme.pk)).status_code == 403
    assert not MaintenanceWindow.objects.exists()


def test_an_unassigned_subcontractor_cannot_choose_acme(client, make_user, acme):
    stranger = speaking(make_user("stranger", "subcontractor"))
    client.force_login(stranger)
    response = client.post(reverse("maintenance_add"), form(acme.pk))
    assert response.status_code == 200
    assert "client" in response.context["form"].errors
    assert not MaintenanceWindow.objects.exists()


def test_moving_an_announced_window_withdraws_the_old_time_and_announces_the_new(staff, acme):
    contact = acme.contacts.get(email="jane@acme.example")
    contact.notify = ["maintenance"]
    contact.save()
    starts = timezone.localtime(timezone.now() + dt.timedelta(hours=5)).replace(
        second=0, microsecond=0
    )
    window = MaintenanceWindow.objects.create(
        client=acme, title="Disk swap", starts_at=starts, ends_at=starts + dt.timedelta(hours=1)
    )
    maintenance.announce_due()
    later = starts + dt.timedelta(hours=2)
    response = staff.post(
        reverse("maintenance_edit", args=[window.pk]),
        form(
            acme.pk,
            title="Disk swap",
            starts_at=later.strftime("%Y-%m-%dT%H:%M"),
            ends_at=(later + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        ),
    )
    assert response.status_code == 302
    keys = sorted(n.key.split("|")[0] for n in Notice.objects.all())
    old = maintenance.event_key(window, starts)
    assert keys == [old, old + ":cancelled"]
    assert AuditEvent.objects.get(action="maintenance.edit").changes["withdrawn_notices"] == 1
    maintenance.announce_due()
    assert Notice.objects.count() == 3
    assert Notice.objects.filter(key__startswith=maintenance.event_key(window, later)).exists()
