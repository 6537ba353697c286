"""The life of a request (MNT-03, MNT-05): the acknowledgement and the operators' notice once,
replies threaded into the client's e-mails, notes kept inside, who may do what."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from mamori.clients.models import Contact
from mamori.desk import services
from mamori.desk.models import Direction, RequestState
from mamori.notices.models import Notice
from mamori.notices.services import message_id
from tests.desk.requests_support import make_request

pytestmark = [pytest.mark.req("MNT-03"), pytest.mark.django_db(databases="__all__")]


@pytest.fixture
def yamada(acme) -> Contact:
    return Contact.objects.get(client=acme, email="yamada@acme.example")


def test_a_new_request_is_acknowledged_to_the_requester_and_told_to_operators_once(
    acme, yamada, operator
):
    operator.email = "ops@provider.example"
    operator.save()
    req = make_request(acme, channel="email", contact=yamada, message_id="<m1@acme.example>")
    again = make_request(acme, channel="email", contact=yamada, message_id="<m1@acme.example>")
    assert again.pk == req.pk
    services.announce_request(req)  # a second call, e.g. a retried poll, sends nothing more
    received = Notice.objects.filter(kind="request_received")
    assert [n.recipient for n in received] == ["yamada@acme.example"]
    ack = received.get()
    assert f"[R-{req.pk}]" in ack.subject
    assert ack.request_id == req.pk
    assert ack.headers["In-Reply-To"] == "<m1@acme.example>"
    new = Notice.objects.filter(kind="request_new")
    assert [n.recipient for n in new] == ["ops@provider.example"]
    assert f"[R-{req.pk}]" in new.get().subject


def test_a_reply_threads_into_the_clients_e_mails_and_opens_the_request(
    acme, yamada, operator, settings
):
    settings.MAMORI_DESK_ADDRESS = "desk@provider.example"
    req = make_request(acme, channel="email", contact=yamada, message_id="<m1@acme.example>")
    services.add_message(
        req, direction="in", body="追記です", message_id="<m2@acme.example>", contact=yamada
    )
    message = services.reply(req, "承知しました。本日中に対応いたします。", operator)
    req.refresh_from_db()
    assert req.state == RequestState.OPEN
    assert req.first_responded_at == message.at
    notices = Notice.objects.filter(kind="request_reply")
    assert [n.recipient for n in notices] == ["yamada@acme.example"]
    notice = notices.get()
    assert message.notice_id == notice.pk
    assert notice.subject.startswith(f"Re: [R-{req.pk}]")
    assert "本日中に対応いたします" in notice.body_text
    assert notice.headers == {
        "In-Reply-To": "<m2@acme.example>",
        "References": "<m1@acme.example> <m2@acme.example>",
        "Reply-To": "desk@provider.example",
    }
    # The second reply refers to the first (our own Message-ID) too; the first response stays.
    first_at = req.first_responded_at
    second = services.reply(req, "完了しました。", operator, is_question=False)
    later = Notice.objects.get(pk=second.notice_id)
    assert later.headers["References"].split() == [
        "<m1@acme.example>",
        "<m2@acme.example>",
        message_id(notice),
    ]
    req.refresh_from_db()
    assert req.first_responded_at == first_at


def test_a_question_is_marked_and_answered_by_the_clients_next_message(acme, yamada, operator):
    req = make_request(acme, contact=yamada)
    question = services.reply(req, "どのページでしょうか？", operator, is_question=True)
    assert question.is_question
    notice = Notice.objects.get(pk=question.notice_id)
    assert "ご確認のお願い" in notice.subject
    services.add_message(req, direction="in", body="会社概要のページです", contact=yamada)
    question.refresh_from_db()
    assert question.answered_at is not None


def test_without_a_contact_the_reply_goes_to_the_portal_user_who_asked(acme, owner, operator):
    owner.email = "boss@acme.example"
    owner.save()
    req = make_request(acme, actor=owner)
    assert req.contact is None
    services.reply(req, "承知しました。", operator)
    assert list(
        Notice.objects.filter(kind="request_reply").values_list("recipient", flat=True)
    ) == ["boss@acme.example"]


def test_a_portal_user_who_is_a_contact_is_the_requests_contact(acme, yamada, owner):
    owner.email = "Yamada@acme.example"
    owner.save()
    req = make_request(acme, actor=owner)
    assert req.contact == yamada


def test_a_phone_request_without_a_contact_is_answered_to_the_contract_contacts(acme, operator):
    Contact.objects.filter(client=acme, email="keiri@acme.example").update(notify=["contracts"])
    req = make_request(acme, actor=operator, channel="phone", requester="佐藤様")
    assert not Notice.objects.filter(kind="request_received").exists()
    services.reply(req, "お電話の件、対応いたしました。", operator)
    assert list(
        Notice.objects.filter(kind="request_reply").values_list("recipient", flat=True)
    ) == ["keiri@acme.example"]


def test_a_note_stays_inside(acme, yamada, operator):
    req = make_request(acme, contact=yamada)
    note = services.add_note(req, "社内メモ: 先方のFTP情報は金庫にあり", operator)
    assert note.direction == Direction.NOTE
    assert not Notice.objects.filter(kind="request_reply").exists()


def test_resolve_close_reopen(acme, operator):
    req = make_request(acme)
    services.resolve(req, operator)
    assert req.state == RequestState.RESOLVED and req.resolved_at
    services.reopen(req, operator)
    assert req.state == RequestState.OPEN and req.resolved_at is None
    services.close(req, operator)
    assert req.state == RequestState.CLOSED and req.closed_at
    with pytest.raises(services.DeskError):
        services.reply(req, "…", operator)
    with pytest.raises(services.DeskError):
        services.close(req, operator)


def test_the_client_replying_to_a_resolved_request_opens_it_again(acme, owner, operator):
    req = make_request(acme, actor=owner)
    services.resolve(req, operator)
    services.client_reply(req, "まだ直っていません", owner)
    req.refresh_from_db()
    assert req.state == RequestState.OPEN


def test_who_may_do_what(acme, owner, member, outsider, operator, subcontractor):
    req = make_request(acme, actor=owner)
    for user in (member, outsider):
        with pytest.raises(PermissionDenied):
            make_request(acme, actor=user)
        with pytest.raises(PermissionDenied):
            services.client_reply(req, "x", user)
    for user in (owner, member, outsider):
        with pytest.raises(PermissionDenied):
            services.reply(req, "x", user)
        with pytest.raises(PermissionDenied):
            services.add_note(req, "x", user)
        with pytest.raises(PermissionDenied):
            services.resolve(req, user)
    services.reply(req, "assigned subcontractor may answer", subcontractor)
    with pytest.raises(services.DeskError):
        services.assign(req, owner, operator)
    services.assign(req, subcontractor, operator)
    assert req.assignee == subcontractor


@pytest.mark.req("MNT-05")
def test_the_queue_puts_what_is_due_first_on_top_and_no_target_last(acme, operator):
    import datetime as dt

    from django.utils import timezone

    from mamori.desk.models import Request

    now = timezone.now()
    no_target = make_request(acme, subject="no target")
    later = make_request(acme, subject="later")
    sooner = make_request(acme, subject="sooner")
    answered = make_request(acme, subject="answered, resolution due")
    done = make_request(acme, subject="done")
    Request.objects.filter(pk=later.pk).update(first_response_due=now + dt.timedelta(hours=5))
    Request.objects.filter(pk=sooner.pk).update(first_response_due=now - dt.timedelta(hours=1))
    Request.objects.filter(pk=answered.pk).update(
        first_response_due=now - dt.timedelta(days=3),
        first_responded_at=now - dt.timedelta(days=3),
        resolution_due=now + dt.timedelta(hours=2),
    )
    # Without a target (its due times not set): whatever today's business hours would give it.
    Request.objects.filter(pk=no_target.pk).update(first_response_due=None, resolution_due=None)
    services.resolve(done, operator)
    queue = list(services.queue(Request.objects.all()))
    assert [r.subject for r in queue] == [
        "sooner",
        "answered, resolution due",
        "later",
        "no target",
    ]
    services.mark_late(queue, now)
    assert [r.late for r in queue] == [True, False, False, False]
    del no_target
