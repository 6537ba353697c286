"""The request pages (MNT-03): the portal files a request with files, the client reads the
conversation without the internal notes, its viewer reads but cannot write, the operator
answers from the desk; confidential files come out of the vault only with a purpose."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.desk import services
from mamori.desk.models import Request, RequestAttachment
from tests.desk.requests_support import make_request

pytestmark = [pytest.mark.req("MNT-03"), pytest.mark.django_db(databases="__all__")]


def test_a_client_admin_files_a_request_with_a_file_in_the_portal(acme, owner, client):
    client.force_login(owner)
    page = client.get(reverse("desk_queue"))
    assert reverse("request_new", args=["acme"]) in page.content.decode()
    response = client.post(
        reverse("request_new", args=["acme"]),
        {
            "subject": "採用ページの写真を差し替えたい",
            "body": "添付の写真に差し替えてください。",
            "files": [SimpleUploadedFile("photo.jpg", b"\xff\xd8jpeg", "image/jpeg")],
        },
    )
    req = Request.objects.get()
    assert response.status_code == 302 and response["Location"] == req.get_absolute_url()
    assert req.channel == "portal" and req.created_by == owner
    (attachment,) = req.attachments.all()
    assert attachment.filename == "photo.jpg" and bytes(attachment.data) == b"\xff\xd8jpeg"
    download = client.get(reverse("attachment_download", args=[attachment.pk]))
    assert download.content == b"\xff\xd8jpeg"
    assert download["Content-Disposition"].startswith("attachment;")


def test_the_form_says_what_is_missing(acme, owner, client):
    client.force_login(owner)
    response = client.post(reverse("request_new", args=["acme"]), {"subject": "", "body": ""})
    assert response.status_code == 200
    assert b"errors" in response.content
    assert not Request.objects.exists()


def test_the_client_never_sees_internal_notes(acme, owner, member, operator, client):
    req = make_request(acme, actor=owner)
    services.add_note(req, "社内メモ：先方の担当者は気難しい", operator)
    services.reply(req, "承知しました。", operator)
    for user in (owner, member):
        client.force_login(user)
        body = client.get(req.get_absolute_url()).content.decode()
        assert "承知しました。" in body
        assert "社内メモ" not in body
    client.force_login(operator)
    assert "社内メモ" in client.get(req.get_absolute_url()).content.decode()


def test_a_note_s_file_is_not_the_client_s_to_download(acme, owner, operator, client):
    req = make_request(acme, actor=owner)
    note = services.add_note(req, "見積の下書き", operator)
    attachment = services.add_attachment(req, filename="draft.txt", content=b"x", message=note)
    client.force_login(owner)
    assert "draft.txt" not in client.get(req.get_absolute_url()).content.decode()
    assert client.get(reverse("attachment_download", args=[attachment.pk])).status_code == 403


def test_a_viewer_reads_but_cannot_write(acme, member, client):
    req = make_request(acme)
    client.force_login(member)
    page = client.get(req.get_absolute_url()).content.decode()
    assert reverse("request_message", args=[req.pk]) not in page
    response = client.post(reverse("request_message", args=[req.pk]), {"body": "やっぱり"})
    assert response.status_code == 403
    assert client.get(reverse("request_new", args=["acme"])).status_code == 403
    assert req.messages.count() == 1


def test_the_client_writes_and_the_operator_answers_from_the_desk(acme, owner, operator, client):
    req = make_request(acme, actor=owner)
    client.force_login(owner)
    client.post(reverse("request_message", args=[req.pk]), {"body": "急ぎでお願いします"})
    assert req.messages.filter(direction="in", body="急ぎでお願いします").exists()
    client.force_login(operator)
    queue = client.get(reverse("desk_queue")).content.decode()
    assert req.subject in queue
    client.post(
        reverse("request_message", args=[req.pk]),
        {"kind": "question", "body": "どの写真でしょうか？"},
    )
    question = req.messages.get(direction="out")
    assert question.is_question and question.notice_id
    client.post(reverse("request_action", args=[req.pk]), {"action": "resolve"})
    req.refresh_from_db()
    assert req.state == "resolved"
    assert req.subject not in client.get(reverse("desk_queue")).content.decode()
    everything = client.get(reverse("desk_queue"), {"state": "all"}).content.decode()
    assert req.subject in everything


def test_a_phone_request_from_the_client_page(acme, operator, client):
    client.force_login(operator)
    page = client.get(reverse("client_detail", args=["acme"])).content.decode()
    assert reverse("request_new", args=["acme"]) in page
    response = client.post(
        reverse("request_new", args=["acme"]),
        {"subject": "電話: サイトが遅い", "body": "昼頃から遅い", "channel": "phone"},
    )
    assert response.status_code == 200  # the caller's name is missing
    assert not Request.objects.exists()
    client.post(
        reverse("request_new", args=["acme"]),
        {
            "subject": "電話: サイトが遅い",
            "body": "昼頃から遅い",
            "channel": "phone",
            "requester": "佐藤様",
        },
    )
    req = Request.objects.get()
    assert (req.channel, req.requester) == ("phone", "佐藤様")
    assert (
        "電話: サイトが遅い" in client.get(reverse("client_detail", args=["acme"])).content.decode()
    )


def test_a_confidential_file_is_read_from_the_vault_with_a_purpose(acme, owner, operator, client):
    operator.assigned_clients.add(acme)
    req = make_request(acme, actor=owner, confidential=True)
    attachment = services.add_attachment(
        req, filename="ftp.txt", content=b"user: acme / pass: hunter2", actor=owner
    )
    assert attachment.encrypted and attachment.data is None
    assert b"hunter2" not in bytes(
        RequestAttachment.objects.values_list("data", flat=True).get(pk=attachment.pk) or b""
    )
    url = reverse("attachment_download", args=[attachment.pk])
    client.force_login(owner)
    assert b"hunter2" not in client.get(url).content
    assert client.post(url, {"purpose": "見たい"}).status_code == 403
    client.force_login(operator)
    form = client.get(url)
    assert b"hunter2" not in form.content and b"purpose" in form.content
    assert b"hunter2" not in client.post(url, {"purpose": " "}).content
    response = client.post(url, {"purpose": "FTP の設定変更のため"})
    assert response.content == b"user: acme / pass: hunter2"
    event = AuditEvent.objects.filter(action="secret.reveal").get()
    assert event.changes["purpose"] == "FTP の設定変更のため"
