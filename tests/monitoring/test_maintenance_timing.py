"""When a maintenance window may lie (MON-06, issue 15): a window that has already ended is
refused by the form, the API and the import alike (the model's one rule); a start more than an
hour ago is refused; a window entered just after its start (urgent work) is accepted with a
warning that the client was not told in advance; stored windows that have ended stay valid."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.inventory.transfer import import_file
from mamori.monitoring import maintenance
from mamori.monitoring.models import MaintenanceWindow

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.req("MON-06")]

ENDED = "This window has already ended: plan work that is still ahead."
TOO_EARLY = (
    "The start is more than an hour ago: a window is planned ahead "
    "(or entered as soon as urgent work begins)."
)
BEGUN = "This window has already begun: the client was not told about it in advance."


def en(message: str) -> str:
    with translation.override("en"):
        return gettext(message)


def local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def staff(client, operator):
    operator.language = "en"
    operator.save(update_fields=["language"])
    client.force_login(operator)
    return client


def form(client_pk, starts: str, ends: str, **extra) -> dict:
    return {
        "client": client_pk,
        "title": "Server migration",
        "starts_at": starts,
        "ends_at": ends,
        "recurrence": "none",
        "notify_hours_before": "72",
        **extra,
    }


def test_the_form_refuses_a_window_in_2020(staff, acme):
    response = staff.post(
        reverse("maintenance_add"), form(acme.pk, "2020-03-01T01:00", "2020-03-01T03:00")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["ends_at"] == [en(ENDED)]
    assert en(ENDED) in response.content.decode()
    assert not MaintenanceWindow.objects.exists()
    assert not AuditEvent.objects.filter(action="maintenance.add").exists()


def test_a_repeating_window_whose_last_day_has_passed_is_refused_too(staff, acme):
    response = staff.post(
        reverse("maintenance_add"),
        form(
            acme.pk,
            "2020-03-01T01:00",
            "2020-03-01T03:00",
            recurrence="weekly",
            repeat_until="2020-06-30",
        ),
    )
    assert response.context["form"].errors["ends_at"] == [en(ENDED)]
    # Repeating for ever, or until a day to come: it has occurrences ahead (its first start
    # lies in the past, which the start rule judges).
    ahead = timezone.now() + dt.timedelta(days=3)
    response = staff.post(
        reverse("maintenance_add"),
        form(
            acme.pk,
            local(ahead),
            local(ahead + dt.timedelta(hours=2)),
            recurrence="weekly",
            repeat_until=(ahead + dt.timedelta(days=60)).date().isoformat(),
        ),
    )
    assert response.status_code == 302


def test_a_start_more_than_an_hour_ago_is_refused(staff, acme):
    now = timezone.now()
    response = staff.post(
        reverse("maintenance_add"),
        form(acme.pk, local(now - dt.timedelta(hours=3)), local(now + dt.timedelta(hours=1))),
    )
    assert response.context["form"].errors["starts_at"] == [en(TOO_EARLY)]
    assert not MaintenanceWindow.objects.exists()


def test_urgent_work_entered_just_after_it_began_is_accepted_with_a_warning(staff, acme):
    now = timezone.now()
    response = staff.post(
        reverse("maintenance_add"),
        form(acme.pk, local(now - dt.timedelta(minutes=20)), local(now + dt.timedelta(hours=1))),
    )
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert en(BEGUN) in shown
    staff.get(response["Location"])  # the calendar shows (and uses up) the messages
    # A window planned ahead gets no such warning.
    response = staff.post(
        reverse("maintenance_add"),
        form(
            acme.pk, local(now + dt.timedelta(days=2)), local(now + dt.timedelta(days=2, hours=1))
        ),
    )
    assert en(BEGUN) not in [str(m) for m in get_messages(response.wsgi_request)]


def test_the_api_refuses_an_ended_window_naming_the_field(client, acme, operator):
    operator.language = "en"
    operator.save(update_fields=["language"])
    token = create_token(operator, "test")[1]
    with translation.override("en"):
        response = client.post(
            "/api/v1/maintenance-windows",
            json.dumps(
                {
                    "client": "acme",
                    "title": "Old",
                    "starts_at": "2020-03-01T01:00:00+09:00",
                    "ends_at": "2020-03-01T03:00:00+09:00",
                }
            ),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [(d["loc"][-1], d["msg"]) for d in detail] == [("ends_at", en(ENDED))]
    assert not MaintenanceWindow.objects.exists()


PAST_FILE = """\
clients:
  - code: acme
    maintenance_windows:
      - {title: Old upgrade, starts_at: "2020-03-01T01:00:00+09:00",
         ends_at: "2020-03-01T03:00:00+09:00"}
"""


def test_the_import_refuses_a_new_window_that_has_ended(acme):
    with translation.override("en"):
        report = import_file(PAST_FILE.encode(), filename="clients.yaml")
    assert not report.ok
    assert any(
        e.path.endswith("maintenance_windows[0].ends_at") and en(ENDED) in str(e.message)
        for e in report.errors
    ), [str(e) for e in report.errors]
    assert not MaintenanceWindow.objects.exists()


def test_a_stored_window_that_has_ended_stays_valid(acme, operator):
    # Planned and carried out in its time; naming it again unchanged (an import of an export)
    # or correcting its title is not planning it again.
    window = MaintenanceWindow.objects.create(
        client=acme,
        title="Old upgrade",
        starts_at=dt.datetime(2020, 3, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))),
        ends_at=dt.datetime(2020, 3, 1, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))),
    )
    with translation.override("en"):
        report = import_file(PAST_FILE.encode(), filename="clients.yaml")
    assert report.ok, [str(e) for e in report.errors]
    window.title = "Old upgrade (PHP 8.4)"
    maintenance.edit_window(window, actor=operator)
    # Moving it is planning it: still in the past, refused.
    window.ends_at += dt.timedelta(minutes=30)
    with pytest.raises(ValidationError) as excinfo:
        maintenance.edit_window(window, actor=operator)
    assert en(ENDED) in str(excinfo.value)
