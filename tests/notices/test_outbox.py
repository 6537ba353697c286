"""The notice outbox: exactly once, retried with back-off, recorded (NOT-01, NOT-02)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mamori.notices import services
from mamori.notices.models import Notice, NoticeKind, NoticeState, RecipientKind
from mamori.notices.services import Recipient, deliver_due, enqueue


def make_notices(client, recipients=None):
    contact = client.contacts.get(email="yamada@acme.example")
    recipients = recipients or [
        Recipient(RecipientKind.CONTACT, contact.email, "ja", contact=contact)
    ]
    return enqueue(
        NoticeKind.ENDPOINT_RECOVERED,
        "test-event:1",
        recipients,
        {"client": client, "resolved": ["expired"]},
        client=client,
    )


@pytest.mark.req("NOT-02")
def test_it_makes_one_notice_per_event_and_recipient_however_often_asked(acme):
    first = make_notices(acme)
    second = make_notices(acme)
    assert len(first.created) == 1
    assert second.created == [] and second.existing == 1
    assert Notice.objects.count() == 1


@pytest.mark.req("NOT-01")
@pytest.mark.req("NOT-02")
def test_it_sends_a_notice_once_and_records_the_delivery(acme, smtp):
    make_notices(acme)
    report = deliver_due()
    again = deliver_due()
    assert (report.sent, again.sent) == (1, 0)
    assert [m.to for m in smtp.messages] == ["yamada@acme.example"]
    notice = Notice.objects.get()
    assert notice.state == NoticeState.SENT
    assert notice.sent_at is not None and notice.attempts == 1
    assert smtp.messages[0].message["Message-ID"] == notice.message_id
    assert "山田太郎 様" in smtp.messages[0].text()
    assert "解消" in smtp.messages[0].subject


@pytest.mark.req("NOT-02")
def test_it_retries_a_temporary_smtp_failure_with_back_off_and_never_marks_it_sent(acme, smtp):
    make_notices(acme)
    smtp.refuse(1, "451 4.3.0 Mailbox busy")
    report = deliver_due()
    notice = Notice.objects.get()
    assert report.retrying == 1 and smtp.messages == []
    assert notice.state == NoticeState.RETRY and notice.sent_at is None
    assert "451" in notice.last_error
    assert notice.next_attempt_at > timezone.now() + timedelta(seconds=50)
    # Not due yet: nothing happens.
    assert deliver_due().sent == 0
    # Once the back-off has passed it goes out, once.
    report = deliver_due(now=timezone.now() + timedelta(minutes=2))
    assert report.sent == 1 and len(smtp.messages) == 1
    assert Notice.objects.get().state == NoticeState.SENT


@pytest.mark.req("NOT-02")
def test_it_retries_when_the_smtp_server_is_down(acme, settings):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port
    make_notices(acme)
    report = deliver_due()
    notice = Notice.objects.get()
    assert report.retrying == 1
    assert notice.state == NoticeState.RETRY and "Connection" in notice.last_error


@pytest.mark.req("NOT-02")
def test_it_fails_for_good_on_a_permanent_refusal_and_alerts_operators(acme, operator, smtp):
    make_notices(acme)
    smtp.refuse(1, "550 5.1.1 No such user")
    report = deliver_due()
    failed = Notice.objects.get(recipient="yamada@acme.example")
    assert report.failed == 1 and failed.state == NoticeState.FAILED
    alert = Notice.objects.get(kind=NoticeKind.DELIVERY_FAILED, recipient=operator.email)
    assert "yamada@acme.example" in alert.body_text
    assert deliver_due().sent == 1
    assert [m.to for m in smtp.messages] == [operator.email]


@pytest.mark.req("NOT-02")
def test_it_gives_up_after_the_last_attempt(acme, operator, smtp):
    make_notices(acme)
    Notice.objects.update(attempts=services.MAX_ATTEMPTS - 1)
    smtp.refuse(1)
    assert deliver_due().failed == 1
    assert Notice.objects.get(recipient="yamada@acme.example").state == NoticeState.FAILED


@pytest.mark.req("NOT-02")
def test_it_never_sends_a_notice_another_worker_has_claimed(acme, smtp):
    make_notices(acme)
    notice = Notice.objects.get()
    assert services._claim(notice.pk, timezone.now()) is True
    assert services._claim(notice.pk, timezone.now()) is False
    assert deliver_due().sent == 0 and smtp.messages == []


def test_it_returns_a_notice_stuck_in_sending_to_the_queue(acme, smtp):
    make_notices(acme)
    notice = Notice.objects.get()
    services._claim(notice.pk, timezone.now() - timedelta(hours=1))
    Notice.objects.update(claimed_at=timezone.now() - timedelta(hours=1))
    assert deliver_due().sent == 1
    assert Notice.objects.get().state == NoticeState.SENT
