"""Chat and webhook channels through the notice outbox (NOT-03).

A small threaded HTTP server on loopback stands in for the webhook receiver and for the
Chatwork API (the real services are on the internet). Slack, Teams, Discord and LINE URLs are
only parsed: their servers are on the internet too.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from mamori.certificates.models import CertificateEvent, EventKind
from mamori.core.models import AuditEvent
from mamori.inventory.models import Endpoint
from mamori.notices import services
from mamori.notices.models import Channel, ContactChannel, Notice, NoticeKind, NoticeState
from mamori.vault.models import Secret

pytestmark = [pytest.mark.req("NOT-03"), pytest.mark.django_db(databases="__all__")]

TOKEN = "cw-token-0123456789abcdef"
ROOM = "424242"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (then 200) and records it."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            state.requests.append(
                Received(self.path, dict(self.headers.items()), self.rfile.read(length))
            )
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MAMORI_CHATWORK_API_URL = f"http://127.0.0.1:{state.port}/v2"
    yield state
    server.shutdown()
    server.server_close()


def hook_url(receiver: Receiver, path: str = "/hook/abc") -> str:
    return f"json://127.0.0.1:{receiver.port}{path}"


def add_channels(contact, receiver, actor) -> tuple[ContactChannel, ContactChannel]:
    webhook = services.add_contact_channel(
        contact,
        kind=Channel.WEBHOOK,
        label="監視ボット",
        secret=hook_url(receiver),
        topics=["certificates"],
        actor=actor,
    )
    chatwork = services.add_contact_channel(
        contact,
        kind=Channel.CHATWORK,
        label="運用ルーム",
        secret=TOKEN,
        room_id=ROOM,
        topics=["certificates"],
        actor=actor,
    )
    return webhook, chatwork


def problem_notice(client, event_key: str = "problem:1") -> services.EnqueueResult:
    endpoint, _ = Endpoint.objects.get_or_create(client=client, host="www.acme.example")
    event = CertificateEvent.objects.create(
        kind=EventKind.PROBLEM, endpoint=endpoint, problems=["expired"]
    )
    return services.enqueue(
        NoticeKind.ENDPOINT_PROBLEM,
        event_key,
        services.recipients_for(client, "certificates", operators=False),
        {
            "endpoint": endpoint,
            "client": client,
            "certificate": None,
            "event": event,
            "problems": [{"code": "expired", "detail": ""}],
            "resolved": [],
            "error": None,
        },
        client=client,
        links={"endpoint": endpoint, "event": event},
    )


def chatwork_posts(receiver):
    return receiver.to(f"/v2/rooms/{ROOM}/messages")


def test_it_sends_a_problem_notice_to_the_webhook_and_chatwork_exactly_once(
    acme, receiver, operator, smtp
):
    yamada = acme.contacts.get(email="yamada@acme.example")
    add_channels(yamada, receiver, operator)
    created = problem_notice(acme).created
    # One e-mail per contact, one notice per chat channel of yamada's, each under its own key.
    assert sorted(n.channel for n in created) == ["chatwork", "email", "email", "webhook"]
    assert len({n.key for n in created}) == 4
    assert problem_notice(acme).created == []  # asked again: nothing new

    report = services.deliver_due()
    assert report.sent == 4 and services.deliver_due().sent == 0

    [hook] = receiver.to("/hook/abc")
    payload = json.loads(hook.body)
    assert "SSL証明書" in payload["title"] and "山田太郎 様" in payload["message"]
    [cw] = chatwork_posts(receiver)
    assert cw.headers["X-ChatWorkToken"] == TOKEN
    body = parse_qs(cw.body.decode())["body"][0]
    assert body.startswith("[info][title]【SSL証明書") and "山田太郎 様" in body
    sent = Notice.objects.exclude(channel=Channel.EMAIL)
    assert {n.state for n in sent} == {NoticeState.SENT}


def test_it_follows_the_topics_of_each_channel(acme, receiver, operator):
    jane = acme.contacts.get(email="jane@acme.example")
    services.add_contact_channel(
        jane,
        kind=Channel.WEBHOOK,
        label="incidents only",
        secret=hook_url(receiver),
        topics=["incidents"],
        actor=operator,
    )
    assert all(n.channel == Channel.EMAIL for n in problem_notice(acme).created)


def test_it_retries_a_500_and_then_delivers_once(acme, receiver, operator):
    yamada = acme.contacts.get(email="yamada@acme.example")
    add_channels(yamada, receiver, operator)
    receiver.statuses = [500, 502]  # the webhook, then Chatwork
    problem_notice(acme)
    services.deliver_due()
    chats = Notice.objects.exclude(channel=Channel.EMAIL)
    assert {n.state for n in chats} == {NoticeState.RETRY}
    assert chats.get(channel="webhook").last_error.endswith("answered HTTP 500")
    assert chats.get(channel="chatwork").last_error == "Chatwork answered HTTP 502"
    assert services.deliver_due().sent == 0  # not due yet
    later = timezone.now() + timedelta(minutes=2)
    assert services.deliver_due(now=later).sent == 2
    assert services.deliver_due(now=later + timedelta(hours=1)).sent == 0
    assert len(receiver.to("/hook/abc")) == 2 and len(chatwork_posts(receiver)) == 2
    assert {n.state for n in chats.all()} == {NoticeState.SENT}


def test_it_gives_up_on_a_401_and_alerts_operators_once(acme, receiver, operator, settings):
    settings.MAMORI_OPERATOR_CHANNELS = [hook_url(receiver, "/operators")]
    yamada = acme.contacts.get(email="yamada@acme.example")
    services.add_contact_channel(
        yamada,
        kind=Channel.CHATWORK,
        label="運用ルーム",
        secret=TOKEN,
        room_id=ROOM,
        topics=["certificates"],
        actor=operator,
    )
    receiver.statuses = [401]
    problem_notice(acme)
    services.deliver_due()
    chatwork = Notice.objects.get(channel=Channel.CHATWORK, kind=NoticeKind.ENDPOINT_PROBLEM)
    assert chatwork.state == NoticeState.FAILED and chatwork.attempts == 1
    assert chatwork.last_error == "Chatwork answered HTTP 401"
    alerts = Notice.objects.filter(kind=NoticeKind.DELIVERY_FAILED)
    # The operator by e-mail and the operators' chat channel, once each.
    assert sorted(alerts.values_list("channel", flat=True)) == ["email", "webhook"]
    for _ in range(2):
        services.deliver_due(now=timezone.now() + timedelta(days=2))
    assert len(chatwork_posts(receiver)) == 1
    [alert] = receiver.to("/operators")
    assert "401" in json.loads(alert.body)["message"]
    assert Notice.objects.filter(kind=NoticeKind.DELIVERY_FAILED).count() == 2


def test_it_retries_a_timeout(acme, operator, settings):
    import socket

    # A listening socket that never answers: the connection is accepted, the reply never comes.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        settings.MAMORI_CHATWORK_API_URL = f"http://127.0.0.1:{silent.getsockname()[1]}/v2"
        settings_timeout = (1, 1)
        from mamori.notices import channels

        original, channels.CHATWORK_TIMEOUT = channels.CHATWORK_TIMEOUT, settings_timeout
        try:
            yamada = acme.contacts.get(email="yamada@acme.example")
            services.add_contact_channel(
                yamada,
                kind=Channel.CHATWORK,
                label="room",
                secret=TOKEN,
                room_id=ROOM,
                topics=["certificates"],
                actor=operator,
            )
            problem_notice(acme)
            services.deliver_due()
        finally:
            channels.CHATWORK_TIMEOUT = original
    finally:
        silent.close()
    notice = Notice.objects.get(channel=Channel.CHATWORK)
    assert notice.state == NoticeState.RETRY and "timed out" in notice.last_error


def test_it_never_shows_or_logs_a_webhook_url(acme, receiver, operator, client, caplog):
    caplog.set_level(logging.DEBUG)
    url = hook_url(receiver, "/hook/very-secret-path")
    yamada = acme.contacts.get(email="yamada@acme.example")
    client.force_login(operator)
    response = client.post(
        reverse("channel_add", args=[yamada.pk]),
        {"kind": "webhook", "label": "bot", "url": url, "topics": ["certificates"]},
    )
    assert response.status_code == 302
    channel = ContactChannel.objects.get()
    receiver.statuses = [404]
    problem_notice(acme)
    services.deliver_due()
    failed = Notice.objects.get(channel=Channel.WEBHOOK)
    assert failed.state == NoticeState.FAILED  # a 404 never starts working
    pages = [
        reverse("channel_list", args=[yamada.pk]),
        reverse("notice_list"),
        reverse("notice_detail", args=[failed.pk]),
        reverse("client_detail", args=[acme.code]),
    ]
    for page in pages:
        body = client.get(page).content.decode()
        assert "very-secret-path" not in body, page
    assert "very-secret-path" not in caplog.text
    stored = [str(v) for row in Notice.objects.values() for v in row.values()]
    stored += [str(v) for row in AuditEvent.objects.values() for v in row.values()]
    stored += [str(v) for row in Secret.objects.values() for v in row.values()]
    assert not any("very-secret-path" in v for v in stored)
    assert channel.secret.sealed_value and "very-secret-path" not in str(
        channel.secret.sealed_value
    )


@pytest.mark.parametrize(
    ("kind", "url", "ok"),
    [
        (
            "slack",
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXX",
            True,
        ),
        ("slack", "https://discord.com/api/webhooks/123456/abcdefghijk", False),
        (
            "teams",
            "workflows://prod-01.westus.logic.azure.com:443/abc123/def456?signature=xyz",
            True,
        ),
        ("discord", "https://discord.com/api/webhooks/123456/abcdefghijk", True),
        ("line", "line://TOKEN/Uabcdef", True),
        ("line", "not a url", False),
        ("webhook", "json://hooks.example.org/notify", True),
    ],
)
def test_it_accepts_or_refuses_channel_urls_with_a_clear_error(
    acme, operator, client, kind, url, ok
):
    yamada = acme.contacts.get(email="yamada@acme.example")
    client.force_login(operator)
    response = client.post(
        reverse("channel_add", args=[yamada.pk]),
        {"kind": kind, "label": "room", "url": url, "topics": ["certificates"]},
    )
    assert ContactChannel.objects.exists() == ok
    if ok:
        assert response.status_code == 302
    else:
        assert response.status_code == 200
        with translation.override(response.headers["Content-Language"]):
            error = gettext("This is not a valid %(kind)s URL.") % {"kind": Channel(kind).label}
        assert escape(error) in response.content.decode()
        assert url not in response.content.decode()


def test_the_test_button_sends_through_the_outbox_and_shows_the_result(
    acme, receiver, owner, client
):
    yamada = acme.contacts.get(email="yamada@acme.example")
    client.force_login(owner)  # the client's administrator manages their own contacts' channels
    client.post(
        reverse("channel_add", args=[yamada.pk]),
        {"kind": "chatwork", "label": "運用ルーム", "url": TOKEN, "room_id": ROOM},
    )
    channel = ContactChannel.objects.get()
    response = client.post(reverse("channel_test", args=[channel.pk]), follow=True)
    assert "Test message sent" in response.content.decode() or "テスト" in response.content.decode()
    [post] = chatwork_posts(receiver)
    assert "運用ルーム" in parse_qs(post.body.decode())["body"][0]
    notice = Notice.objects.get(kind=NoticeKind.CHANNEL_TEST)
    assert notice.state == NoticeState.SENT and notice.contact_channel == channel

    receiver.statuses = [403]
    response = client.post(reverse("channel_test", args=[channel.pk]), follow=True)
    assert "HTTP 403" in response.content.decode()
    assert services.deliver_due(now=timezone.now() + timedelta(days=2)).sent == 0
    assert len(chatwork_posts(receiver)) == 2
    assert AuditEvent.objects.filter(action="contact_channel.test", actor=owner).count() == 2


def test_removing_a_channel_destroys_its_secret(acme, receiver, operator, client):
    yamada = acme.contacts.get(email="yamada@acme.example")
    webhook, _chatwork = add_channels(yamada, receiver, operator)
    secret = webhook.secret
    client.force_login(operator)
    client.post(reverse("channel_delete", args=[webhook.pk]))
    assert not ContactChannel.objects.filter(pk=webhook.pk).exists()
    secret.refresh_from_db()
    assert secret.destroyed_at is not None


def test_a_client_admin_cannot_manage_another_clients_channels(acme, globex, outsider, client):
    yamada = acme.contacts.get(email="yamada@acme.example")
    client.force_login(outsider)
    response = client.post(
        reverse("channel_add", args=[yamada.pk]),
        {"kind": "chatwork", "label": "x", "url": TOKEN, "room_id": ROOM},
    )
    assert response.status_code == 404 and not ContactChannel.objects.exists()


def test_it_reads_operator_channels_and_skips_a_bad_entry_without_logging_it(settings, caplog):
    settings.MAMORI_OPERATOR_CHANNELS = [
        "chatwork://tok3n@12345",
        "nonsense://leaky-value",
        "json://127.0.0.1:9/ops",
    ]
    recipients = services.operator_channel_recipients()
    assert [r.channel for r in recipients] == ["chatwork", "webhook"]
    assert all(r.target.startswith("operators:") and "tok3n" not in r.label for r in recipients)
    assert "leaky-value" not in caplog.text and "entry 2 ignored" in caplog.text


def test_deleting_a_contact_destroys_its_channels_secrets(acme, receiver, owner, client):
    yamada = acme.contacts.get(email="yamada@acme.example")
    webhook, chatwork = add_channels(yamada, receiver, owner)
    client.force_login(owner)
    client.post(reverse("contact_delete", args=[yamada.pk]))
    assert not ContactChannel.objects.exists()
    secrets = Secret.objects.filter(pk__in=[webhook.secret_id, chatwork.secret_id])
    assert secrets.count() == 2 and all(s.destroyed_at for s in secrets)
