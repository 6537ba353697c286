"""The unmatched e-mail page and its assign action (MNT-03): provider staff who see every
client assign a mail to a client, audited; everyone else is refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.desk.mail_models import InboundMail, MailOutcome
from mamori.desk.models import Request
from tests.web.cases_desk_mail import acme_unmatched_mail

pytestmark = [pytest.mark.req("MNT-03"), pytest.mark.django_db(databases="__all__")]


@pytest.mark.parametrize("role", ["operator", "provider_admin"])
def test_staff_assign_an_unmatched_mail_to_a_client(role, acme, client, request):
    user = request.getfixturevalue(role)
    mail = acme_unmatched_mail()
    client.force_login(user)

    page = client.get(reverse("desk_mail_list"))
    assert page.status_code == 200
    assert "new-person@acme.example" in page.content.decode()

    response = client.post(reverse("desk_mail_assign", args=[mail.pk]), {"client": acme.code})

    assert response.status_code == 302
    req = Request.objects.get()
    assert (req.client, req.subject, req.requester) == (
        acme,
        "www.acme.example",
        "new-person@acme.example",
    )
    mail.refresh_from_db()
    assert (mail.outcome, mail.request) == (MailOutcome.ASSIGNED, req)
    event = AuditEvent.objects.get(action="desk.mail.assign")
    assert event.actor == user and event.client_id == acme.pk
    # Assigned once: a second post changes nothing.
    client.post(reverse("desk_mail_assign", args=[mail.pk]), {"client": acme.code})
    assert Request.objects.count() == 1


@pytest.mark.parametrize("role", ["owner", "member", "subcontractor", "outsider"])
def test_no_one_else_sees_or_assigns_unmatched_mail(role, acme, globex, client, request):
    mail = acme_unmatched_mail()
    client.force_login(request.getfixturevalue(role))

    assert client.get(reverse("desk_mail_list")).status_code == 403
    response = client.post(reverse("desk_mail_assign", args=[mail.pk]), {"client": acme.code})

    assert response.status_code == 403
    assert not Request.objects.exists()
    assert InboundMail.objects.get().outcome == MailOutcome.UNMATCHED
    assert not AuditEvent.objects.filter(action="desk.mail.assign").exists()


def test_assigning_needs_a_client(acme, operator, client):
    mail = acme_unmatched_mail()
    client.force_login(operator)
    response = client.post(
        reverse("desk_mail_assign", args=[mail.pk]), {"client": "nobody"}, follow=True
    )
    page = response.content.decode()
    assert "Choose the client" in page or "メールの送り主の顧客を選んでください。" in page
    assert not Request.objects.exists()


def test_a_mail_that_cannot_be_read_is_assigned_with_the_original_attached(acme, operator):
    from mamori.desk import mailbox

    raw = b"From: x@acme.example\r\nContent-Type: multipart/mixed\r\n\r\nbroken\r\n"
    assert mailbox.take(raw) == MailOutcome.FAILED
    mail = InboundMail.objects.get()

    req = mailbox.assign(mail, acme, actor=operator)

    attachment = req.attachments.get()
    assert (attachment.filename, bytes(attachment.data)) == ("original.eml", raw)
