"""A request's targets in business time and the operators' alerts (MNT-05).

Due times are worked out by hand from the 2026 calendar (see test_hours.py): 2026-06-05 is a
Friday, 2026-06-08 a Monday; support 10:00-18:00, Monday to Friday.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mamori.clients import waits
from mamori.core.models import AuditEvent
from mamori.desk import hours_services, targets
from mamori.desk.hours import TOKYO
from mamori.desk.models import ClosedDay, Request, RequestState
from mamori.desk.services import create_request
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind
from mamori.operations.jobs import REGISTRY, run_job


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


@pytest.fixture
def contract(acme):
    contract = acme.contracts.get()
    hours_services.set_support_hours(
        contract,
        weekdays=[0, 1, 2, 3, 4],
        opens=dt.time(10),
        closes=dt.time(18),
        first_response_minutes=60,
        resolution_minutes=3 * 480,
    )
    return contract


def new_request(acme, contract, received_at) -> Request:
    return create_request(
        acme,
        channel="phone",
        subject="トップページの文言修正",
        contract=contract,
        received_at=received_at,
    )


@pytest.mark.req("MNT-05")
def test_a_new_request_gets_its_due_times_in_business_time(acme, contract):
    req = new_request(acme, contract, at(2026, 6, 5, 17, 30))
    req.refresh_from_db()
    # 60 business minutes from Friday 17:30: Monday 10:30.
    assert req.first_response_due == at(2026, 6, 8, 10, 30)
    # Three support days: 30 min Friday, Mon, Tue, and 7h30 of Wednesday → Wed 6/10 17:30.
    assert req.resolution_due == at(2026, 6, 10, 17, 30)


@pytest.mark.req("MNT-05")
def test_a_contract_without_support_hours_uses_the_settings(acme, settings):
    settings.MAMORI_SUPPORT_HOURS = "09:00-17:00"
    settings.MAMORI_DESK_FIRST_RESPONSE_MINUTES = 120
    req = new_request(acme, acme.contracts.get(), at(2026, 6, 5, 16, 30))
    req.refresh_from_db()
    assert req.first_response_due == at(2026, 6, 8, 10, 30)


@pytest.mark.req("MNT-05")
def test_closed_days_over_the_new_year_push_the_due_time(acme, contract):
    hours_services.add_closed_day(dt.date(2026, 12, 29), dt.date(2027, 1, 3), "年末年始")
    # Monday 12/28 17:30 + 60: 30 minutes on 12/28, then Monday 1/4/2027 10:30.
    req = new_request(acme, contract, at(2026, 12, 28, 17, 30))
    req.refresh_from_db()
    assert req.first_response_due == at(2027, 1, 4, 10, 30)


@pytest.mark.req("MNT-05")
def test_waiting_on_the_client_pushes_the_due_times(acme, contract):
    req = new_request(acme, contract, at(2026, 6, 8, 10))  # Monday 10:00, due 11:00
    waits.start_waiting(req, awaited="修正後の文言", since=at(2026, 6, 8, 10, 20))
    # Waiting since 10:20; at 14:00 the clock has been stopped for 3h40: due moves to 14:40.
    targets.check_due(now=at(2026, 6, 8, 14))
    req.refresh_from_db()
    assert req.first_response_due == at(2026, 6, 8, 14, 40)
    states = {s.target: s.state for s in targets.state(req, at(2026, 6, 8, 14))}
    assert states[targets.FIRST_RESPONSE] == targets.State.PAUSED
    # The client answers at 17:00 (6h40 of waiting): 40 minutes were left → due 17:40.
    waits.stop_waiting(req, until=at(2026, 6, 8, 17))
    targets.check_due(now=at(2026, 6, 8, 17, 5))
    req.refresh_from_db()
    assert req.first_response_due == at(2026, 6, 8, 17, 40)


@pytest.mark.req("MNT-05")
def test_state_on_time_due_soon_late_and_met(acme, contract, settings):
    settings.MAMORI_DESK_ALERT_BEFORE_MINUTES = 30
    req = new_request(acme, contract, at(2026, 6, 5, 17, 30))  # due Monday 10:30
    req.refresh_from_db()

    def first(now):
        return next(s for s in targets.state(req, now) if s.target == targets.FIRST_RESPONSE)

    assert (first(at(2026, 6, 5, 17, 40)).state, first(at(2026, 6, 5, 17, 40)).minutes) == (
        targets.State.ON_TIME,
        50,  # 20 minutes on Friday, 30 on Monday
    )
    assert first(at(2026, 6, 8, 10, 5)).state == targets.State.DUE_SOON
    late = first(at(2026, 6, 8, 11))
    assert (late.state, late.minutes) == (targets.State.LATE, -30)
    req.first_responded_at = at(2026, 6, 8, 10, 15)
    assert first(at(2026, 6, 8, 11)).state == targets.State.MET
    req.first_responded_at = at(2026, 6, 8, 12)
    assert first(at(2026, 6, 8, 13)).state == targets.State.MET_LATE


@pytest.mark.req("MNT-05")
def test_the_alert_job_alerts_once_before_and_once_when_missed_by_real_mail(
    acme, contract, operator, settings, smtp
):
    settings.MAMORI_DESK_ALERT_BEFORE_MINUTES = 30
    settings.MAMORI_OPERATOR_EMAILS = []
    settings.MAMORI_OPERATOR_CHANNELS = []
    req = new_request(acme, contract, at(2026, 6, 5, 17, 30))  # first response due Mon 10:30
    resolution_due = Request.objects.get(pk=req.pk).resolution_due
    notices.deliver_due()  # the operators' "new request" mail, not an alert
    before = len(smtp.messages)

    def alerts():
        return Notice.objects.filter(kind=NoticeKind.DESK_DUE, request=req)

    targets.check_due(now=at(2026, 6, 5, 17, 40))  # 50 business minutes left: quiet
    assert not alerts().exists()
    targets.check_due(now=at(2026, 6, 8, 10, 5))  # 25 left: due soon
    targets.check_due(now=at(2026, 6, 8, 10, 10))  # again: nothing new
    assert alerts().count() == 1
    notices.deliver_due()
    assert len(smtp.messages) == before + 1
    mail = smtp.messages[-1]
    assert mail.to == "operator@provider.example"
    assert req.number in mail.subject and "初回回答" in mail.subject  # the operator reads ja
    assert "2026年6月8日 10:30" in mail.text()

    targets.check_due(now=at(2026, 6, 8, 10, 31))  # missed: once more
    targets.check_due(now=at(2026, 6, 8, 11))
    assert alerts().count() == 2
    assert [n.key.split("|")[0] for n in alerts().order_by("pk")] == [
        f"desk-due:{req.pk}:first_response:2026-06-08T01:30:00+00:00",
        f"desk-late:{req.pk}:first_response:2026-06-08T01:30:00+00:00",
    ]
    # The resolution (Wednesday 17:30) is not due soon yet; the first response was answered.
    assert resolution_due == at(2026, 6, 10, 17, 30)
    Request.objects.filter(pk=req.pk).update(first_responded_at=at(2026, 6, 8, 11))
    targets.check_due(now=at(2026, 6, 8, 12))
    assert alerts().count() == 2


@pytest.mark.req("MNT-05")
def test_a_suspended_request_is_not_alerted(acme, contract, operator, settings):
    settings.MAMORI_OPERATOR_EMAILS = []
    req = new_request(acme, contract, at(2026, 6, 5, 17, 30))
    Request.objects.filter(pk=req.pk).update(state=RequestState.SUSPENDED)
    targets.check_due(now=at(2026, 6, 8, 12))
    assert not Notice.objects.filter(kind=NoticeKind.DESK_DUE).exists()
    # A resolved one neither (it is no longer active).
    Request.objects.filter(pk=req.pk).update(state=RequestState.RESOLVED)
    targets.check_due(now=at(2026, 6, 8, 12))
    assert not Notice.objects.filter(kind=NoticeKind.DESK_DUE).exists()


def test_the_job_is_registered_and_runs(db):
    outcome = run_job(REGISTRY["desk_targets"])
    assert outcome.ran and not outcome.error


def test_closed_day_and_support_hours_writes_are_audited_and_checked(acme, operator):
    closed = hours_services.add_closed_day(
        dt.date(2026, 8, 13), dt.date(2026, 8, 16), " 夏季休業 ", actor=operator
    )
    assert closed.name == "夏季休業"
    hours_services.remove_closed_day(closed, actor=operator)
    hours_services.set_support_hours(
        acme.contracts.get(),
        weekdays=[0, 1, 2, 3, 4, 5],
        opens=dt.time(9),
        closes=dt.time(17),
        actor=operator,
    )
    actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("sequence"))
    assert actions[-3:] == ["closed_day.add", "closed_day.remove", "support_hours.set"]
    with pytest.raises(hours_services.DeskError):
        hours_services.add_closed_day(dt.date(2026, 8, 16), dt.date(2026, 8, 13), "逆")
    with pytest.raises(hours_services.DeskError):
        hours_services.set_support_hours(
            acme.contracts.get(), weekdays=[], opens=dt.time(9), closes=dt.time(17)
        )
    with pytest.raises(hours_services.DeskError):
        hours_services.set_support_hours(
            acme.contracts.get(), weekdays=[0], opens=dt.time(18), closes=dt.time(10)
        )


def test_owner_may_not_write_closed_days(acme, owner):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        hours_services.add_closed_day(dt.date(2026, 8, 13), dt.date(2026, 8, 16), "x", actor=owner)
    assert not ClosedDay.objects.exists()


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("desk", *args, stdout=out)
    return out.getvalue()


@pytest.mark.req("MNT-05")
def test_the_command_line(acme, settings):
    settings.LANGUAGE_CODE = "en"
    assert run("business-time", "--from", "2026-06-05T17:30", "--minutes", "60").strip() == (
        "2026-06-08T10:30+09:00"
    )
    run("closed-days", "add", "2026-12-29", "2027-01-04", "年末年始")
    assert "年末年始" in run("closed-days", "list")
    # 12/28 17:00 + 1 support day (8 h): 1 h on 12/28, 7 h on Tuesday 1/5/2027.
    assert run("business-time", "--from", "2026-12-28T17:00", "--minutes", "1d").strip() == (
        "2027-01-05T17:00+09:00"
    )
    text = run(
        "hours", "acme", "ssl_management", "--set", "mon-fri 09:00-17:30", "--first-response", "4h"
    )
    assert "mon-fri 09:00-17:30" in text and "240" in text
    contract = acme.contracts.get()
    assert contract.support_hours.first_response_minutes == 240
    for bad in [
        ("hours", "acme", "ssl_management", "--set", "fri-mon 10:00-18:00"),
        ("hours", "acme", "ssl_management", "--resolution", "3w"),
        ("hours", "nobody", "ssl_management"),
        ("closed-days", "add", "2026-13-01", "2026-12-31", "x"),
        ("closed-days", "remove", "999"),
        ("business-time", "--from", "yesterday", "--minutes", "60"),
    ]:
        with pytest.raises(CommandError) as caught:
            run(*bad)
        assert caught.value.returncode == 2
        assert "\n" not in str(caught.value)
