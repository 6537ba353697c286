"""Notices carry names exactly as they were entered (security review, issue 13).

Subjects, plain-text bodies and chat messages are plain text: a client called ``R&D <Tokyo>``
must read ``R&D <Tokyo>`` there, not ``R&amp;D &lt;Tokyo&gt;``. Only the HTML part is HTML,
and it escapes the name exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest
from django.utils import timezone
from django.utils.html import escape

from mamori.inventory.models import Endpoint
from mamori.notices import services
from mamori.notices.models import Channel, NoticeKind, RecipientKind
from tests.notices.test_channels import hook_url, receiver  # noqa: F401

pytestmark = [pytest.mark.req("NOT-01"), pytest.mark.django_db(databases="__all__")]

HOSTILE = "R&D <b>\"x\"</b> 'y'"
ENTITIES = ("&amp;", "&lt;", "&gt;", "&quot;", "&#x27;", "&#39;")
# A link whose query string has an ampersand: plain text must keep it as it is, too.
LINK = "https://mamori.example/approvals/7/?token=abc&lang=ja"


def ns(**fields) -> SimpleNamespace:
    return SimpleNamespace(**fields)


def url(path: str):
    return lambda: path


def hostile_context() -> dict:
    """What the notices of every kind are given, every name in it hostile."""
    at = timezone.now()
    certificate = ns(
        subject_cn=HOSTILE,
        subject=HOSTILE,
        sans=[HOSTILE, "www.example.jp"],
        issuer_cn=HOSTILE,
        issuer=HOSTILE,
        not_after=at + dt.timedelta(days=5),
        serial="0A1B2C",
    )
    endpoint = ns(label=HOSTILE, host="www.example.jp", get_absolute_url=url("/endpoints/1/"))
    managed = ns(
        name=HOSTILE, common_name=HOSTILE, names=[HOSTILE], get_absolute_url=url("/managed/1/")
    )
    check = ns(
        name=HOSTILE,
        get_kind_display=url("HTTPS"),
        failures_to_confirm=3,
        last_result=ns(detail=HOSTILE),
        get_absolute_url=url("/monitoring/checks/1/"),
    )
    return {
        "client": ns(name=HOSTILE, code="acme"),
        "certificate": certificate,
        "previous": certificate,
        "endpoint": endpoint,
        "endpoints": [endpoint],
        "days_left": 5,
        "threshold": 30,
        "managed": managed,
        "approval": ns(requested_at=at),
        "approval_url": LINK,
        "managed_url": LINK,
        "renew_at": at,
        "targets": [HOSTILE],
        "status": ns(revoked_at=at, reason=HOSTILE, source="ocsp"),
        "channel": ns(label=HOSTILE, get_kind_display=url("Webhook")),
        "notice": ns(recipient=HOSTILE, subject=HOSTILE, created_at=at, attempts=9),
        "error": HOSTILE,
        "domain": HOSTILE,
        "expires_at": at.date(),
        "registrar": HOSTILE,
        "check": check,
        "problems": [{"code": "expired", "detail": HOSTILE}],
        "event": ns(created_at=at),
        "resolved": ["expired"],
        "incident": ns(
            title=HOSTILE,
            started_at=at,
            confirmed_at=at,
            recovered_at=at,
            downtime=dt.timedelta(minutes=75),
            get_cause_display=url(HOSTILE),
            get_absolute_url=url("/monitoring/incidents/1/"),
        ),
        "failure": ns(
            get_kind_display=url(HOSTILE), message=HOSTILE, first_at=at, next_retry_at=at
        ),
        "window": ns(title=HOSTILE, description=HOSTILE),
        "job": ns(name=HOSTILE, repository=HOSTILE),
        "run": ns(
            get_kind_display=url(HOSTILE),
            get_failure_display=url(HOSTILE),
            due_at=at,
            started_at=at,
            exit_code=1,
            error=HOSTILE,
        ),
        "starts": at,
        "ends": at + dt.timedelta(hours=2),
        "site": ns(name=HOSTILE, url=LINK),
        "cancelled": False,
        "held": 12,
        "batch": 40,
        "references": True,
        "details": [HOSTILE],
        "at": at,
        "awaiting": HOSTILE,
        "note": HOSTILE,
        "since": at,
        "task": ns(
            title=HOSTILE,
            get_kind_display=url(HOSTILE),
            created_at=at,
            managed=managed,
            certificate=certificate,
            site=ns(name=HOSTILE),
            description=HOSTILE,
            get_absolute_url=url("/tasks/1/"),
        ),
        "final": True,
        "contract": ns(
            title=HOSTILE, get_type_display=url(HOSTILE), get_absolute_url=url("/clients/acme/")
        ),
        "deadline": at.date(),
        "term_end": at.date(),
        "next_term": ns(start=at.date(), end=at.date()),
        "invoice": ns(
            number="INV-2026-0005",
            month=at.date(),
            issue_date=at.date(),
            due_date=at.date(),
            total=84188,
            currency="JPY",
            corrects=ns(number="INV-2026-0004", issue_date=at.date()),
        ),
        "url": LINK,
        "credit_note": False,
        # The software inventory (software_accounts, software_eol).
        "server": ns(name=HOSTILE, pk=1),
        "events": [
            ns(subject="key", change="added", username=HOSTILE, detail=HOSTILE, comment=HOSTILE)
        ],
        "product": HOSTILE,
        "version": HOSTILE,
        "cycle": HOSTILE,
        "eol": at.date(),
        "fetched_at": at,
        # The desk's requests (request_received, request_new, request_reply, desk_due).
        "req": ns(
            number="R-12",
            subject=HOSTILE,
            contract_id=3,
            contact=ns(name=HOSTILE),
            requester=HOSTILE,
            received_at=at,
            first_response_due=at,
            get_channel_display=url(HOSTILE),
            get_absolute_url=url("/desk/requests/12/"),
        ),
        "message": ns(body=HOSTILE, is_question=True),
        # desk_due (desk/targets.py)
        "target": "first_response",
        "due": at,
        "late": False,
        "minutes": 45,
        # The desk's waits (NOT-05) and personal-data incidents (ACC-04).
        "task_label": HOSTILE,
        "what": HOSTILE,
        "asked_at": at,
        "question": True,
        "reason": HOSTILE,
        "suspended_at": at,
        "data_incident": ns(
            get_kind_display=url(HOSTILE),
            what=HOSTILE,
            whose=HOSTILE,
            occurred_at=at,
            discovered_at=at,
            measures=HOSTILE,
        ),
        "estimate": ns(
            number="EST-2026-0001",
            title=HOSTILE,
            total=149850,
            currency="JPY",
            issue_date=at.date(),
            valid_until=at.date(),
            request=ns(number="R-7"),
        ),
        # Vulnerabilities and updates (MNT-02: vulnerability_found, update_performed).
        "findings": [
            ns(
                get_level_display=url(HOSTILE),
                advisory=ns(osv_id=HOSTILE),
                package=HOSTILE,
                installed_version=HOSTILE,
                official_fix=True,
                fixed_version=HOSTILE,
            )
        ],
        "count": 1,
        "fixable": 1,
        "more": 2,
        "target_name": HOSTILE,
        "record": ns(
            kind="urgent",
            package=HOSTILE,
            from_version=HOSTILE,
            to_version=HOSTILE,
            performed_at=at,
            advisories=[HOSTILE],
            reason=HOSTILE,
        ),
        # The operator's own text of an announcement, in each language (NOT-04).
        "announcement": ns(
            kind="terms_change",
            effective_on=at.date(),
            subject_ja=HOSTILE,
            subject_en=HOSTILE,
            body_ja=HOSTILE,
            body_en=HOSTILE,
        ),
        # The monthly report (RPT-01): the month and the version.
        "month": at.date(),
        "report_version": 2,
        "corrected": True,
    }


RECIPIENTS = {
    "contact": ns(kind=RecipientKind.CONTACT, contact=ns(name=HOSTILE), user=None),
    "operator": ns(kind=RecipientKind.OPERATOR, contact=None, user=None),
}


def assert_plain(text: str, where: str) -> None:
    assert not [e for e in ENTITIES if e in text], f"{where} is HTML-escaped:\n{text}"


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("kind", NoticeKind.values)
def test_every_notice_kind_carries_names_verbatim_and_escapes_them_once_in_html(
    settings, kind, language
):
    settings.MAMORI_PROVIDER_NAME = HOSTILE
    for who, recipient in RECIPIENTS.items():
        rendered = services.render(kind, language, {**hostile_context(), "recipient": recipient})
        where = f"{kind}.{language} to a {who}"
        assert HOSTILE in rendered.text, f"{where}: the name is missing from the text"
        assert_plain(rendered.subject, f"{where}: the subject")
        assert_plain(rendered.text, f"{where}: the text")
        if kind != NoticeKind.MONITORING_OUTAGE:  # its subject names no one
            assert HOSTILE in rendered.subject, f"{where}: {rendered.subject}"
        # The HTML part: the text, escaped once; never raw, never twice.
        assert escape(HOSTILE) in rendered.html
        assert HOSTILE not in rendered.html
        assert escape(escape(HOSTILE)) not in rendered.html
        assert "&amp;amp;" not in rendered.html and "&amp;lt;" not in rendered.html


@pytest.fixture
def hostile_client(acme, settings):
    settings.MAMORI_PROVIDER_NAME = HOSTILE
    acme.name = HOSTILE
    acme.save()
    return acme


def replaced_notice(client) -> services.EnqueueResult:
    endpoint = Endpoint.objects.create(client=client, host="www.acme.example")
    certificate = hostile_context()["certificate"]
    return services.enqueue(
        NoticeKind.CERT_REPLACED,
        "replaced:1",
        services.recipients_for(client, "certificates", operators=False),
        {
            "client": client,
            "endpoint": endpoint,
            "certificate": certificate,
            "previous": certificate,
        },
        client=client,
        links={"endpoint": endpoint},
    )


def test_a_delivered_e_mail_carries_the_name_verbatim_and_its_html_escapes_it_once(
    hostile_client, smtp
):
    replaced_notice(hostile_client)
    assert services.deliver_due().sent == 2
    for message in smtp.messages:
        assert HOSTILE in message.subject
        assert HOSTILE in message.text()
        assert_plain(message.subject, "the subject")
        assert_plain(message.text(), "the text")
        html = message.html()
        assert escape(HOSTILE) in html
        assert HOSTILE not in html and escape(escape(HOSTILE)) not in html


def test_a_chat_message_carries_the_name_verbatim(hostile_client, receiver, operator):  # noqa: F811
    yamada = hostile_client.contacts.get(email="yamada@acme.example")
    services.add_contact_channel(
        yamada,
        kind=Channel.WEBHOOK,
        label="監視ボット",
        secret=hook_url(receiver),
        topics=["certificates"],
        actor=operator,
    )
    replaced_notice(hostile_client)
    services.deliver_due()
    [hook] = receiver.to("/hook/abc")
    payload = json.loads(hook.body)
    assert HOSTILE in payload["title"]
    assert HOSTILE in payload["message"]
    assert_plain(payload["title"], "the chat title")
    assert_plain(payload["message"], "the chat message")
