"""The client page's "Requests" section (MNT-03): the client's open requests by due time, and
for the provider's staff the way to enter a phone call as a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from django import template

from mamori.desk import services
from mamori.desk.models import Request

register = template.Library()

#: How many open requests the client page lists (the desk has them all).
LIMIT = 10


@dataclass
class ClientRequests:
    requests: list[Request] = field(default_factory=list)
    total: int = 0
    may_ask: bool = False


@register.simple_tag
def client_requests(user, client) -> ClientRequests:
    qs = services.queue(Request.objects.visible_to(user).filter(client=client))
    requests = list(qs.select_related("assignee")[:LIMIT])
    services.mark_late(requests)
    total = qs.count() if len(requests) == LIMIT else len(requests)
    return ClientRequests(requests, total, services.may_ask(user, client))
