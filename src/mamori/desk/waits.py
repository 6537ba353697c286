"""Waiting on the client in the desk (CT-09), questions unanswered for a month and the
suspension of the work (NOT-05, 004 §44.3), personal-data incidents (ACC-04).

One function per write, its audit record and its notices in the same transaction; pages, the
API and the CLI call these. Refusals are :class:`~mamori.desk.services.DeskError`;
``PermissionDenied`` when the actor may not.

The one-month rule. 004 §44.3: the provider may stop the work when "1ヶ月を経過しても" the client
has not answered a question "from the day it was asked". Periods are counted as the Civil Code
counts them (art. 140, 143): the day of the question is not counted, and the month ends on the
day before the corresponding day of the next month, or on that month's last day when it has no
such day. With ``dateutil.relativedelta`` that is: the local date of the question plus one
month is the last day of the period (2026-01-15 → 2026-02-15; 2026-01-31 → 2026-02-28), and the
question is unanswered for a month from 00:00 (Asia/Tokyo) of the day after it (2026-02-16,
2026-03-01). See docs/desk-waits.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.clients import waits
from mamori.clients.models import Client, ClientWait, Contact, NoticeTopic
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, may_change
from mamori.desk.models import (
    ACTIVE_STATES,
    DataIncident,
    DataIncidentKind,
    Direction,
    Request,
    RequestMessage,
    RequestState,
)
from mamori.desk.services import DeskError
from mamori.notices import services as notices
from mamori.notices.models import NoticeKind, RecipientKind

#: The period after which an unanswered question may stop the work (004 §44.3).
ONE_MONTH = relativedelta(months=1)
#: Nothing younger than this can be a month old (the shortest month); a cheap first filter.
SHORTEST_MONTH = dt.timedelta(days=28)
#: How much of a message or of what is awaited the lists and notices quote.
QUOTE = 200


# --- waiting on the client for a request (CT-09) ------------------------------------------------


def _staff(actor: User | None, req: Request) -> None:
    if actor is not None and not may_change(actor, req, Rule.STAFF):
        raise PermissionDenied


def wait_on_client(
    req: Request,
    actor: User | None,
    awaited: str,
    *,
    since: dt.datetime | None = None,
    http_request=None,
) -> ClientWait:
    """Put ``req`` in "waiting for the client" (what is awaited, since when): the span is the
    client's delay, not counted against the provider's targets."""
    _staff(actor, req)
    if req.state not in ACTIVE_STATES:
        raise DeskError(_("The request is resolved or closed."))
    if since is not None and since < req.received_at:
        raise DeskError(_("The wait cannot begin before the request was received."), "since")
    try:
        return waits.start_waiting(
            req,
            awaited=awaited or "",
            since=since,
            user=actor,
            request=http_request,
            audit_action="request.wait",
        )
    except waits.WaitError as exc:
        raise DeskError(str(exc), exc.field) from None


def end_wait(
    req: Request, actor: User | None, *, until: dt.datetime | None = None, http_request=None
) -> ClientWait:
    """The client answered: ``req`` no longer waits."""
    _staff(actor, req)
    try:
        return waits.stop_waiting(
            req, until=until, user=actor, request=http_request, audit_action="request.wait_end"
        )
    except waits.WaitError as exc:
        raise DeskError(str(exc), exc.field) from None


# --- unanswered for a month (NOT-05) ------------------------------------------------------------


def month_passed_at(asked_at: dt.datetime) -> dt.datetime:
    """When a question asked at ``asked_at`` has been unanswered for one month (see the module's
    note): 00:00 local time of the day after the period's last day."""
    last_day = timezone.localdate(asked_at) + ONE_MONTH
    zone = timezone.get_default_timezone()
    return dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)


@dataclass
class Unanswered:
    """A question to the client, or a wait on the client, unanswered for a month."""

    kind: str  # "question" (a RequestMessage) or "wait" (a ClientWait)
    obj: RequestMessage | ClientWait
    client: Client
    task: object | None  # the request, or the waiting task (None if it was deleted)
    request: Request | None  # the desk request concerned, if any (it may be suspended)
    asked_at: dt.datetime
    month_passed_at: dt.datetime
    what: str

    @property
    def event_key(self) -> str:
        return f"desk-unanswered:{self.kind}:{self.obj.pk}"

    @property
    def url(self) -> str:
        if self.request is not None:
            return request_url(self.request)
        target = self.task
        return target.get_absolute_url() if hasattr(target, "get_absolute_url") else ""

    @property
    def task_label(self) -> str:
        if self.request is not None:
            return f"{self.request.number} {self.request.subject}"
        return str(self.task) if self.task is not None else ""

    def as_row(self) -> dict:
        """What the API and ``mamori desk unanswered --json`` say of it."""
        return {
            "kind": self.kind,
            "id": self.obj.pk,
            "client": self.client.code,
            "request": self.request.number if self.request is not None else None,
            "task": self.task_label,
            "what": self.what,
            "asked_at": self.asked_at,
            "unanswered_since": self.month_passed_at,
        }


def request_url(req: Request) -> str:
    """The request's page at its waiting part."""
    return req.get_absolute_url() + "#waiting"


def _quote(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= QUOTE else text[: QUOTE - 1] + "…"


def unanswered(user: User | None = None, now: dt.datetime | None = None) -> list[Unanswered]:
    """Everything asked of the client that has gone unanswered for a month, oldest first: open
    questions (outbound messages marked as questions, not answered) of active requests, and
    open waits on the client of any task. ``user`` limits it to what the user may see (None:
    everything, for the job)."""
    now = now or timezone.now()
    older = now - SHORTEST_MONTH
    questions = RequestMessage.objects.filter(
        direction=Direction.OUTBOUND,
        is_question=True,
        answered_at__isnull=True,
        at__lte=older,
        request__state__in=ACTIVE_STATES,
    ).select_related("request__client")
    open_waits = ClientWait.objects.open().filter(since__lte=older).select_related("client")
    if user is not None:
        questions = questions.visible_to(user)
        open_waits = open_waits.visible_to(user)
    found: list[Unanswered] = []
    for message in questions:
        passed = month_passed_at(message.at)
        if passed <= now:
            req = message.request
            found.append(
                Unanswered(
                    "question", message, req.client, req, req, message.at, passed, message.body
                )
            )
    for wait in open_waits:
        passed = month_passed_at(wait.since)
        if passed > now:
            continue
        task = wait.target
        req = task if isinstance(task, Request) else None
        if req is not None and req.state not in ACTIVE_STATES:
            continue
        found.append(
            Unanswered("wait", wait, wait.client, task, req, wait.since, passed, wait.awaited)
        )
    found.sort(key=lambda u: (u.asked_at, u.kind, u.obj.pk))
    for item in found:
        item.what = _quote(item.what)
    return found


def flag_unanswered(now: dt.datetime | None = None) -> int:
    """The periodic job ``desk_unanswered``: tell the operators, once per question or wait
    (the notice's event key), of everything unanswered for a month. Returns how many notices
    were queued now."""
    queued = 0
    for item in unanswered(None, now):
        result = notices.enqueue(
            NoticeKind.DESK_UNANSWERED,
            item.event_key,
            notices.operator_recipients(item.client),
            {
                "client": item.client,
                "req": item.request,
                "task_label": item.task_label,
                "what": item.what,
                "asked_at": item.asked_at,
                "question": item.kind == "question",
                "url": item.url,
            },
            client=item.client,
            links={"request": item.request} if item.request is not None else {},
        )
        queued += len(result.created)
    return queued


# --- suspension (NOT-05) ------------------------------------------------------------------------


def unanswered_of(req: Request, now: dt.datetime | None = None) -> list[Unanswered]:
    """What of ``req`` has gone unanswered for a month (the ground for suspending it)."""
    return [u for u in unanswered(None, now) if u.request is not None and u.request.pk == req.pk]


def client_recipients(req: Request) -> list[notices.Recipient]:
    """Who at the client is told about ``req``: its contact when it has an e-mail address,
    else the client's contacts who take contract notices, else all its contacts with one."""
    contact = req.contact
    if contact is not None and contact.email:
        return [
            notices.Recipient(
                RecipientKind.CONTACT, contact.email, contact.language, contact=contact
            )
        ]
    found = notices.contact_recipients(req.client, NoticeTopic.CONTRACTS)
    if found:
        return found
    return [
        notices.Recipient(RecipientKind.CONTACT, c.email, c.language, contact=c)
        for c in Contact.objects.filter(client=req.client).exclude(email="").order_by("pk")
    ]


def suspend(
    req: Request,
    actor: User | None,
    reason: str,
    *,
    now: dt.datetime | None = None,
    http_request=None,
) -> Request:
    """Suspend the work on ``req`` because the client has not answered for a month (004 §44.3):
    state ``suspended``, the time and the reason recorded, and the client told once (the
    notice's key is the suspension's; a second click finds the request suspended already)."""
    _staff(actor, req)
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise DeskError(_("Say why the work is suspended."), "reason")
    with transaction.atomic():
        req = Request.objects.select_for_update().get(pk=req.pk)
        if req.state == RequestState.SUSPENDED:
            raise DeskError(_("The request is suspended already."))
        if req.state not in ACTIVE_STATES:
            raise DeskError(_("The request is resolved or closed."))
        pending = unanswered_of(req, now)
        if not pending:
            raise DeskError(
                _(
                    "Nothing asked of the client on this request has gone unanswered for a "
                    "month: the work may be suspended only then (004 §44.3)."
                )
            )
        before = req.state
        req.state_before_suspension = before
        req.state = RequestState.SUSPENDED
        req.suspended_at = now
        req.suspension_reason = reason
        req.save(
            update_fields=[
                "state",
                "state_before_suspension",
                "suspended_at",
                "suspension_reason",
                "updated_at",
            ]
        )
        audit.record(
            "request.suspend",
            req,
            actor=actor,
            request=http_request,
            changes={"state": [before, req.state], "reason": reason, "at": now.isoformat()},
        )
        notices.enqueue(
            NoticeKind.REQUEST_SUSPENDED,
            f"request-suspended:{req.pk}:{now:%Y%m%dT%H%M%S.%f}",
            client_recipients(req),
            {
                "client": req.client,
                "req": req,
                "reason": reason,
                "suspended_at": now,
                "asked_at": pending[0].asked_at,
                "what": pending[0].what,
            },
            client=req.client,
            links={"request": req},
        )
    return req


def resume(req: Request, actor: User | None, *, http_request=None) -> Request:
    """Take the work on ``req`` up again: the state it had before the suspension."""
    _staff(actor, req)
    with transaction.atomic():
        req = Request.objects.select_for_update().get(pk=req.pk)
        if req.state != RequestState.SUSPENDED:
            raise DeskError(_("The request is not suspended."))
        req.state = req.state_before_suspension or RequestState.OPEN
        req.state_before_suspension = ""
        req.save(update_fields=["state", "state_before_suspension", "updated_at"])
        audit.record(
            "request.resume",
            req,
            actor=actor,
            request=http_request,
            changes={"state": [RequestState.SUSPENDED, req.state]},
        )
    return req


# --- personal-data incidents (ACC-04) -----------------------------------------------------------

#: The topic of a client's contacts that a personal-data incident goes to: it is a security
#: incident. When no contact takes it, every contact with an e-mail address is told (the
#: contracts oblige the provider to report at once: 001 §14, 004 §35.11(8)).
DATA_INCIDENT_TOPIC = NoticeTopic.INCIDENTS


def data_incident_recipients(client: Client) -> list[notices.Recipient]:
    """The client's contacts to report a personal-data incident to, then the operators."""
    found = notices.contact_recipients(client, DATA_INCIDENT_TOPIC)
    if not any(r.channel == "email" for r in found):
        found += [
            notices.Recipient(RecipientKind.CONTACT, c.email, c.language, contact=c)
            for c in Contact.objects.filter(client=client).exclude(email="").order_by("pk")
        ]
    addresses = {r.address.lower() for r in found}
    return found + [
        r for r in notices.operator_recipients(client) if r.address.lower() not in addresses
    ]


def _check_moment(at: dt.datetime | None, now: dt.datetime, field: str) -> None:
    if at is not None and at > now + waits.FUTURE_SLACK:
        raise DeskError(_("The time is in the future."), field)


def record_data_incident(
    client: Client,
    *,
    kind: str,
    what: str,
    whose: str,
    discovered_at: dt.datetime,
    contacts=(),
    occurred_at: dt.datetime | None = None,
    measures: str = "",
    actor: User | None,
    http_request=None,
) -> DataIncident:
    """Record a loss or theft of personal data of ``client``'s contacts and report it at once:
    the notice to the client's contacts and the operators is queued in the same transaction
    (``reported_at``). The record is kept; corrections go through :func:`add_measures`."""
    if actor is not None and not may_change(actor, client, Rule.STAFF):
        raise PermissionDenied
    now = timezone.now()
    if kind not in DataIncidentKind.values:
        raise DeskError(
            _("Unknown kind: use one of %(kinds)s.")
            % {"kinds": ", ".join(DataIncidentKind.values)},
            "kind",
        )
    what, whose, measures = (what or "").strip(), (whose or "").strip(), (measures or "").strip()
    if not what:
        raise DeskError(_("Say what data was lost, stolen or disclosed."), "what")
    if not whose:
        raise DeskError(_("Say whose data it is."), "whose")
    if discovered_at is None:
        raise DeskError(_("Say when it was discovered."), "discovered_at")
    _check_moment(discovered_at, now, "discovered_at")
    _check_moment(occurred_at, now, "occurred_at")
    if occurred_at is not None and occurred_at > discovered_at:
        raise DeskError(_("It cannot have occurred after it was discovered."), "occurred_at")
    contacts = list(contacts)
    if any(c.client_id != client.pk for c in contacts):
        raise DeskError(_("The contact is not this client's."), "contacts")
    with transaction.atomic():
        incident = DataIncident.objects.create(
            client=client,
            kind=kind,
            what=what,
            whose=whose,
            occurred_at=occurred_at,
            discovered_at=discovered_at,
            measures=measures,
            reported_at=now,
            recorded_by=actor,
        )
        incident.contacts.set(contacts)
        audit.record(
            "data_incident.record",
            incident,
            actor=actor,
            request=http_request,
            changes={
                "kind": kind,
                "discovered_at": discovered_at.isoformat(),
                "occurred_at": occurred_at.isoformat() if occurred_at else None,
                "contacts": [c.pk for c in contacts],
            },
        )
        notices.enqueue(
            NoticeKind.DATA_INCIDENT,
            f"data-incident:{incident.pk}",
            data_incident_recipients(client),
            {"client": client, "data_incident": incident, "url": incident.get_absolute_url()},
            client=client,
        )
    return incident


def add_measures(
    incident: DataIncident, actor: User | None, text: str, *, http_request=None
) -> DataIncident:
    """Add to the measures taken (a correction or a later step); what was there stays."""
    if actor is not None and not may_change(actor, incident, Rule.STAFF):
        raise PermissionDenied
    text = (text or "").strip()
    if not text:
        raise DeskError(_("Say what was done."), "text")
    with transaction.atomic():
        incident = DataIncident.objects.select_for_update().get(pk=incident.pk)
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        entry = f"[{stamp}] {text}"
        incident.measures = f"{incident.measures}\n\n{entry}".strip()
        incident.save(update_fields=["measures"])
        audit.record(
            "data_incident.measures",
            incident,
            actor=actor,
            request=http_request,
            changes={"added": text},
        )
    return incident
