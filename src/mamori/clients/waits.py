"""Waiting on the client (CT-09): one service function per write, generic over the task.

A task of any kind (an incident today; requests, renewals and re-issues later) is put in a
"waiting for the client" state with what is awaited and since when, and taken out of it when
the client has answered. Each span is a :class:`~mamori.clients.models.ClientWait`; the time
counts as the client's delay, not the provider's (the SLA leaves it out of the provider's
downtime, see :mod:`mamori.monitoring.sla`).

The target must have a ``client_id``. Permission is the caller's (``may_change`` on the task,
``STAFF`` unless the task says otherwise): the task's own service function asks before calling
these, and adds its own timeline entry. Each function writes the wait and its audit record in
one transaction; refusals are :class:`WaitError`.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.models import ClientWait
from mamori.core import audit
from mamori.core.permissions import require_change

#: How far into the future a time may be entered (clocks differ a little).
FUTURE_SLACK = dt.timedelta(minutes=5)


class WaitError(Exception):
    """A wait that cannot be started or ended; the message says why, ``field`` where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def open_wait(target: models.Model) -> ClientWait | None:
    """The task's wait in progress, if any."""
    return ClientWait.objects.of(target).open().first()


def spans(target: models.Model, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The task's waits as ``(since, until or now)``, in order."""
    return [w.span(now) for w in ClientWait.objects.of(target)]


def _check_time(at: dt.datetime, now: dt.datetime, field: str) -> None:
    if at > now + FUTURE_SLACK:
        raise WaitError(_("The time is in the future."), field)


def start_waiting(
    target: models.Model,
    *,
    awaited: str,
    since: dt.datetime | None = None,
    user=None,
    request=None,
    audit_action: str = "client_wait.start",
) -> ClientWait:
    """Put ``target`` in "waiting for the client" from ``since`` (default now), awaiting
    ``awaited``. Refused when it is waiting already."""
    if user is not None:
        require_change(user, target)
    now = timezone.now()
    since = since or now
    awaited = awaited.strip()
    if not awaited:
        raise WaitError(_("Say what is awaited from the client."), "awaited")
    _check_time(since, now, "since")
    try:
        with transaction.atomic():
            if ClientWait.objects.of(target).filter(until__gt=since).exists():
                raise WaitError(_("The wait would overlap an earlier one."), "since")
            wait = ClientWait.objects.create(
                client_id=target.client_id,
                target=target,
                awaited=awaited[:2000],
                since=since,
                started_by=user,
            )
            audit.record(
                audit_action,
                target,
                actor=user,
                request=request,
                client_id=target.client_id,
                changes={"wait": wait.pk, "awaited": wait.awaited, "since": since.isoformat()},
            )
    except IntegrityError:
        raise WaitError(_("It is waiting for the client already.")) from None
    return wait


def stop_waiting(
    target: models.Model,
    *,
    until: dt.datetime | None = None,
    user=None,
    request=None,
    audit_action: str = "client_wait.stop",
) -> ClientWait:
    """End ``target``'s wait at ``until`` (default now). Refused when it is not waiting or the
    end comes before the start."""
    if user is not None:
        require_change(user, target)
    now = timezone.now()
    until = until or now
    _check_time(until, now, "until")
    with transaction.atomic():
        wait = ClientWait.objects.of(target).open().select_for_update().first()
        if wait is None:
            raise WaitError(_("It is not waiting for the client."))
        if until < wait.since:
            raise WaitError(_("The end comes before the start."), "until")
        wait.until, wait.ended_by = until, user
        wait.save(update_fields=["until", "ended_by"])
        audit.record(
            audit_action,
            target,
            actor=user,
            request=request,
            client_id=target.client_id,
            changes={"wait": wait.pk, "until": until.isoformat()},
        )
    return wait
