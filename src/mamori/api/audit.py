"""The audit trail (ACC-03): the events the caller may read, newest first.

Provider administrators read every event, client administrators their own client's; every other
role gets 403. The filters are those of the web list (:func:`mamori.core.audit.filter_events`).

No ``from __future__ import annotations`` here: ninja's ``@paginate`` builds its query schema
from the evaluated annotations of the wrapped function.
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from mamori.api.errors import invalid, query_problem
from mamori.api.schemas import Day, Error
from mamori.core import audit
from mamori.core.models import AuditEvent

router = Router(tags=["audit"])


class AuditEventOut(Schema):
    sequence: int = Field(..., description="Position in the hash chain: from 1, without gaps.")
    created_at: datetime
    actor: str = Field(..., alias="actor_label", description="User name, or the system process.")
    action: str = Field(..., description="What happened, e.g. endpoint.update or login.failed.")
    object_type: str = Field(..., description="The kind of object, e.g. inventory.Endpoint.")
    object_id: str
    object: str = Field(..., alias="object_repr", description="The object's name when it acted.")
    client: str | None = Field(None, description="Code of the client the event concerns.")
    changes: dict[str, Any] = Field(
        ..., description='Field names and values; secret values are "[redacted]".'
    )
    source_ip: str | None = Field(None, description="Address the request came from.")
    prev_hash: str = Field(..., description="Hash of the event before it.")
    hash: str = Field(..., description="SHA-256 of the event's content and prev_hash.")

    @staticmethod
    def resolve_client(obj: AuditEvent) -> str | None:
        # select_related: a client deleted since (no cascade on the trail) reads as None.
        return obj.client.code if obj.client is not None else None


@router.get(
    "",
    response={200: list[AuditEventOut], 403: Error, 422: Error},
    summary="List audit events",
    description="Provider administrators read every event, client administrators their own "
    "client's events; other roles get 403. `action` also matches its sub-actions "
    '("endpoint" finds endpoint.update); `date_from` and `date_to` are whole local days, '
    "both included; `q` searches the object's name and id.",
)
@paginate
def list_audit_events(
    request: HttpRequest,
    actor: str | None = None,
    action: str | None = None,
    client: str | None = None,
    object_type: str | None = None,
    date_from: Day | None = None,
    date_to: Day | None = None,
    q: str | None = None,
):
    try:
        audit.check_period(date_from, date_to)
    except DjangoValidationError as exc:
        raise invalid(query_problem("date_to", exc.messages[0])) from None
    events = audit.readable_events(request.auth)
    return audit.filter_events(
        events,
        actor=actor,
        action=action,
        client=client,
        object_type=object_type,
        date_from=date_from,
        date_to=date_to,
        text=q,
    ).order_by("-sequence")
