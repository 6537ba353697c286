"""The desk's mailbox (MNT-03) against a real IMAP server (dovecot): client e-mails become
requests, replies thread into them, nothing is made twice, nothing is lost, nothing deleted."""

from __future__ import annotations

import base64
import email.header
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from mamori.clients.models import Contact
from mamori.core.models import AuditEvent
from mamori.desk import mailbox, mailparse
from mamori.desk.mail_models import DeskMailbox, InboundMail, MailOutcome, MailReason
from mamori.desk.models import Channel, Direction, Request, RequestMessage
from mamori.notices import services as notices
from mamori.notices.models import Notice
from mamori.operations import jobs

pytestmark = [pytest.mark.req("MNT-03"), pytest.mark.django_db(databases="__all__")]

SEEN = b"\\Seen"


def jis(text: str) -> str:
    """An encoded word in ISO-2022-JP, as Japanese mail clients write subjects."""
    return email.header.Header(text, "iso-2022-jp").encode()


def jis_mail(
    sender: str,
    subject: str,
    body: str,
    *,
    message_id: str | None,
    headers: str = "",
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    """A mail as a Japanese mail client sends it: ISO-2022-JP subject and body (7bit), a file
    as base64 with an ISO-2022-JP encoded file name."""
    head = f"From: {sender}\r\nTo: desk@example.jp\r\nSubject: {jis(subject)}\r\n"
    head += "Date: Mon, 07 Dec 2026 10:15:00 +0900\r\nMIME-Version: 1.0\r\n"
    if message_id:
        head += f"Message-ID: {message_id}\r\n"
    head += headers
    text = body.replace("\n", "\r\n").encode("iso2022_jp")
    if attachment is None:
        head += (
            "Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n"
        )
        return head.encode() + b"\r\n" + text + b"\r\n"
    name, content = attachment
    data = base64.encodebytes(content).replace(b"\n", b"\r\n")
    return (
        head.encode()
        + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        + b"--b1\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n"
        + b"Content-Transfer-Encoding: 7bit\r\n\r\n"
        + text
        + b"\r\n--b1\r\nContent-Type: application/pdf\r\n"
        + f'Content-Disposition: attachment; filename="{jis(name)}"\r\n'.encode()
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + data
        + b"--b1--\r\n"
    )


def plain_mail(sender: str, subject: str, body: str, *, message_id: str | None, headers=""):
    head = f"From: {sender}\r\nTo: desk@example.jp\r\nSubject: {subject}\r\n"
    if message_id:
        head += f"Message-ID: {message_id}\r\n"
    head += headers + "Content-Type: text/plain; charset=utf-8\r\n"
    head += "Content-Transfer-Encoding: 8bit\r\n"
    return (head + "\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


def poll():
    return mailbox.poll()


def test_a_clients_japanese_email_becomes_a_request_with_its_file(dovecot, acme):
    pdf = b"%PDF-1.4 new company profile"
    uid = dovecot.append(
        jis_mail(
            f"{jis('山田太郎')} <Yamada@ACME.example>",
            "会社概要ページの住所修正のお願い",
            "お世話になっております。\n会社概要ページの住所を新住所に修正してください。",
            message_id="<first@mail.acme.example>",
            attachment=("新住所.pdf", pdf),
        )
    )

    report = poll()

    assert (report.requests, report.replies, report.unmatched, report.failed) == (1, 0, 0, 0)
    req = Request.objects.get()
    assert req.client == acme
    assert req.channel == Channel.EMAIL
    assert req.subject == "会社概要ページの住所修正のお願い"
    assert req.body == "お世話になっております。\n会社概要ページの住所を新住所に修正してください。"
    assert req.contact == Contact.objects.get(email="yamada@acme.example")
    assert "Yamada@ACME.example".lower() in req.requester
    assert not req.confidential
    attachment = req.attachments.get()
    assert (attachment.filename, bytes(attachment.data)) == ("新住所.pdf", pdf)
    assert attachment.secret is None
    message = req.messages.get()
    assert message.message_id == "<first@mail.acme.example>"
    # Read and kept: marked \Seen, never deleted.
    assert dovecot.count() == 1
    assert SEEN in dovecot.flags()[uid]
    assert DeskMailbox.objects.get().last_uid == uid


def test_a_confidential_request_keeps_its_file_encrypted_in_the_vault(dovecot, acme):
    from mamori.vault.services import decrypt_for_export

    secret_file = b"admin password list"
    dovecot.append(
        jis_mail(
            "jane@acme.example",
            "【機密】サーバーの管理者情報",
            "管理者情報を送ります。",
            message_id="<secret@mail.acme.example>",
            attachment=("accounts.pdf", secret_file),
        )
    )

    assert poll().requests == 1

    req = Request.objects.get()
    assert req.confidential
    attachment = req.attachments.get()
    assert attachment.data is None and attachment.secret is not None
    assert secret_file not in bytes(attachment.secret.sealed_value)
    assert decrypt_for_export(attachment.secret) == secret_file


def first_request(dovecot, acme) -> Request:
    dovecot.append(
        plain_mail(
            "yamada@acme.example",
            "トップ画像の差し替え",
            "トップページの画像を差し替えてください。",
            message_id="<ask@mail.acme.example>",
        )
    )
    assert poll().requests == 1
    return Request.objects.get()


def test_a_reply_with_the_token_threads_into_its_request(dovecot, acme):
    req = first_request(dovecot, acme)
    dovecot.append(
        plain_mail(
            "jane@acme.example",
            f"Re: [{req.number}] トップ画像の差し替え",
            "画像はこちらでお願いします。\n\n"
            "2026年12月7日(月) 10:00 Mamori <desk@example.jp>:\n"
            "> ご依頼を受け付けました。\n> 画像をお送りください。\n",
            message_id="<reply1@mail.acme.example>",
        )
    )

    report = poll()

    assert (report.requests, report.replies) == (0, 1)
    assert Request.objects.count() == 1
    reply = req.messages.get(message_id="<reply1@mail.acme.example>")
    assert reply.direction == Direction.INBOUND
    # The quoted history is not repeated in the thread.
    assert reply.body == "画像はこちらでお願いします。"
    assert reply.contact == Contact.objects.get(email="jane@acme.example")


def test_a_token_of_another_clients_request_does_not_thread(dovecot, acme, globex):
    req = first_request(dovecot, acme)
    Contact.objects.create(client=globex, name="Boss", email="boss@globex.example")
    dovecot.append(
        plain_mail(
            "boss@globex.example",
            f"Re: [{req.number}] トップ画像の差し替え",
            "見せてください。",
            message_id="<nosy@globex.example>",
        )
    )

    report = poll()

    assert (report.replies, report.unmatched) == (0, 1)
    assert req.messages.count() == 1
    mail = InboundMail.objects.get(message_id="<nosy@globex.example>")
    assert (mail.outcome, mail.reason, mail.request) == (
        MailOutcome.UNMATCHED,
        MailReason.OTHER_CLIENT,
        None,
    )


def test_a_reply_to_mamoris_notice_threads_in_by_in_reply_to_alone(dovecot, acme):
    req = first_request(dovecot, acme)
    notice = Notice.objects.create(
        key="request-reply-test",
        kind="request_reply",
        channel="email",
        client=acme,
        recipient_kind="contact",
        recipient="yamada@acme.example",
        language="ja",
        subject=f"[{req.number}] ご質問",
        body_text="画像の大きさを教えてください。",
        request=req,
    )
    dovecot.append(
        plain_mail(
            "yamada@acme.example",
            "Re: ご質問",  # the token was removed by the client's mail program
            "横1200pxです。",
            message_id="<answer@mail.acme.example>",
            headers=f"In-Reply-To: {notices.message_id(notice)}\r\n",
        )
    )

    report = poll()

    assert (report.requests, report.replies) == (0, 1)
    assert req.messages.filter(message_id="<answer@mail.acme.example>").exists()


def test_a_re_poll_and_a_second_delivery_create_nothing_twice(dovecot, acme):
    mail = plain_mail(
        "yamada@acme.example",
        "フォームが送信できない",
        "お問い合わせフォームがエラーになります。",
        message_id="<twice@mail.acme.example>",
    )
    dovecot.append(mail)
    dovecot.append(mail)  # the same mail delivered twice

    report = poll()
    assert (report.requests, report.duplicates) == (1, 1)
    again = poll()
    assert (again.requests, again.replies, again.duplicates) == (0, 0, 0)

    # A crash after storing but before recording the UID: the next poll sees them again.
    DeskMailbox.objects.update(last_uid=0)
    after_crash = poll()

    assert (after_crash.requests, after_crash.duplicates) == (0, 2)
    assert Request.objects.count() == 1
    assert RequestMessage.objects.count() == 1


def test_a_mail_without_message_id_is_recognised_by_its_content(dovecot, acme):
    mail = plain_mail("yamada@acme.example", "ID なし", "本文", message_id=None)
    dovecot.append(mail)
    dovecot.append(mail)

    report = poll()

    assert (report.requests, report.duplicates) == (1, 1)
    assert Request.objects.get().messages.get().message_id.endswith("@mamori.invalid>")


def test_an_unknown_senders_mail_waits_and_can_be_assigned(dovecot, acme, operator):
    dovecot.append(
        jis_mail(
            # Raw 8-bit UTF-8 in the header, as some mail programs send it.
            "新担当 <shin@acme.example>",
            "担当者変更のご連絡",
            "今月から担当になりました。",
            message_id="<new-person@acme.example>",
            attachment=("名刺.pdf", b"%PDF card"),
        )
    )

    report = poll()

    assert (report.requests, report.unmatched) == (0, 1)
    assert not Request.objects.exists()
    mail = InboundMail.objects.get()
    assert (mail.outcome, mail.reason, mail.sender) == (
        MailOutcome.UNMATCHED,
        MailReason.UNKNOWN_SENDER,
        "shin@acme.example",
    )
    assert mail.subject == "担当者変更のご連絡"

    req = mailbox.assign(mail, acme, actor=operator)

    assert (req.client, req.subject, req.channel) == (acme, "担当者変更のご連絡", Channel.EMAIL)
    assert req.body == "今月から担当になりました。"
    assert req.attachments.get().filename == "名刺.pdf"
    mail.refresh_from_db()
    assert (mail.outcome, mail.request, mail.assigned_by) == (MailOutcome.ASSIGNED, req, operator)
    assert mail.raw is None
    event = AuditEvent.objects.get(action="desk.mail.assign")
    assert event.actor == operator and event.client_id == acme.pk
    with pytest.raises(mailbox.services.DeskError):
        mailbox.assign(mail, acme, actor=operator)
    assert Request.objects.count() == 1


def test_auto_replies_and_bounces_make_no_request(dovecot, acme):
    req = first_request(dovecot, acme)
    dovecot.append(
        plain_mail(
            "yamada@acme.example",
            f"自動応答: [{req.number}] ご依頼を受け付けました",
            "ただいま休暇中です。",
            message_id="<vacation@mail.acme.example>",
            headers="Auto-Submitted: auto-replied\r\n",
        )
    )
    dovecot.append(
        plain_mail(
            "jane@acme.example",
            "Out of office",
            "I am away.",
            message_id="<ooo@mail.acme.example>",
            headers="Precedence: auto_reply\r\n",
        )
    )
    dovecot.append(
        plain_mail(
            "MAILER-DAEMON@mail.acme.example",
            "Undelivered Mail Returned to Sender",
            "This is the mail system.",
            message_id="<bounce@mail.acme.example>",
        )
    )

    report = poll()

    assert (report.requests, report.replies, report.ignored) == (0, 0, 3)
    assert req.messages.count() == 1
    reasons = sorted(InboundMail.objects.filter(outcome="ignored").values_list("reason", flat=True))
    assert reasons == ["auto_reply", "auto_reply", "bounce"]


def test_a_broken_message_does_not_stop_the_poll(dovecot, acme):
    dovecot.append(
        plain_mail("yamada@acme.example", "一通目", "本文1", message_id="<m1@acme.example>")
    )
    dovecot.append(
        b"From: yamada@acme.example\r\nSubject: broken\r\nMessage-ID: <broken@acme.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all\r\n"
    )
    dovecot.append(
        plain_mail("jane@acme.example", "三通目", "本文3", message_id="<m3@acme.example>")
    )

    report = poll()

    assert (report.requests, report.failed) == (2, 1)
    failed = InboundMail.objects.get(message_id="<broken@acme.example>")
    assert failed.reason == MailReason.MALFORMED
    assert "NoBoundaryInMultipartDefect" in failed.detail
    assert failed.raw is not None  # kept for an operator
    assert all(SEEN in flags for flags in dovecot.flags().values())


def test_a_shift_jis_mail_with_windows_characters_and_an_html_only_mail(dovecot, acme):
    body = "①トップページ\n②会社概要\n㈱アクメ"
    dovecot.append(
        b"From: yamada@acme.example\r\nSubject: =?Shift_JIS?B?"
        + base64.b64encode("修正箇所".encode("cp932"))
        + b"?=\r\nMessage-ID: <sjis@acme.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(body.encode("cp932"))
    )
    dovecot.append(
        b"From: jane@acme.example\r\nSubject: HTML\r\nMessage-ID: <html@acme.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + "<html><head><style>p{}</style></head>"
        "<body><p>バナーを</p><p>差し替え</p></body></html>".encode()
    )

    assert poll().requests == 2

    sjis = Request.objects.get(messages__message_id="<sjis@acme.example>")
    assert (sjis.subject, sjis.body) == ("修正箇所", body)
    assert Request.objects.get(subject="HTML").body == "バナーを\n\n差し替え"


def run(*args: str) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("desk", *args, stdout=out)
    return out.getvalue()


def test_the_poll_command_says_what_it_did(dovecot, acme):
    dovecot.append(
        plain_mail("yamada@acme.example", "依頼", "本文", message_id="<c1@acme.example>")
    )
    dovecot.append(plain_mail("who@else.example", "?", "本文", message_id="<c2@acme.example>"))

    out = run("poll", "--once")

    assert f"Mailbox: desk@example.jp@127.0.0.1:{dovecot.port}/INBOX" in out
    assert "New requests: 1" in out
    assert "Unmatched (for an operator): 1" in out
    assert "Duplicates skipped: 0" in out


def test_the_poll_command_refuses_a_wrong_password_in_one_line(dovecot, settings):
    settings.MAMORI_DESK_IMAP_PASSWORD = "wrong-Pa55word"
    with pytest.raises(CommandError) as caught:
        run("poll", "--once")
    message = str(caught.value)
    assert caught.value.returncode == 2
    assert "refused the user name or password" in message and "\n" not in message
    assert "wrong-Pa55word" not in message


def test_the_poll_command_says_when_the_server_cannot_be_reached(db, settings):
    from tests.support.nginx import free_port

    settings.MAMORI_DESK_IMAP_URL = f"imap://desk@127.0.0.1:{free_port()}/INBOX"
    settings.MAMORI_DESK_IMAP_PASSWORD = "secret-pw"
    with pytest.raises(CommandError) as caught:
        run("poll", "--once")
    assert caught.value.returncode == 2
    assert "cannot connect" in str(caught.value)
    assert "secret-pw" not in str(caught.value)


def test_the_poll_command_without_a_mailbox(db, settings):
    settings.MAMORI_DESK_IMAP_URL = ""
    with pytest.raises(CommandError) as caught:
        run("poll", "--once")
    assert caught.value.returncode == 2 and "MAMORI_DESK_IMAP_URL" in str(caught.value)


def test_the_periodic_job_polls_once_at_a_time(dovecot, acme):
    dovecot.append(
        plain_mail("yamada@acme.example", "依頼", "本文", message_id="<j1@acme.example>")
    )
    job = jobs.REGISTRY["desk_mail_poll"]
    assert job.single_flight

    outcome = jobs.run_job(job)

    assert outcome.ran and not outcome.error
    assert outcome.result.requests == 1
    # Another process holding the mailbox: this poll does nothing.
    DeskMailbox.objects.update(lease_owner="other", lease_until="2999-01-01T00:00:00Z")
    dovecot.append(
        plain_mail("yamada@acme.example", "依頼2", "本文", message_id="<j2@acme.example>")
    )
    assert mailbox.poll().busy
    assert Request.objects.count() == 1


def test_the_job_does_nothing_without_a_mailbox(db, settings):
    settings.MAMORI_DESK_IMAP_URL = ""
    assert mailbox.poll_job() is None


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("pop3://desk@mail.example.jp/", "use imaps:// or imap://"),
        ("imaps://desk:pw@mail.example.jp/INBOX", "not in the URL"),
        ("imaps://mail.example.jp/INBOX", "no user given"),
    ],
)
def test_it_refuses_an_unusable_mailbox_url(url, error):
    with pytest.raises(mailbox.MailboxError, match=error):
        mailbox.parse_url(url, "pw")


def test_plain_imap_is_refused_to_a_remote_server_without_starttls():
    config = mailbox.parse_url("imap://desk%40example.jp@mail.example.jp/INBOX", "pw")
    assert (config.user, config.port, config.folder, config.loopback) == (
        "desk@example.jp",
        143,
        "INBOX",
        False,
    )


@pytest.mark.parametrize(
    ("text", "new"),
    [
        (
            "了解です。\n\nOn Mon, Dec 7, 2026 at 10:00 Mamori <d@x.jp> wrote:\n> 質問\n",
            "了解です。",
        ),
        ("了解です。\n\n-----Original Message-----\nFrom: Mamori\n質問", "了解です。"),
        ("了解です。\n\n-----元のメッセージ-----\n差出人: Mamori", "了解です。"),
        # Answers between the quotes: kept whole.
        (
            "> 画像の大きさは?\n横1200px\n> 形式は?\nPNG",
            "> 画像の大きさは?\n横1200px\n> 形式は?\nPNG",
        ),
        # Nothing but a quote: kept whole.
        ("> 質問", "> 質問"),
    ],
)
def test_it_strips_quoted_history_only_where_it_is_clear(text, new):
    assert mailparse.strip_quoted(text) == new
