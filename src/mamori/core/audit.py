"""Writing the audit trail (ACC-03). Callers pass field names and non-secret values only."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from mamori.core.models import AuditEvent, User

SYSTEM_ACTOR = "mamori"


def client_id_of(obj: models.Model | None) -> int | None:
    if obj is None:
        return None
    if obj._meta.label == "clients.Client":
        return obj.pk
    return getattr(obj, "client_id", None)


def source_ip(request: HttpRequest | None) -> str | None:
    """The peer address. No forwarding header is trusted: a proxy in front must set REMOTE_ADDR."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str,
    obj: models.Model | None = None,
    *,
    actor: User | None = None,
    request: HttpRequest | None = None,
    changes: dict[str, Any] | None = None,
    actor_label: str | None = None,
    client_id: int | None = None,
) -> AuditEvent:
    """Append one audit event. ``actor`` defaults to the request's user; no user = the system."""
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    label = actor_label or (actor.get_username() if actor else SYSTEM_ACTOR)
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=label[:150],
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        client_id=client_id if client_id is not None else client_id_of(obj),
        changes=changes or {},
        source_ip=source_ip(request),
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value changed, as ``{field: [old, new]}``."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
