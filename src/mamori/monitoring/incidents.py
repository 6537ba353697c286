"""Incidents: opened by a check's confirmed failure, closed by an operator (MON-03 to MON-05).

:func:`evaluate` runs inside the transaction that records each result of a check (see
``services.record_result``), so the incident, its timeline and its notices commit together
with the result or not at all: a crash or a second worker never opens an incident twice or
sends its notices twice (the notices' idempotency keys are ``incident:<pk>:opened`` and
``incident:<pk>:recovered``; a partial unique index allows one open incident per check).

Rules:

- a check whose confirmed state is ``down`` and has no open incident opens one, unless a
  maintenance window covers it at that moment (MON-06): inside a window nothing opens and
  nothing is sent; a failure that outlasts the window opens an incident when the window ends;
- the first successful run of a confirmed recovery recovers the open incident and sends one
  recovery notice;
- a failure confirmed within :data:`FLAP_WINDOW` of the previous incident's recovery reopens
  that incident instead of opening a new one, and sends nothing more: a flapping check does
  not flood anyone, and its downtime is counted as one outage;
- a check that is up and did not change costs no query at all; a check that stays down costs
  one (is its incident open?).

The timeline of a check's incident: ``detected`` at the first failed run, ``confirmed`` at the
run that confirmed the failure, ``notified`` when its notices were queued (same time),
``recovered`` at the first successful run of the confirmed recovery, ``recovery_notified`` at
the run that confirmed the recovery. Times are the runs' start times.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.clients import waits
from mamori.clients.models import ClientWait, NoticeTopic
from mamori.core import audit
from mamori.core.permissions import Rule, require_change
from mamori.monitoring import maintenance, outcomes
from mamori.monitoring.models import (
    Cause,
    Check,
    CheckState,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentState,
    Sample,
)
from mamori.notices.models import NoticeKind
from mamori.notices.services import enqueue, recipients_for
from mamori.probe.checks_result import CheckResult

log = logging.getLogger(__name__)

#: A failure confirmed this soon after a recovery reopens the recovered incident.
FLAP_WINDOW = dt.timedelta(minutes=30)


class IncidentError(ValidationError):
    """An action that the incident's state or the input does not allow: a ``ValidationError``
    naming the ``field`` it concerns (``__all__``: the action as a whole), which a page puts on
    its form and the API answers with 422; ``str()`` is the message."""

    def __init__(self, message, field: str = NON_FIELD_ERRORS, code: str = "invalid"):
        super().__init__({field: [ValidationError(message, code=code)]})
        self.field = field

    def __str__(self) -> str:
        return " ".join(str(m) for m in self.messages)


def evaluate(check: Check, result: CheckResult, at: dt.datetime, changed: bool) -> None:
    """Open, recover or leave alone the incident of ``check`` after the run started at ``at``.

    Cheap for the common case: a check that is up and did not change touches nothing.
    """
    if check.state == CheckState.DOWN:
        if Incident.objects.filter(uptime_check=check, state=IncidentState.OPEN).exists():
            return
        window = maintenance.active_window(check, at)
        if window is not None:
            return
        _open_or_reopen(check, result, at)
    elif changed and check.state == CheckState.UP:
        incident = Incident.objects.filter(uptime_check=check, state=IncidentState.OPEN).first()
        if incident is not None:
            recover(incident, _first_success(check, at), result, confirmed_at=at)


def _failing_since(check: Check, at: dt.datetime) -> dt.datetime:
    """When the current run of failures began: the first failed run after the last success
    (never before the end of a maintenance window that covered it)."""
    last_up = (
        Sample.objects.filter(uptime_check=check, ok=True, at__lt=at)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    failures = Sample.objects.filter(uptime_check=check, ok=False, at__lte=at)
    if last_up is not None:
        failures = failures.filter(at__gt=last_up)
    first = failures.order_by("at").values_list("at", flat=True).first() or at
    for start, end in maintenance.merged_periods(maintenance.windows_for(check), first, at):
        if start <= first < end:
            first = end
    return min(first, at)


def _first_success(check: Check, at: dt.datetime) -> dt.datetime:
    """The first successful run of the current run of successes (the recovery time)."""
    last_down = (
        Sample.objects.filter(uptime_check=check, ok=False, at__lt=at)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    successes = Sample.objects.filter(uptime_check=check, ok=True, at__lte=at)
    if last_down is not None:
        successes = successes.filter(at__gt=last_down)
    return successes.order_by("at").values_list("at", flat=True).first() or at


def _title(check: Check) -> str:
    """The check's name, led by its site or server unless the name already says which."""
    target = check.site or check.server
    return f"{target}: {check.name}" if target and str(target) not in check.name else check.name


def _found(check: Check, result: CheckResult) -> dict:
    """What an event written from a check's result stores so that it reads in any language:
    the code and the parameters of :func:`mamori.monitoring.outcomes.sentence` (the event's
    ``text`` keeps the probe's technical line for the operators)."""
    return {
        "error_code": result.error_code,
        "check_kind": check.kind,
        "params": outcomes.params_for(check, result),
    }


def _open_or_reopen(check: Check, result: CheckResult, at: dt.datetime) -> Incident:
    recent = (
        Incident.objects.filter(
            uptime_check=check,
            state=IncidentState.RECOVERED,
            recovered_at__gte=at - FLAP_WINDOW,
        )
        .order_by("-recovered_at")
        .first()
    )
    if recent is not None:
        recent.state, recent.recovered_at = IncidentState.OPEN, None
        recent.save(update_fields=["state", "recovered_at"])
        add_event(
            recent,
            IncidentEventKind.REOPENED,
            at=at,
            text=result.detail,
            data=_found(check, result),
        )
        return recent
    started = _failing_since(check, at)
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                client_id=check.client_id,
                uptime_check=check,
                site_id=check.site_id,
                server_id=check.server_id,
                title=_title(check)[:300],
                started_at=started,
                confirmed_at=at,
            )
    except IntegrityError:
        # Another worker opened it between our look and our insert (one_open_incident_per_check):
        # that worker's transaction has its events and notices.
        return Incident.objects.get(uptime_check=check, state=IncidentState.OPEN)
    add_event(
        incident,
        IncidentEventKind.DETECTED,
        at=started,
        text=result.detail,
        data=_found(check, result),
    )
    add_event(
        incident,
        IncidentEventKind.CONFIRMED,
        at=at,
        text=result.detail,
        data={**_found(check, result), "failures": check.consecutive_failures},
    )
    _notify(incident, NoticeKind.INCIDENT_OPENED, "opened", IncidentEventKind.NOTIFIED, at)
    return incident


def recover(
    incident: Incident,
    at: dt.datetime,
    result: CheckResult | None = None,
    *,
    confirmed_at: dt.datetime | None = None,
) -> None:
    """Mark ``incident`` recovered at ``at`` (the first successful run) and notify its
    recipients once; ``confirmed_at`` is the run that confirmed the recovery (default: now).
    A reopened incident (flapping) was notified of its recovery already: nothing is sent."""
    incident.state, incident.recovered_at = IncidentState.RECOVERED, at
    incident.save(update_fields=["state", "recovered_at"])
    add_event(
        incident,
        IncidentEventKind.RECOVERED,
        at=at,
        text=result.detail if result else "",
        data=_found(incident.uptime_check, result) if result and incident.uptime_check else {},
    )
    _notify(
        incident,
        NoticeKind.INCIDENT_RECOVERED,
        "recovered",
        IncidentEventKind.RECOVERY_NOTIFIED,
        confirmed_at or timezone.now(),
    )


def _notify(incident: Incident, kind: str, step: str, event: str, at: dt.datetime) -> None:
    """Queue one notice per recipient and channel: the client's contacts who receive
    incidents, and the operators. Each notice is a row in the outbox before it is sent."""
    recipients = recipients_for(incident.client, NoticeTopic.INCIDENTS)
    queued = enqueue(
        kind,
        f"incident:{incident.pk}:{step}",
        recipients,
        {"incident": incident, "client": incident.client, "check": incident.uptime_check},
        client=incident.client,
        links={"incident": incident},
    )
    if queued.created:
        contacts = sum(1 for n in queued.created if n.recipient_kind == "contact")
        add_event(
            incident,
            event,
            at=at,
            data={"notices": len(queued.created), "to_contacts": contacts},
        )


def add_event(
    incident: Incident,
    kind: str,
    *,
    at: dt.datetime | None = None,
    user=None,
    text: str = "",
    minutes: int | None = None,
    billable: bool = False,
    data: dict | None = None,
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        at=at or timezone.now(),
        user=user,
        text=text,
        minutes=minutes,
        billable=billable,
        data=data or {},
    )


# --- people's actions (pages and API) ------------------------------------------------------------
#
# One function per write, for the incident pages and the API alike: each asks
# :func:`mamori.core.permissions.may_change` (``STAFF`` for the provider's work on the incident;
# ``EDITOR`` for a note, which the client's administrators may add too), validates, and writes
# the incident, its timeline event and its audit record in one transaction. ``user`` None is
# Mamori itself. Refusals are ``PermissionDenied``; invalid actions :class:`IncidentError`.

#: Who may add a note: provider staff who see the client, and the client's administrators.
NOTE_RULE = Rule.EDITOR


def _allowed(user, incident: Incident, rule: Rule | None = None) -> None:
    if user is not None:
        require_change(user, incident, rule)


def _locked(incident: Incident) -> Incident:
    """The incident's row, locked for the action (a second click waits, then sees the first)."""
    fresh = Incident.objects.select_for_update().get(pk=incident.pk)
    for field in fresh._meta.concrete_fields:
        setattr(incident, field.attname, getattr(fresh, field.attname))
    return incident


def acknowledge(incident: Incident, user, *, request=None) -> None:
    _allowed(user, incident)
    with transaction.atomic():
        _locked(incident)
        if incident.acknowledged_at is not None:
            raise IncidentError(_("The incident is already acknowledged."))
        incident.acknowledged_at, incident.acknowledged_by = timezone.now(), user
        incident.save(update_fields=["acknowledged_at", "acknowledged_by"])
        add_event(incident, IncidentEventKind.ACKNOWLEDGED, at=incident.acknowledged_at, user=user)
        audit.record("incident.acknowledge", incident, actor=user, request=request)


def set_cause(
    incident: Incident,
    user,
    cause: str,
    detail: str = "",
    *,
    impact: str | None = None,
    actions: str | None = None,
    prevention: str | None = None,
    request=None,
) -> None:
    """Attribute the incident (MON-05; the SLA reads the cause) and write its report's impact,
    actions and prevention (``None``: unchanged). A cause set again as it is adds no event."""
    _allowed(user, incident)
    if cause not in Cause.values:
        raise IncidentError(_("Unknown cause."), "cause")
    with transaction.atomic():
        _locked(incident)
        before = incident.cause
        if cause != incident.cause or detail != incident.cause_detail:
            incident.cause, incident.cause_detail = cause, detail
            incident.save(update_fields=["cause", "cause_detail"])
            add_event(
                incident,
                IncidentEventKind.CAUSE_SET,
                user=user,
                text=detail,
                data={"from": before, "to": cause},
            )
        report = {"impact": impact, "actions": actions, "prevention": prevention}
        fields = [name for name, value in report.items() if value is not None]
        for name in fields:
            setattr(incident, name, report[name])
        if fields:
            incident.save(update_fields=fields)
        audit.record(
            "incident.cause",
            incident,
            actor=user,
            request=request,
            changes={"cause": [before, incident.cause]},
        )


def close_refusal(incident: Incident) -> str | None:
    """Why ``incident`` cannot be closed now (a message in the reader's language), or None.

    While its check is down (and not paused) an incident stays open, with no override: closing
    it would cut the outage short in the SLA, and the check's next failed run would open a new
    incident at once. It recovers by itself when the check does; a check that is wrong is paused
    first (with a note saying why), and its incident can then be closed.
    """
    if incident.state == IncidentState.CLOSED:
        return _("The incident is already closed.")
    check = incident.uptime_check if incident.uptime_check_id is not None else None
    if (
        check is not None
        and check.enabled
        and (incident.state == IncidentState.OPEN or check.state == CheckState.DOWN)
    ):
        return _("The check is still down: the incident can be closed once it has recovered.")
    if incident.cause == Cause.UNATTRIBUTED:
        return _("Set the cause before closing the incident.")
    return None


def close(incident: Incident, user, *, request=None) -> None:
    """Close a recovered incident (or an operator's own incident) once its cause is set; refused
    with :func:`close_refusal`'s reason otherwise. Closing never sets the recovery time: an
    incident opened by hand gets it from :func:`record_recovery`."""
    _allowed(user, incident)
    with transaction.atomic():
        _locked(incident)
        if incident.uptime_check_id is not None:
            incident.uptime_check.refresh_from_db(fields=["state", "enabled"])
        refusal = close_refusal(incident)
        if refusal is not None:
            raise IncidentError(refusal)
        incident.state, incident.closed_at, incident.closed_by = (
            IncidentState.CLOSED,
            timezone.now(),
            user,
        )
        # Closing is not recovering: an incident opened by hand keeps its recorded recovery
        # (or none yet: record_recovery), which is what the SLA measures.
        incident.save(update_fields=["state", "closed_at", "closed_by"])
        add_event(incident, IncidentEventKind.CLOSED, at=incident.closed_at, user=user)
        audit.record("incident.close", incident, actor=user, request=request)


def open_manual(
    client,
    user,
    title: str,
    *,
    started_at: dt.datetime | None = None,
    site=None,
    server=None,
    total_outage: bool = True,
    notify: bool = True,
    request=None,
) -> Incident:
    """An incident an operator records (a report from the client, an attack seen in the logs),
    with or without a check. Notified like a check's incident unless ``notify`` is false."""
    if user is not None:
        require_change(user, client, Incident.change_rule)
    now = timezone.now()
    errors: dict[str, list] = {}
    if not title.strip():
        errors["title"] = [_("Give the incident a title.")]
    for name, target in (("site", site), ("server", server)):
        if target is not None and target.client_id != client.pk:
            errors[name] = [_("It belongs to another client.")]
    if started_at is not None and started_at > now + dt.timedelta(minutes=5):
        errors["started_at"] = [_("The time is in the future.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        incident = Incident.objects.create(
            client=client,
            site=site,
            server=server,
            title=title[:300],
            started_at=started_at or now,
            confirmed_at=now,
            total_outage=total_outage,
        )
        add_event(incident, IncidentEventKind.CONFIRMED, at=now, user=user, text=title)
        if notify:
            _notify(incident, NoticeKind.INCIDENT_OPENED, "opened", IncidentEventKind.NOTIFIED, now)
        audit.record(
            "incident.open",
            incident,
            actor=user,
            request=request,
            changes={"title": incident.title, "notify": notify},
        )
    return incident


def record_emergency_measure(
    incident: Incident,
    user,
    text: str,
    *,
    at: dt.datetime | None = None,
    minutes: int | None,
    request=None,
) -> IncidentEvent:
    """An emergency measure (MON-08: blocking an attack, rotating a leaked credential): who,
    when, what, and the minutes spent, billable as extra work."""
    _allowed(user, incident)
    if not text.strip():
        raise IncidentError(_("Describe the measure taken."), "text")
    with transaction.atomic():
        event = add_event(
            incident,
            IncidentEventKind.EMERGENCY_MEASURE,
            at=at,
            user=user,
            text=text,
            minutes=minutes,
            billable=True,
        )
        audit.record(
            "incident.emergency_measure",
            incident,
            actor=user,
            request=request,
            changes={"minutes": event.minutes, "billable": event.billable},
        )
    return event


def record_emergency_stop(
    incident: Incident, user, reason: str, *, at: dt.datetime | None = None, request=None
) -> IncidentEvent:
    """An emergency stop of the client's system (MON-09, 004 §22): the reason and the time."""
    _allowed(user, incident)
    if not reason.strip():
        raise IncidentError(_("Give the reason for the stop."), "reason")
    if at is not None and at > timezone.now() + dt.timedelta(minutes=5):
        raise IncidentError(_("The time is in the future."), "at")
    with transaction.atomic():
        event = add_event(incident, IncidentEventKind.EMERGENCY_STOP, at=at, user=user, text=reason)
        audit.record(
            "incident.emergency_stop",
            incident,
            actor=user,
            request=request,
            changes={"at": event.at},
        )
    return event


def add_note(incident: Incident, user, text: str, *, request=None) -> IncidentEvent:
    """A note on the timeline, by provider staff or the client's administrators (MON-03)."""
    _allowed(user, incident, NOTE_RULE)
    if not text.strip():
        raise IncidentError(_("The note is empty."), "text")
    with transaction.atomic():
        event = add_event(incident, IncidentEventKind.NOTE, user=user, text=text)
        audit.record("incident.note", incident, actor=user, request=request)
    return event


def record_recovery(incident: Incident, user, at: dt.datetime, *, request=None) -> None:
    """Record when the service came back, for an incident opened by hand or closed while its
    check was paused (a check's incident otherwise recovers by itself). May be corrected
    later; the SLA measures the outage up to it, not up to the closing time. An open incident
    becomes recovered (and the client's contacts are told once, if they were told of the
    opening)."""
    _allowed(user, incident)
    if not incident.recovery_by_hand:
        raise IncidentError(_("This incident recovers when its check does."))
    if at is None:
        raise IncidentError(_("Give the time the service came back."), "recovered_at")
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise IncidentError(_("The time is in the future."), "recovered_at")
    with transaction.atomic():
        _locked(incident)
        if at < incident.started_at:
            raise IncidentError(_("The recovery comes before the start."), "recovered_at")
        before = incident.recovered_at
        incident.recovered_at = at
        fields = ["recovered_at"]
        if incident.state == IncidentState.OPEN:
            incident.state = IncidentState.RECOVERED
            fields.append("state")
        incident.save(update_fields=fields)
        add_event(
            incident,
            IncidentEventKind.RECOVERED,
            at=at,
            user=user,
            data={"recorded": True, "previous": before.isoformat() if before else None},
        )
        if before is None and incident.events.filter(kind=IncidentEventKind.NOTIFIED).exists():
            _notify(
                incident,
                NoticeKind.INCIDENT_RECOVERED,
                "recovered",
                IncidentEventKind.RECOVERY_NOTIFIED,
                timezone.now(),
            )
        audit.record(
            "incident.recovery",
            incident,
            actor=user,
            request=request,
            changes={"recovered_at": [before, at]},
        )


def wait_for_client(
    incident: Incident,
    user,
    awaited: str,
    *,
    since: dt.datetime | None = None,
    request=None,
) -> ClientWait:
    """Put the incident in "waiting for the client" (CT-09): what is awaited, since when. The
    time is the client's delay: the SLA leaves it out of the provider's downtime."""
    _allowed(user, incident)
    if incident.state == IncidentState.CLOSED:
        raise IncidentError(_("The incident is closed."))
    if since is not None and since < incident.started_at:
        raise IncidentError(_("The wait cannot begin before the incident."), "since")
    with transaction.atomic():
        _locked(incident)
        try:
            wait = waits.start_waiting(
                incident,
                awaited=awaited,
                since=since,
                user=user,
                request=request,
                audit_action="incident.wait",
            )
        except waits.WaitError as exc:
            raise IncidentError(str(exc), exc.field or NON_FIELD_ERRORS) from None
        add_event(incident, IncidentEventKind.WAITING, at=wait.since, user=user, text=wait.awaited)
    return wait


def end_client_wait(
    incident: Incident, user, *, until: dt.datetime | None = None, request=None
) -> ClientWait:
    """The client answered: the incident no longer waits (CT-09)."""
    _allowed(user, incident)
    with transaction.atomic():
        _locked(incident)
        try:
            wait = waits.stop_waiting(
                incident, until=until, user=user, request=request, audit_action="incident.wait_end"
            )
        except waits.WaitError as exc:
            raise IncidentError(str(exc), exc.field or NON_FIELD_ERRORS) from None
        add_event(
            incident,
            IncidentEventKind.WAITING_ENDED,
            at=wait.until,
            user=user,
            text=wait.awaited,
            data={"minutes": int((wait.until - wait.since).total_seconds() // 60)},
        )
    return wait
