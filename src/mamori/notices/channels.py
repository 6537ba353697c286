"""Sending a notice to a chat room or webhook (NOT-03): Apprise, and Chatwork of our own.

One contract for every channel: :func:`send` returns when the message was accepted and raises
:class:`ChannelError` otherwise, saying whether the failure is permanent (a refused token, an
unknown room or hook: retrying cannot help) or temporary (a timeout, a 5xx, a 429).

The URL or token of a channel is a secret: it never reaches an exception, a log record or a
page. Apprise logs the URLs it posts to at DEBUG, so its logger is muted while it sends and only
the HTTP status codes are taken from what it reported (urllib3 is muted likewise).

A contact's channel is aimed by whoever added it, possibly a client's administrator, so every
message to it is sent under its address policy (:mod:`mamori.probe.netguard`): each connection
Apprise opens, redirects included, reaches a loopback, private or link-local address only if the
provider's staff allowed the channel or ``MAMORI_ALLOW_PRIVATE_NETWORKS`` covers it. Operator
channels and the Chatwork API are configuration, hence trusted.
"""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import apprise
import requests
from django.conf import settings

from mamori.notices.models import Channel
from mamori.probe import netguard
from mamori.probe.netguard import AddressPolicy

log = logging.getLogger(__name__)

# Which Apprise plugin serves each channel kind.
APPRISE_PLUGINS = {
    Channel.SLACK: "NotifySlack",
    Channel.TEAMS: "NotifyWorkflows",
    Channel.DISCORD: "NotifyDiscord",
    Channel.LINE: "NotifyLine",
    Channel.WEBHOOK: "NotifyJSON",
}
CHATWORK_TIMEOUT = (5, 15)  # connect, read (seconds)
# 4xx answers that may succeed later: timeout, conflict, too early, rate limit.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_STATUS = re.compile(r"error=(\d{3})")
_apprise_lock = threading.Lock()


class ChannelError(Exception):
    """A channel did not take the message; ``permanent`` says retrying cannot help. The message
    never contains the channel's URL or token."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def is_permanent_status(status: int) -> bool:
    return 400 <= status < 500 and status not in RETRYABLE_4XX


# Apprise -------------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _quiet_apprise() -> Iterator[_Collect]:
    """Apprise's warnings collected here; none of its records, nor urllib3's (both name the
    URLs posted to at DEBUG), reach the log."""
    handler = _Collect()
    with _apprise_lock:
        saved = []
        for name, handlers in (("apprise", [handler]), ("urllib3", [logging.NullHandler()])):
            logger = logging.getLogger(name)
            saved.append((logger, logger.propagate, logger.level, logger.handlers[:]))
            logger.handlers = handlers
            logger.propagate = False
            logger.setLevel(logging.WARNING)
        try:
            yield handler
        finally:
            for logger, propagate, level, handlers in saved:
                logger.handlers = handlers
                logger.propagate = propagate
                logger.setLevel(level)


def apprise_kind(url: str) -> str | None:
    """The channel kind Apprise serves ``url`` with, or None if it is not one we support."""
    with _quiet_apprise():
        plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return None
    name = type(plugin).__name__
    return next(
        (kind for kind, plugin_name in APPRISE_PLUGINS.items() if plugin_name == name), None
    )


def refusal_message(kind: str) -> str:
    """Why a send was refused, without the URL or its host (both may be secret)."""
    return (
        f"refused: the channel's address is a {kind} address, and only the provider's "
        "administrators or operators may allow a private address for a channel"
    )


def _send_apprise(url: str, title: str, body: str, policy: AddressPolicy | None) -> None:
    with _quiet_apprise() as collected, netguard.guarded(policy) as guard:
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise ChannelError("the channel URL is not valid", permanent=True)
        ok = plugin.notify(body=body, title=title)
    if ok:
        return
    if guard is not None and guard.refused:
        raise ChannelError(refusal_message(guard.refused[0].kind), permanent=True)
    statuses = [int(m) for text in collected.messages for m in _STATUS.findall(text)]
    if statuses:
        status = statuses[-1]
        raise ChannelError(
            f"{plugin.service_name} answered HTTP {status}", permanent=is_permanent_status(status)
        )
    raise ChannelError(f"{plugin.service_name}: no answer (connection failed or timed out)")


# Chatwork ------------------------------------------------------------------------------------


def _send_chatwork(token: str, room_id: str, title: str, body: str) -> None:
    """POST {MAMORI_CHATWORK_API_URL}/rooms/{room_id}/messages (Chatwork API v2)."""
    url = f"{settings.MAMORI_CHATWORK_API_URL}/rooms/{room_id}/messages"
    try:
        response = requests.post(
            url,
            headers={"X-ChatWorkToken": token},
            data={"body": f"[info][title]{title}[/title]{body}[/info]"},
            timeout=CHATWORK_TIMEOUT,
        )
    except requests.Timeout:
        raise ChannelError("Chatwork: timed out") from None
    except requests.RequestException as e:
        # The exception text names the URL (no token), but keep it out all the same.
        raise ChannelError(f"Chatwork: connection failed ({type(e).__name__})") from None
    if not 200 <= response.status_code < 300:
        status = response.status_code
        raise ChannelError(
            f"Chatwork answered HTTP {status}", permanent=is_permanent_status(status)
        )


# One contract --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where to send: the kind, the secret URL or token, a Chatwork room id, and which
    addresses the message may go to (None: any, for configured destinations)."""

    kind: str
    secret: str
    room_id: str = ""
    policy: AddressPolicy | None = None

    @property
    def digest(self) -> str:
        """A stable name for the destination that reveals nothing of its secret."""
        material = f"{self.kind}|{self.secret}|{self.room_id}".encode()
        return hashlib.sha256(material).hexdigest()[:16]


def send(destination: Destination, title: str, body: str) -> None:
    """Send one message; raises :class:`ChannelError`."""
    if destination.kind == Channel.CHATWORK:
        _send_chatwork(destination.secret, destination.room_id, title, body)
    elif destination.kind in APPRISE_PLUGINS:
        _send_apprise(destination.secret, title, body, destination.policy)
    else:
        raise ChannelError(f"unknown channel kind {destination.kind!r}", permanent=True)


def parse_operator_channel(url: str) -> Destination:
    """One entry of ``MAMORI_OPERATOR_CHANNELS``: ``chatwork://TOKEN@ROOM`` or an Apprise URL.
    Raises ValueError (without the URL) if it is neither."""
    if url.lower().startswith("chatwork://"):
        parts = urlsplit(url)
        token, room = unquote(parts.username or ""), parts.hostname or ""
        if not token or not room.isdigit():
            raise ValueError("a Chatwork channel is chatwork://TOKEN@ROOM_ID")
        return Destination(Channel.CHATWORK, token, room)
    kind = apprise_kind(url)
    if kind is None:
        raise ValueError("not a Slack, Teams workflow, Discord, LINE or json:// webhook URL")
    return Destination(kind, url)


def operator_destinations() -> list[Destination]:
    """The valid entries of ``MAMORI_OPERATOR_CHANNELS``, in order; an invalid one is logged
    (by position, not by value) and skipped."""
    result = []
    for position, url in enumerate(settings.MAMORI_OPERATOR_CHANNELS, start=1):
        try:
            result.append(parse_operator_channel(url))
        except ValueError as e:
            log.error("MAMORI_OPERATOR_CHANNELS entry %s ignored: %s", position, e)
    return result


def destination_host(kind: str, url: str) -> str | None:
    """The host a channel URL makes Mamori connect to when the URL chooses it (a Teams workflow,
    a JSON webhook), or None when the service's host is fixed (Slack, Discord, LINE: what looks
    like a host in their URLs is a token) or configured (Chatwork)."""
    if kind not in (Channel.TEAMS, Channel.WEBHOOK):
        return None
    with _quiet_apprise():
        plugin = apprise.Apprise.instantiate(url)
    host = getattr(plugin, "host", None)
    return host.strip("[]") if isinstance(host, str) and host else None


def refused_kind(kind: str, url: str, policy: AddressPolicy) -> str | None:
    """The kind of address (loopback, private…) ``policy`` refuses that a channel URL points
    at now: its host as written or, for a name, any address it resolves to; None if none.

    For a clear error when the channel is added. What counts is the check when a message is
    sent, on the address connected to (a name can resolve elsewhere later)."""
    host = destination_host(kind, url)
    if host is None:
        return None
    if netguard.literal_address(host) is not None:
        return policy.refuses_literal(host)
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return None  # does not resolve now: the send will fail and say so
    _allowed, refused = netguard.screen(host, [str(info[4][0]) for info in infos], policy)
    return refused.kind if refused is not None else None
