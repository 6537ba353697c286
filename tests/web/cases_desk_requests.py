"""Tenancy cases of the request pages of the desk (see tests/web/tenancy.py)."""

from __future__ import annotations

from mamori.clients.models import Client
from mamori.desk import services
from mamori.desk.models import Request, RequestAttachment, RequestMessage
from tests.web.tenancy import ACME_EDITORS, ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

# Who files a request for acme (desk.services.may_ask): its administrator, the provider's
# administrators and operators (a phone call); not its viewer, not the subcontractor.
ASKERS = frozenset({"owner", "operator", "provider_admin"})
# Who works on acme's requests: the provider's staff who see acme.
STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_request() -> Request:
    acme = Client.objects.get(code="acme")
    req = Request.objects.filter(client=acme, subject="www.acme.example の文言修正").first()
    if req is None:
        req = services.create_request(
            acme,
            channel="email",
            subject="www.acme.example の文言修正",
            body="会社概要の誤字",
            requester="Jane Smith <jane@acme.example>",
        )
    return req


def acme_attachment() -> RequestAttachment:
    req = acme_request()
    return req.attachments.first() or services.add_attachment(
        req, filename="acme-before.txt", content=b"acme: the text before", content_type="text/plain"
    )


def request_rows():
    acme_request()
    return [
        list(Request.objects.values().order_by("pk")),
        list(RequestMessage.objects.values().order_by("pk")),
    ]


CASES: dict[str, Case] = {
    # A list: the lambda makes acme's request so that the list has it, and names no object.
    "desk_queue": Case(LIST, lambda s: (acme_request(), {})[1], readers=ACME_PEOPLE),
    "request_new": Case(
        FORM,
        lambda s: {"code": s.acme.code},
        post=lambda s: {
            "subject": "お問い合わせフォームが送信できない",
            "body": "送信ボタンを押すとエラーになります。",
            "requester": "佐藤様",
            "channel": "phone",
        },
        writers=ASKERS,
        snapshot=request_rows,
    ),
    "request_detail": Case(PAGE, lambda s: {"pk": acme_request().pk}, readers=ACME_PEOPLE),
    "request_message": Case(
        ACTION,
        lambda s: {"pk": acme_request().pk},
        post=lambda s: {"kind": "reply", "body": "承知しました。"},
        writers=ACME_EDITORS,
        snapshot=request_rows,
    ),
    "request_action": Case(
        ACTION,
        lambda s: {"pk": acme_request().pk},
        post=lambda s: {"action": "resolve"},
        writers=STAFF,
        snapshot=request_rows,
    ),
    "attachment_download": Case(
        PAGE, lambda s: {"pk": acme_attachment().pk}, readers=ACME_PEOPLE, shows_acme=False
    ),
}
