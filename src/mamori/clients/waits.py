"""Waiting on the client (CT-09): one service function per write, generic over the task.

A task of any kind (an incident, a desk request, a renewal on hold, a re-issue task) is put in a
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
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
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


def mirror(target: models.Model, *, awaited: str | None, at: dt.datetime, user=None) -> None:
    """Keep the spans of a task that holds its waiting state in fields of its own (a renewal on
    hold, a lifecycle task): ``awaited`` None ends the open span at ``at``; otherwise a span
    awaiting ``awaited`` is open from ``at`` (an open span awaiting something else is ended there
    first; one awaiting the same is kept). Call it inside the task's own transaction: the task's
    audit record covers it."""
    with transaction.atomic():
        current = ClientWait.objects.of(target).open().select_for_update().first()
        awaited = (awaited or "").strip()[:2000] if awaited is not None else None
        if current is not None and awaited is not None and current.awaited == awaited:
            return
        if current is not None:
            current.until, current.ended_by = max(at, current.since), user
            current.save(update_fields=["until", "ended_by"])
        if awaited:
            latest = ClientWait.objects.of(target).aggregate(models.Max("until"))["until__max"]
            ClientWait.objects.create(
                client_id=target.client_id,
                target=target,
                awaited=awaited,
                since=max(at, latest) if latest else at,
                started_by=user,
            )


# --- the client's delay in a month (CT-09; read by the monthly report) -------------------------


@dataclass
class DelaySpan:
    """One wait of a task: what was awaited, since and until when (``until`` None: still
    waiting), and the part of it inside the month (``start`` to ``end``)."""

    wait: ClientWait
    awaited: str
    since: dt.datetime
    until: dt.datetime | None
    start: dt.datetime
    end: dt.datetime

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start


@dataclass
class TaskDelay:
    """The waits of one task inside the month; ``task`` is None when the task was deleted."""

    task: models.Model | None
    kind: str  # the task's model, "app_label.model" (desk.request, monitoring.incident ...)
    spans: list[DelaySpan] = field(default_factory=list)

    @property
    def total(self) -> dt.timedelta:
        return sum((s.duration for s in self.spans), dt.timedelta())


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The month holding ``month`` (any day of it) as ``[start, end)`` in the provider's time
    zone (``TIME_ZONE``, Asia/Tokyo by default)."""
    first = month.replace(day=1)
    zone = timezone.get_default_timezone()
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(first + relativedelta(months=1), dt.time.min, tzinfo=zone)
    return start, end


def client_delay(client, month: dt.date, *, now: dt.datetime | None = None) -> list[TaskDelay]:
    """The client's delay in ``month`` (CT-09): every wait on the client of any task that
    overlaps the month, grouped by task in the order the tasks first waited, each clipped to the
    month (a wait still open counts up to ``now``). The one source of the monthly report."""
    now = now or timezone.now()
    start, end = month_bounds(month)
    found = (
        ClientWait.objects.filter(client=client, since__lt=min(end, now))
        .filter(models.Q(until__isnull=True) | models.Q(until__gt=start))
        .select_related("content_type")
        .order_by("since", "pk")
    )
    tasks: dict[tuple[int, int], TaskDelay] = {}
    for wait in found:
        since, until = wait.span(now)
        clipped = (max(since, start), min(until, end))
        if clipped[0] >= clipped[1]:
            continue
        key = (wait.content_type_id, wait.object_id)
        if key not in tasks:
            model = wait.content_type.model_class()
            task = model._default_manager.filter(pk=wait.object_id).first() if model else None
            ct = wait.content_type
            tasks[key] = TaskDelay(task=task, kind=f"{ct.app_label}.{ct.model}")
        tasks[key].spans.append(
            DelaySpan(wait, wait.awaited, wait.since, wait.until, clipped[0], clipped[1])
        )
    return list(tasks.values())
