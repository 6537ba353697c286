"""Helpers of the request tests: a request of a client as the portal or the mailbox files it."""

from __future__ import annotations

from mamori.clients.models import Client
from mamori.desk import services
from mamori.desk.models import Request


def make_request(client: Client, *, actor=None, **fields) -> Request:
    """A request of ``client`` through :func:`services.create_request` (so with its notices)."""
    values = {
        "channel": "portal",
        "subject": "トップページの電話番号を変更してください",
        "body": "03-1234-5678 を 03-8765-4321 に変更してください。",
    }
    values.update(fields)
    return services.create_request(client, actor=actor, **values)
