"""The work log of requests (MNT-03): who worked on a request, when, how long and what was done.

:func:`month_work` is the one source of a client's work in a month (Tokyo time): the monthly
report reads it. Entries are written by the provider's staff who see the client; each person
changes or deletes their own entries (a provider administrator may correct anyone's). Every
write has its audit event in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.models import Role, User
from mamori.core.permissions import Rule, may_change
from mamori.desk.classify import month_bounds
from mamori.desk.models import Request, WorkLog
from mamori.desk.services import DeskError

MAX_MINUTES = 24 * 60
MAX_TEXT = 5000
#: How far ahead of the clock an entry may be dated (the clocks of a laptop and the server).
CLOCK_SLACK = dt.timedelta(minutes=5)


def _checked(minutes, text: str, at: dt.datetime) -> tuple[int, str, dt.datetime]:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        try:
            minutes = int(str(minutes).strip())
        except ValueError:
            raise DeskError(_("Give the time spent in whole minutes."), "minutes") from None
    if not 1 <= minutes <= MAX_MINUTES:
        raise DeskError(
            _("Give the time spent in whole minutes, from 1 to %(max)d.") % {"max": MAX_MINUTES},
            "minutes",
        )
    text = (text or "").strip()
    if not text:
        raise DeskError(_("Say what was done."), "text")
    if len(text) > MAX_TEXT:
        raise DeskError(_("At most %(n)d characters.") % {"n": MAX_TEXT}, "text")
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    if at > timezone.now() + CLOCK_SLACK:
        raise DeskError(_("Work cannot be logged in the future."), "at")
    return minutes, text, at


def may_log(user: User | None, req: Request) -> bool:
    return may_change(user, req, Rule.STAFF)


def may_edit_entry(user: User | None, entry: WorkLog) -> bool:
    """The entry's author, or a provider administrator, among the staff who see the client."""
    if not may_change(user, entry.request, Rule.STAFF):
        return False
    return entry.user_id == user.pk or user.is_superuser or user.role == Role.PROVIDER_ADMIN


def log_work(
    req: Request,
    minutes: int,
    text: str,
    at: dt.datetime | None,
    actor: User | None,
    *,
    http_request=None,
) -> WorkLog:
    """A work log entry on ``req`` by ``actor``; ``DeskError`` for bad values,
    ``PermissionDenied`` unless the actor is the provider's staff who see the client."""
    if actor is not None and not may_log(actor, req):
        raise PermissionDenied
    minutes, text, at = _checked(minutes, text, at or timezone.now())
    with transaction.atomic():
        entry = WorkLog.objects.create(request=req, user=actor, at=at, minutes=minutes, text=text)
        audit.record(
            "work.create",
            req,
            actor=actor,
            request=http_request,
            changes={"entry": entry.pk, "minutes": minutes, "at": at.isoformat()},
            client_id=req.client_id,
        )
    return entry


def change_work(
    entry: WorkLog,
    actor: User | None,
    *,
    minutes: int | None = None,
    text: str | None = None,
    at: dt.datetime | None = None,
    http_request=None,
) -> dict[str, list]:
    """Change an entry (its author or a provider administrator); ``{field: [old, new]}``."""
    if actor is not None and not may_edit_entry(actor, entry):
        raise PermissionDenied
    new = _checked(
        entry.minutes if minutes is None else minutes,
        entry.text if text is None else text,
        entry.at if at is None else at,
    )
    changed = {
        name: [old, value]
        for name, old, value in zip(
            ("minutes", "text", "at"), (entry.minutes, entry.text, entry.at), new, strict=True
        )
        if old != value
    }
    if not changed:
        return {}
    entry.minutes, entry.text, entry.at = new
    with transaction.atomic():
        entry.save(update_fields=["minutes", "text", "at"])
        audited = {k: v for k, v in changed.items() if k != "text"}
        if "at" in audited:
            audited["at"] = [v.isoformat() for v in audited["at"]]
        if "text" in changed:
            audited["text"] = True
        audit.record(
            "work.update",
            entry.request,
            actor=actor,
            request=http_request,
            changes={"entry": entry.pk, **audited},
            client_id=entry.request.client_id,
        )
    return changed


def delete_work(entry: WorkLog, actor: User | None, *, http_request=None) -> None:
    if actor is not None and not may_edit_entry(actor, entry):
        raise PermissionDenied
    with transaction.atomic():
        audit.record(
            "work.delete",
            entry.request,
            actor=actor,
            request=http_request,
            changes={"entry": entry.pk, "minutes": entry.minutes, "at": entry.at.isoformat()},
            client_id=entry.request.client_id,
        )
        entry.delete()


# --- the month's work ------------------------------------------------------------------------


@dataclass
class RequestWork:
    request: Request
    entries: list[WorkLog] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        return sum(e.minutes for e in self.entries)


@dataclass
class MonthWork:
    client: Client
    month: dt.date
    requests: list[RequestWork]

    @property
    def minutes(self) -> int:
        return sum(r.minutes for r in self.requests)

    def as_dict(self) -> dict:
        return {
            "client": self.client.code,
            "month": f"{self.month:%Y-%m}",
            "minutes": self.minutes,
            "requests": [
                {
                    "request": r.request.number,
                    "subject": r.request.subject,
                    "scope": r.request.scope,
                    "item": r.request.catalogue_item.code if r.request.catalogue_item else None,
                    "minutes": r.minutes,
                    "entries": [
                        {
                            "id": e.pk,
                            "at": e.at.isoformat(),
                            "minutes": e.minutes,
                            "by": e.user.get_username() if e.user else None,
                            "text": e.text,
                        }
                        for e in r.entries
                    ],
                }
                for r in self.requests
            ],
        }


def month_work(client: Client, month: dt.date) -> MonthWork:
    """``client``'s work logged in ``month`` (any day of it; the month in Tokyo), by request
    in the order the requests were received, each with its entries in time order."""
    month = month.replace(day=1)
    start, end = month_bounds(month)
    entries = (
        WorkLog.objects.filter(request__client=client, at__gte=start, at__lt=end)
        .select_related("request__catalogue_item", "user")
        .order_by("request__received_at", "request_id", "at", "pk")
    )
    grouped: dict[int, RequestWork] = {}
    for entry in entries:
        grouped.setdefault(entry.request_id, RequestWork(entry.request)).entries.append(entry)
    return MonthWork(client, month, list(grouped.values()))
