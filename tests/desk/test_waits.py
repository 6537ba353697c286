"""Waiting on the client (CT-09), the one-month rule and suspension (NOT-05, 004 §44.3).

Known answers come from the contract and the calendar: "1ヶ月を経過しても" counted as the Civil
Code counts periods (the day asked is not counted; the month ends on the corresponding day, or
the month's last day), so a question asked on 15 January is unanswered for a month from 16
February, and one asked on 31 January from 1 March (February 2026 has 28 days).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from mamori.clients.models import ClientWait, Contact
from mamori.clients.waits import client_delay
from mamori.core.models import AuditEvent
from mamori.desk import waits
from mamori.desk.models import Direction, Request, RequestMessage, RequestState
from mamori.desk.services import DeskError, add_message, create_request
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind

pytestmark = pytest.mark.django_db(databases="__all__")

JST = ZoneInfo("Asia/Tokyo")


def jst(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)


@pytest.fixture
def req(acme) -> Request:
    jane = Contact.objects.get(client=acme, name="Jane Smith")
    return create_request(
        acme,
        channel="email",
        subject="Swap the photo on the staff page",
        body="Please swap the photo.",
        contact=jane,
        received_at=jst(2026, 1, 10, 9, 0),
    )


def ask(req: Request, at: dt.datetime, body: str = "Which photo should we use?") -> RequestMessage:
    return RequestMessage.objects.create(
        request=req, direction=Direction.OUTBOUND, at=at, body=body, is_question=True
    )


@pytest.mark.req("NOT-05")
@pytest.mark.parametrize(
    ("asked", "last_quiet", "flagged"),
    [
        # The corresponding day of the next month: flagged the day after it.
        (jst(2026, 1, 15, 17, 30), jst(2026, 2, 15, 23, 59), jst(2026, 2, 16, 0, 0)),
        # No 31 February: the month ends on its last day, the 28th (2026 is no leap year).
        (jst(2026, 1, 31, 10, 0), jst(2026, 2, 28, 23, 59), jst(2026, 3, 1, 0, 0)),
        # No 29 February in 2026 either.
        (jst(2026, 1, 29, 10, 0), jst(2026, 2, 28, 23, 59), jst(2026, 3, 1, 0, 0)),
        # A leap year has one: asked 29 January 2028, flagged from 1 March (29 Feb is the end).
        (jst(2028, 1, 29, 10, 0), jst(2028, 2, 29, 23, 59), jst(2028, 3, 1, 0, 0)),
        # Late in the evening in Tokyo is still that day (the UTC date is the day before).
        (jst(2026, 3, 31, 8, 0), jst(2026, 4, 30, 23, 59), jst(2026, 5, 1, 0, 0)),
    ],
)
def test_a_question_is_unanswered_for_a_month_from_the_day_after_the_month_ends(
    req, asked, last_quiet, flagged
):
    question = ask(req, asked)
    assert waits.month_passed_at(asked) == flagged
    assert [u.obj for u in waits.unanswered(None, last_quiet)] == []
    found = waits.unanswered(None, flagged)
    assert [(u.kind, u.obj) for u in found] == [("question", question)]
    assert found[0].request == req


@pytest.mark.req("NOT-05")
def test_the_operators_are_told_once_across_runs_and_an_answer_stops_the_flag(req, operator):
    question = ask(req, jst(2026, 1, 31, 10, 0))
    assert waits.flag_unanswered(jst(2026, 2, 28, 12, 0)) == 0
    assert waits.flag_unanswered(jst(2026, 3, 1, 9, 0)) == 1  # one operator
    assert waits.flag_unanswered(jst(2026, 3, 2, 9, 0)) == 0
    assert waits.flag_unanswered(jst(2026, 4, 2, 9, 0)) == 0
    sent = Notice.objects.filter(kind=NoticeKind.DESK_UNANSWERED)
    assert [n.recipient for n in sent] == [operator.email]
    assert sent[0].request == req
    assert "Which photo should we use?" in sent[0].body_text

    # The client answers (its next inbound message): nothing is unanswered any more.
    add_message(req, direction=Direction.INBOUND, body="The second one.", at=jst(2026, 3, 3, 9))
    question.refresh_from_db()
    assert question.answered_at == jst(2026, 3, 3, 9)
    assert waits.unanswered(None, jst(2026, 4, 10)) == []


@pytest.mark.req("NOT-05")
def test_a_wait_on_the_client_older_than_a_month_is_flagged_too(req, operator):
    wait = waits.wait_on_client(req, operator, "The new photo", since=jst(2026, 1, 20, 10))
    assert waits.unanswered(None, jst(2026, 2, 20, 23, 59)) == []
    found = waits.unanswered(None, jst(2026, 2, 21, 0, 0))
    assert [(u.kind, u.obj) for u in found] == [("wait", wait)]
    waits.end_wait(req, operator, until=jst(2026, 2, 22, 10))
    assert waits.unanswered(None, jst(2026, 3, 1)) == []


@pytest.mark.req("NOT-05")
def test_suspension_is_recorded_and_told_to_the_client_once(req, operator, smtp):
    notices.deliver_due()  # the request's acknowledgement and the operators' "new request"
    before = len(smtp.messages)
    suspensions = Notice.objects.filter(kind=NoticeKind.REQUEST_SUSPENDED)
    ask(req, jst(2026, 1, 31, 10, 0))
    with pytest.raises(DeskError):  # not a month yet: refused, nothing told
        waits.suspend(req, operator, "No answer", now=jst(2026, 2, 28, 12, 0))
    assert Request.objects.get(pk=req.pk).state == RequestState.NEW
    assert not suspensions.exists()

    now = timezone.now()
    ask(req, now - dt.timedelta(days=62))
    suspended = waits.suspend(req, operator, "No answer for two months")
    assert suspended.state == RequestState.SUSPENDED
    assert suspended.suspended_at is not None
    assert suspended.suspension_reason == "No answer for two months"
    # A second click finds it suspended: refused, nothing sent again.
    with pytest.raises(DeskError):
        waits.suspend(req, operator, "No answer for two months")
    assert AuditEvent.objects.filter(action="request.suspend", object_id=str(req.pk)).count() == 1

    report = notices.deliver_due()
    assert report.sent == 1 and suspensions.count() == 1
    received = smtp.messages[before:]
    assert len(received) == 1
    assert received[0].rcpt_tos == ["jane@acme.example"]
    mail = received[0].message
    assert f"[{req.number}]" in mail["Subject"]
    assert "No answer for two months" in mail.get_body(("plain",)).get_content()
    notices.deliver_due()
    assert len(smtp.messages) == before + 1

    resumed = waits.resume(req, operator)
    assert resumed.state == RequestState.NEW
    with pytest.raises(DeskError):
        waits.resume(req, operator)


def test_only_the_providers_staff_may_suspend(req, owner, member):
    ask(req, timezone.now() - dt.timedelta(days=62))
    for user in (owner, member):
        with pytest.raises(PermissionDenied):
            waits.suspend(req, user, "No answer")
    assert Request.objects.get(pk=req.pk).state == RequestState.NEW


@pytest.mark.req("CT-09")
def test_client_delay_clips_each_wait_to_the_month_in_tokyo_time(acme, req, operator):
    # 28 Feb 20:00 – 3 Mar 10:00 JST: 2 days 10 hours of it in March (from 1 Mar 00:00 JST,
    # which is 28 Feb 15:00 UTC).
    ClientWait.objects.create(
        client=acme,
        target=req,
        awaited="The photo",
        since=jst(2026, 2, 28, 20, 0),
        until=jst(2026, 3, 3, 10, 0),
    )
    # 31 Mar 22:00 JST, still open: 2 hours of it in March.
    ClientWait.objects.create(
        client=acme, target=req, awaited="Access to the CMS", since=jst(2026, 3, 31, 22, 0)
    )
    now = jst(2026, 4, 5, 12, 0)
    march = client_delay(acme, dt.date(2026, 3, 1), now=now)
    assert len(march) == 1
    assert march[0].task == req and march[0].kind == "desk.request"
    assert [(s.awaited, s.duration) for s in march[0].spans] == [
        ("The photo", dt.timedelta(days=2, hours=10)),
        ("Access to the CMS", dt.timedelta(hours=2)),
    ]
    assert march[0].total == dt.timedelta(days=2, hours=12)
    february = client_delay(acme, dt.date(2026, 2, 14), now=now)
    assert february[0].total == dt.timedelta(hours=4)
    april = client_delay(acme, dt.date(2026, 4, 1), now=now)
    assert april[0].total == dt.timedelta(days=4, hours=12)
    assert client_delay(acme, dt.date(2026, 1, 1), now=now) == []


@pytest.mark.req("CT-09")
def test_a_renewal_on_hold_and_a_reissue_task_count_as_the_clients_delay(acme, operator):
    from mamori.lifecycle import renewal, tasks
    from mamori.lifecycle.models import ManagedCertificate, TaskKind

    managed = ManagedCertificate.objects.create(client=acme, name="www", names=["www.acme.example"])
    renewal.put_on_hold(managed, "payment", "The invoice of March", actor=operator, notify=False)
    renewal.release_hold(managed, actor=operator)
    task, _ = tasks.open_task(acme, TaskKind.values[0], "reissue:test", "Re-issue www")
    tasks.set_waiting(task, "information", "The new company name", actor=operator)
    delay = client_delay(acme, timezone.localdate(), now=timezone.now() + dt.timedelta(hours=1))
    assert {d.kind: [s.awaited for s in d.spans] for d in delay} == {
        "lifecycle.managedcertificate": ["The invoice of March"],
        "lifecycle.task": ["The new company name"],
    }
    assert delay[0].spans[0].until is not None  # released
    tasks.close_task(task, actor=operator, resolution="Re-issued")
    assert not ClientWait.objects.of(task).open().exists()


def test_a_request_waits_once_and_not_before_it_was_received(req, operator):
    with pytest.raises(DeskError) as before:
        waits.wait_on_client(req, operator, "x", since=jst(2026, 1, 1, 9, 0))
    assert before.value.field == "since"
    waits.wait_on_client(req, operator, "The photo")
    with pytest.raises(DeskError):
        waits.wait_on_client(req, operator, "The photo again")
    waits.end_wait(req, operator)
    with pytest.raises(DeskError) as empty:
        waits.wait_on_client(req, operator, "  ")
    assert empty.value.field == "awaited"
    assert ClientWait.objects.of(req).count() == 1
