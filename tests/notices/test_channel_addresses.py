"""Chat channels aimed at the provider's own network (issue 13, "requests to internal
addresses").

The review added a Teams ``workflows://127.0.0.1:…`` channel as a client's administrator and
its test message was delivered: only ``json://`` webhooks were checked, and only when added.
Now every scheme is checked when a channel is added (the host as written or what it resolves
to) and, what counts, when each message is sent, on the address connected to. Only the
provider's administrators and operators may allow a channel a private address. A real HTTP
server on loopback records whether anything reached it. Every test empties
MAMORI_ALLOW_PRIVATE_NETWORKS, which the suite sets to loopback for its servers.
"""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext, pgettext

from mamori.notices import services
from mamori.notices.models import Channel, ContactChannel, Notice, NoticeKind, NoticeState
from tests.support.recorder import Recorder, fake_dns, recorder

pytestmark = [pytest.mark.req("NOT-03"), pytest.mark.django_db(databases="__all__")]

URL_REFUSED = (
    "This URL points at a %(kind)s address. Mamori sends only to public addresses, unless the "
    "provider's administrators or operators allow a private address for this channel."
)
NOT_ALLOWED = ["owner", "subcontractor"]
ALLOWED = ["provider_admin", "operator"]
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]
REFUSED_SEND = (
    "refused: the channel's address is a loopback address, and only the provider's "
    "administrators or operators may allow a private address for a channel"
)


@pytest.fixture(autouse=True)
def public_only(settings):
    settings.MAMORI_ALLOW_PRIVATE_NETWORKS = []


@pytest.fixture
def server():
    with recorder() as running:
        yield running


@pytest.fixture
def yamada(acme):
    return acme.contacts.get(email="yamada@acme.example")


def teams_url(netloc: str) -> str:
    return f"workflows://{netloc}/abc123/def456?signature=xyz"


def add(client, contact, kind: str, url: str, **extra):
    data = {"kind": kind, "label": "room", "url": url, "topics": ["certificates"], **extra}
    return client.post(reverse("channel_add", args=[contact.pk]), data)


def refusal(response, kind: str) -> str:
    with translation.override(response.headers["Content-Language"]):
        return escape(gettext(URL_REFUSED) % {"kind": pgettext("address kind", kind)})


def send_test_message(client, channel) -> Notice:
    client.post(reverse("channel_test", args=[channel.pk]))
    return Notice.objects.filter(kind=NoticeKind.CHANNEL_TEST).latest("pk")


PRIVATE_URLS = [
    ("teams", lambda s: teams_url(s.netloc), "loopback"),
    ("teams", lambda s: teams_url(f"localhost:{s.port}"), "loopback"),
    ("webhook", lambda s: s.url("/hook", scheme="json"), "loopback"),
    ("webhook", lambda s: s.url("/hook", scheme="jsons", host="[::1]"), "loopback"),
    ("webhook", lambda s: s.url("/hook", scheme="json", host="localhost"), "loopback"),
    ("teams", lambda s: teams_url("10.0.0.5"), "private"),
    ("webhook", lambda s: "json://169.254.169.254/latest/meta-data", "link-local"),
]


@pytest.mark.parametrize("role", NOT_ALLOWED + ALLOWED)
@pytest.mark.parametrize(("kind", "make_url", "address_kind"), PRIVATE_URLS)
def test_nobody_adds_a_channel_on_a_private_address_without_the_allowance(
    client, request, yamada, server: Recorder, role, kind, make_url, address_kind
):
    client.force_login(request.getfixturevalue(role))
    url = make_url(server)
    response = add(client, yamada, kind, url)
    body = response.content.decode()
    assert response.status_code == 200
    assert refusal(response, address_kind) in body
    assert url not in body and str(server.port) not in body
    assert not ContactChannel.objects.exists() and server.connections == 0


@pytest.mark.parametrize("role", NOT_ALLOWED)
def test_a_client_admin_or_subcontractor_cannot_allow_a_private_address(
    client, request, yamada, server: Recorder, role
):
    user = request.getfixturevalue(role)
    client.force_login(user)
    form = client.get(reverse("channel_add", args=[yamada.pk])).content.decode()
    checkbox = form.split('name="allow_private_address"')[1].split(">")[0]
    assert "disabled" in checkbox
    # A forged form asking for it anyway: the box is read-only, so the URL is refused.
    response = add(client, yamada, "teams", teams_url(server.netloc), allow_private_address="on")
    assert refusal(response, "loopback") in response.content.decode()
    with pytest.raises(PermissionDenied):
        services.add_contact_channel(
            yamada,
            kind=Channel.WEBHOOK,
            label="x",
            secret=server.url("/hook", scheme="json"),
            topics=[],
            allow_private_address=True,
            actor=user,
        )
    assert not ContactChannel.objects.exists() and server.connections == 0


@pytest.mark.parametrize("role", ALLOWED)
def test_provider_staff_allow_a_private_channel_and_it_then_works(
    client, request, yamada, server: Recorder, role
):
    client.force_login(request.getfixturevalue(role))
    response = add(
        client, yamada, "webhook", server.url("/hook", scheme="json"), allow_private_address="on"
    )
    assert response.status_code == 302
    channel = ContactChannel.objects.get()
    assert channel.allow_private_address
    notice = send_test_message(client, channel)
    assert notice.state == NoticeState.SENT and server.hits == ["/hook"]
    page = client.get(reverse("channel_list", args=[yamada.pk]))
    with translation.override(page.headers["Content-Language"]):
        assert gettext("private address allowed") in page.content.decode()


@pytest.mark.parametrize("role", NOT_ALLOWED + ALLOWED)
def test_a_teams_channel_on_loopback_is_refused_when_its_message_is_sent(
    client, request, yamada, server: Recorder, settings, role
):
    """The issue's path: a workflows://127.0.0.1 channel and its test message. It was added
    while MAMORI_ALLOW_PRIVATE_NETWORKS covered loopback; that is no longer so."""
    client.force_login(request.getfixturevalue(role))
    settings.MAMORI_ALLOW_PRIVATE_NETWORKS = LOOPBACK
    assert add(client, yamada, "teams", teams_url(server.netloc)).status_code == 302
    settings.MAMORI_ALLOW_PRIVATE_NETWORKS = []
    channel = ContactChannel.objects.get()
    response = client.post(reverse("channel_test", args=[channel.pk]), follow=True)
    notice = Notice.objects.get(kind=NoticeKind.CHANNEL_TEST)
    assert notice.state == NoticeState.FAILED  # permanent: retrying cannot help
    assert notice.last_error == REFUSED_SEND
    assert escape(REFUSED_SEND) in response.content.decode()
    assert str(server.port) not in response.content.decode()
    assert server.connections == 0


def test_a_webhook_whose_name_turns_to_loopback_is_refused_when_sending(
    client, owner, yamada, server: Recorder, monkeypatch
):
    answers = fake_dns(monkeypatch, {"hooks.acme.example": "93.184.216.34"})  # public
    client.force_login(owner)
    url = server.url("/hook", scheme="json", host="hooks.acme.example")
    assert add(client, yamada, "webhook", url).status_code == 302
    channel = ContactChannel.objects.get()
    answers["hooks.acme.example"] = "127.0.0.1"  # DNS rebinding
    notice = send_test_message(client, channel)
    assert notice.state == NoticeState.FAILED and notice.last_error == REFUSED_SEND
    assert "hooks.acme.example" not in notice.last_error
    assert server.connections == 0
    # Added now, the same URL is refused at once.
    response = add(client, yamada, "webhook", url)
    assert refusal(response, "loopback") in response.content.decode()


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("slack", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXX"),
        ("discord", "https://discord.com/api/webhooks/123456/abcdefghijk"),
        ("line", "line://TOKEN/Uabcdef"),
    ],
)
def test_every_scheme_is_checked_when_its_message_is_sent(
    client, owner, yamada, monkeypatch, kind, url
):
    # Slack, Discord and LINE post to their own hosts; were those to resolve to loopback
    # (a poisoned resolver), the message would still not leave for it.
    fake_dns(
        monkeypatch,
        {"hooks.slack.com": "127.0.0.1", "discord.com": "127.0.0.1", "api.line.me": "127.0.0.1"},
    )
    client.force_login(owner)
    assert add(client, yamada, kind, url).status_code == 302
    notice = send_test_message(client, ContactChannel.objects.get())
    assert notice.state == NoticeState.FAILED and notice.last_error == REFUSED_SEND


def test_operator_channels_are_configuration_and_reach_loopback(server: Recorder, settings, acme):
    settings.MAMORI_OPERATOR_CHANNELS = [server.url("/operators", scheme="json")]
    [recipient] = services.operator_channel_recipients()
    services.enqueue(
        NoticeKind.CHANNEL_TEST,
        "operators-test",
        [recipient],
        {"channel": None, "client": acme},
        client=acme,
    )
    assert services.deliver_due().sent == 1 and server.hits == ["/operators"]
