"""Tasks for people: re-issue after a change or a compromise (CERT-12, CT-10), a site seal left
up (CERT-13). A task is opened once per cause (its ``key``), alerts the operators once, can wait
for the client (CT-09) and is closed with a resolution."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients import waits
from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.models import User
from mamori.core.sentences import Text
from mamori.lifecycle.models import Awaiting, Task, TaskState
from mamori.notices import services as notices
from mamori.notices.models import NoticeKind


def open_task(
    client: Client,
    kind: str,
    key: str,
    title: Text | str,
    description: Text | str = "",
    *,
    managed=None,
    certificate=None,
    site=None,
) -> tuple[Task, bool]:
    """The task for ``key``, opened now if there is none: ``(task, created)``. Opening it alerts
    the operators once (the notice's key is the task's). ``title`` and ``description`` are
    stored as codes and parameters (:class:`~mamori.core.sentences.Text`) and read in the reader's
    language; the sentences in the language active now are kept beside them (search, the audit
    record). A plain string (a person's words) is kept as written."""
    existing = Task.objects.filter(key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            task = Task.objects.create(
                client=client,
                kind=kind,
                key=key[:200],
                title=str(title)[:300],
                description=str(description),
                texts={
                    name: text.to_json()
                    for name, text in (("title", title), ("description", description))
                    if isinstance(text, Text)
                },
                managed=managed,
                certificate=certificate,
                site=site,
            )
            audit.record(
                "task.open",
                task,
                changes={
                    "kind": kind,
                    "key": key,
                    "title": title.to_json() if isinstance(title, Text) else title,
                },
                actor_label="mamori",
            )
    except IntegrityError:  # another worker opened it first
        return Task.objects.get(key=key), False
    notices.enqueue(
        NoticeKind.TASK_OPENED,
        f"task-opened:{task.pk}",
        notices.operator_recipients(client),
        {"client": client, "task": task},
        client=client,
        links={"certificate": certificate} if certificate is not None else {},
    )
    return task, True


def _require_open(task: Task) -> None:
    if task.state != TaskState.OPEN:
        raise ValidationError(_("This task is closed."))


def set_waiting(task: Task, awaiting: str, note: str, *, actor: User | None, request=None) -> Task:
    """Record that ``task`` waits for the client (what, since now, why): the time counts as the
    client's (CT-09)."""
    _require_open(task)
    if awaiting not in Awaiting.values or not awaiting:
        raise ValidationError({"awaiting": _("Choose what is awaited from the client.")})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say what the client was asked for.")})
    with transaction.atomic():
        task.awaiting = awaiting
        task.awaiting_since = timezone.now()
        task.awaiting_note = note
        task.save(update_fields=["awaiting", "awaiting_since", "awaiting_note"])
        # The span the client's delay is counted from (CT-09: clients.waits.client_delay).
        waits.mirror(task, awaited=note, at=task.awaiting_since, user=actor)
        audit.record(
            "task.waiting",
            task,
            actor=actor,
            request=request,
            changes={"awaiting": awaiting, "note": note},
        )
    return task


def resume(task: Task, *, actor: User | None, request=None) -> Task:
    """The client answered: the task no longer waits."""
    _require_open(task)
    with transaction.atomic():
        since = task.awaiting_since
        task.awaiting, task.awaiting_since, task.awaiting_note = "", None, ""
        task.save(update_fields=["awaiting", "awaiting_since", "awaiting_note"])
        waits.mirror(task, awaited=None, at=timezone.now(), user=actor)
        audit.record(
            "task.resume",
            task,
            actor=actor,
            request=request,
            changes={"waited_since": since.isoformat() if since else None},
        )
    return task


def close_task(
    task: Task, *, actor: User | None, resolution: str, state: str = TaskState.DONE, request=None
) -> Task:
    """Close ``task`` with what was done (``state`` done or canceled)."""
    _require_open(task)
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": _("Say what was done.")})
    with transaction.atomic():
        task.state = state
        task.closed_at = timezone.now()
        task.closed_by = actor
        task.resolution = resolution
        task.awaiting, task.awaiting_since, task.awaiting_note = "", None, ""
        task.save(
            update_fields=[
                "state",
                "closed_at",
                "closed_by",
                "resolution",
                "awaiting",
                "awaiting_since",
                "awaiting_note",
            ]
        )
        waits.mirror(task, awaited=None, at=task.closed_at, user=actor)
        audit.record(
            "task.close",
            task,
            actor=actor,
            request=request,
            changes={"state": state, "resolution": resolution},
            actor_label=None if actor else "mamori",
        )
    return task


def reopen_task(task: Task, *, note: str) -> Task:
    """Open a closed task again (its cause came back); the operators are told again."""
    with transaction.atomic():
        previous = task.resolution
        task.state = TaskState.OPEN
        task.closed_at = None
        task.closed_by = None
        task.resolution = ""
        task.description = f"{task.description}\n\n{note}".strip()
        task.save(update_fields=["state", "closed_at", "closed_by", "resolution", "description"])
        audit.record(
            "task.reopen",
            task,
            changes={"note": note, "previous_resolution": previous},
            actor_label="mamori",
        )
    notices.enqueue(
        NoticeKind.TASK_OPENED,
        f"task-opened:{task.pk}:{timezone.now():%Y%m%d%H%M%S}",
        notices.operator_recipients(task.client),
        {"client": task.client, "task": task},
        client=task.client,
    )
    return task
