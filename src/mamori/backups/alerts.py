"""A failed or missed run opens an incident for the client (BKP-02) and alerts operators once.

The incident is monitoring's :class:`~mamori.monitoring.models.Incident`, opened by Mamori with
cause ``provider`` (the provider runs the backups; an operator sets another cause when it is
known), not a total outage (a backup failing does not stop the client's service, so it never
counts against the SLA's downtime). While the job's incident is open, later failures add an
event to its timeline and send nothing more; the next successful run marks it recovered (the
operator closes it). Events store codes and parameters; restic's output is kept as the event's
technical text for the operators.
"""

from __future__ import annotations

from django.utils import timezone

from mamori.monitoring import incidents
from mamori.monitoring.models import Cause, Incident, IncidentEventKind, IncidentState
from mamori.notices import services as notices
from mamori.notices.models import NoticeKind


def _title(job) -> str:
    target = job.site or job.server
    return (f"{target}: {job.name}" if target and str(target) not in job.name else job.name)[:300]


def _found(run) -> dict:
    return {"backup_run": run.pk, "backup_kind": run.kind, "backup_failure": run.failure}


def failed(job, run) -> Incident:
    """Within the transaction that recorded ``run`` failed (or missed)."""
    now = timezone.now()
    incident = None
    if job.incident_id:
        incident = Incident.objects.filter(pk=job.incident_id, state=IncidentState.OPEN).first()
    if incident is not None:
        incidents.add_event(
            incident, IncidentEventKind.NOTE, at=now, text=run.error[:2000], data=_found(run)
        )
        return incident
    incident = Incident.objects.create(
        client_id=job.client_id,
        site_id=job.site_id,
        server_id=job.server_id,
        title=_title(job),
        total_outage=False,
        cause=Cause.PROVIDER,
        started_at=run.started_at or run.due_at or now,
        confirmed_at=now,
    )
    incidents.add_event(
        incident, IncidentEventKind.CONFIRMED, at=now, text=run.error[:2000], data=_found(run)
    )
    type(job).objects.filter(pk=job.pk).update(incident=incident)
    job.incident = incident
    queued = notices.enqueue(
        NoticeKind.BACKUP_FAILED,
        f"backup-incident:{incident.pk}",
        notices.operator_recipients(job.client),
        {"client": job.client, "job": job, "run": run, "incident": incident},
        client=job.client,
        links={"incident": incident},
    )
    if queued.created:
        incidents.add_event(
            incident,
            IncidentEventKind.NOTIFIED,
            at=now,
            data={"notices": len(queued.created), "to_contacts": 0},
        )
    return incident


def succeeded(job, run) -> None:
    """A successful backup recovers the job's open incident (nothing is sent)."""
    if not job.incident_id:
        return
    incident = Incident.objects.filter(pk=job.incident_id, state=IncidentState.OPEN).first()
    if incident is not None:
        incident.state, incident.recovered_at = IncidentState.RECOVERED, run.ended_at
        incident.save(update_fields=["state", "recovered_at"])
        incidents.add_event(
            incident, IncidentEventKind.RECOVERED, at=run.ended_at, data=_found(run)
        )
    type(job).objects.filter(pk=job.pk).update(incident=None)
    job.incident = None
