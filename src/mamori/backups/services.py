"""Backup jobs and their runs (BKP-01, BKP-02): one function per write, for the pages, the API
and the CLI alike, each with its audit record in the same transaction.

A run is a :class:`~mamori.backups.models.BackupRun` row in state ``running`` before restic
starts; a partial unique index allows one running run per job, so a second start (another
process, a second click, the scheduler while a long backup runs) is refused with :class:`Busy`.
The row names the host and process running it: :func:`reap_stale` records as failed a run whose
process is gone (same host) or whose time limit has passed, and the job is retried on a
back-off. A failed or missed run opens an incident for the client and alerts operators once
(:mod:`mamori.backups.alerts`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import random
import socket
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mamori.backups import alerts, restic
from mamori.backups.models import BackupJob, BackupRun, RunKind, RunOn, RunState
from mamori.core import audit
from mamori.core.permissions import require_change
from mamori.vault import services as vault

log = logging.getLogger(__name__)

#: Minutes to wait before retrying after the n-th failure in a row; the last value repeats
#: until the next scheduled time comes first.
RETRY_MINUTES = [5, 30, 120]
#: A backup not started this long after it was due is recorded as missed.
MISSED_AFTER = dt.timedelta(minutes=15)
#: A failed drill is tried again this much later.
DRILL_RETRY = dt.timedelta(hours=1)

JOB_FIELDS = [
    "name",
    "contract",
    "site",
    "server",
    "paths",
    "dump_command",
    "dump_filename",
    "dump_load",
    "dump_load_connection",
    "dump_load_password",
    "interval_hours",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "repository",
    "repository_password",
    "repository_key",
    "repository_host_key",
    "repository_access_key_id",
    "repository_secret_access_key",
    "run_on",
    "ssh_host",
    "ssh_port",
    "ssh_username",
    "ssh_secret",
    "ssh_host_key",
    "drill_every_days",
    "drill_read_percent",
    "drill_files",
    "timeout_minutes",
    "enabled",
]


class Busy(Exception):
    """Another run of the job is running (or this scheduled time was taken already)."""


def _audit_changes(job: BackupJob, names) -> dict:
    changes = {}
    for name in names:
        value = getattr(job, f"{name}_id" if hasattr(job, f"{name}_id") else name)
        changes[name] = value if isinstance(value, int | bool | str | None) else str(value)
    return changes


# --- jobs ----------------------------------------------------------------------------------------


def create_job(client, user, *, request=None, **fields) -> BackupJob:
    """A new backup job of ``client``; first run and drill due now (``next_*_at``)."""
    unknown = set(fields) - set(JOB_FIELDS)
    if unknown:
        raise TypeError(f"unknown backup job fields: {sorted(unknown)}")
    job = BackupJob(client=client, **fields)
    if user is not None:
        require_change(user, job)
    now = timezone.now()
    job.next_run_at = now if job.enabled else None
    job.next_drill_at = now + dt.timedelta(hours=1) if job.drill_every_days else None
    job.full_clean()
    with transaction.atomic():
        job.save()
        audit.record(
            "backup_job.create",
            job,
            actor=user,
            request=request,
            changes=_audit_changes(job, fields),
        )
    return job


def update_job(job: BackupJob, user, *, request=None, **fields) -> BackupJob:
    unknown = set(fields) - set(JOB_FIELDS)
    if unknown:
        raise TypeError(f"unknown backup job fields: {sorted(unknown)}")
    if user is not None:
        require_change(user, job)
    for name, value in fields.items():
        setattr(job, name, value)
    if "interval_hours" in fields or "enabled" in fields:
        job.next_run_at = (
            timezone.now()
            if job.enabled and job.next_run_at is None
            else (job.next_run_at if job.enabled else None)
        )
    if "drill_every_days" in fields and not job.drill_every_days:
        job.next_drill_at = None
    elif "drill_every_days" in fields and job.next_drill_at is None:
        job.next_drill_at = timezone.now()
    job.full_clean()
    with transaction.atomic():
        job.save()
        audit.record(
            "backup_job.update",
            job,
            actor=user,
            request=request,
            changes=_audit_changes(job, fields),
        )
    return job


def request_now(job: BackupJob, user, kind: str, *, request=None) -> BackupJob:
    """Make the job's backup (``kind`` "backup") or drill ("drill") due now: the periodic pass
    starts it within a minute, in its own process (pages and the API do not wait for restic)."""
    if user is not None:
        require_change(user, job)
    if kind not in (RunKind.BACKUP, RunKind.DRILL):
        raise ValueError(kind)
    field = "next_run_at" if kind == RunKind.BACKUP else "next_drill_at"
    now = timezone.now()
    with transaction.atomic():
        BackupJob.objects.filter(pk=job.pk).update(**{field: now})
        setattr(job, field, now)
        audit.record(f"backup_job.{kind}_now", job, actor=user, request=request)
    return job


# --- running -------------------------------------------------------------------------------------


def _repository(job: BackupJob) -> restic.Repository:
    return restic.Repository(
        url=job.repository.strip(),
        password=vault.decrypt_for_export(job.repository_password),
        ssh_key=vault.decrypt_for_export(job.repository_key) if job.repository_key_id else None,
        host_key=job.repository_host_key,
        s3_access_key_id=(
            vault.decrypt_for_export(job.repository_access_key_id)
            if job.repository_access_key_id_id
            else None
        ),
        s3_secret_access_key=(
            vault.decrypt_for_export(job.repository_secret_access_key)
            if job.repository_secret_access_key_id
            else None
        ),
    )


@contextlib.contextmanager
def open_restic(job: BackupJob) -> Iterator[restic.Restic]:
    """restic for ``job``, where the job runs: the Mamori host or the server over SSH."""
    repository = _repository(job)
    timeout = job.timeout_minutes * 60
    if job.run_on == RunOn.MAMORI:
        executor = restic.LocalExecutor()
        try:
            yield restic.Restic(executor, repository, timeout=timeout)
        finally:
            executor.close()
        return
    from mamori.lifecycle import ssh

    with ssh.sync_session(
        job.ssh_host.strip(),
        job.ssh_port,
        job.ssh_username.strip(),
        job.ssh_secret,
        job.ssh_host_key,
    ) as remote:
        executor = restic.RemoteExecutor(remote)
        try:
            yield restic.Restic(executor, repository, timeout=timeout)
        finally:
            with contextlib.suppress(Exception):
                executor.close()


#: restic tags: the job's own, and which part of it a snapshot holds.
PATHS_TAG, DUMP_TAG = "mamori-paths", "mamori-dump"


def job_tag(job: BackupJob) -> str:
    return f"mamori-job-{job.pk}"


def _host_name() -> str:
    return socket.gethostname()[:255]


def start_run(
    job: BackupJob, kind: str, *, due_at=None, attempt: int = 1, user=None, **fields
) -> BackupRun:
    """The run's row, in state ``running``, before anything runs. Raises :class:`Busy` if the
    job has a running run or the scheduled time was taken."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return BackupRun.objects.create(
                job=job,
                kind=kind,
                state=RunState.RUNNING,
                due_at=due_at,
                attempt=attempt,
                started_at=now,
                host=_host_name(),
                pid=os.getpid(),
                lease_until=now + dt.timedelta(minutes=job.timeout_minutes + 10),
                requested_by=user,
                **fields,
            )
    except IntegrityError:
        raise Busy(f"backup job {job.pk} is running already") from None


def _finish(run: BackupRun, state: str, **fields) -> None:
    run.state, run.ended_at = state, timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    run.lease_until = None
    run.save()


def _failed(run: BackupRun, exc: Exception) -> None:
    """Record the run failed with what restic (or SSH) said, then what follows from it."""
    if isinstance(exc, restic.ResticError):
        code = "timeout" if exc.result.status == -1 else "exit"
        fields = {"exit_code": exc.result.status, "error": exc.output, "failure": code}
        fields["details"] = {**run.details, "step": exc.step}
    else:
        fields = {"error": str(exc)[: restic.ERROR_LIMIT], "failure": "error"}
    with transaction.atomic():
        _finish(run, RunState.FAILED, **fields)
        _after_failure(run)


def _after_failure(run: BackupRun) -> None:
    job = BackupJob.objects.select_for_update().get(pk=run.job_id)
    if run.kind == RunKind.BACKUP:
        job.failures += 1
        delay = dt.timedelta(minutes=RETRY_MINUTES[min(job.failures, len(RETRY_MINUTES)) - 1])
        regular = (run.due_at or run.started_at) + dt.timedelta(hours=job.interval_hours)
        job.next_run_at = min(timezone.now() + delay, regular) if job.enabled else None
        job.save(update_fields=["failures", "next_run_at"])
    elif run.kind == RunKind.DRILL and job.drill_every_days:
        job.next_drill_at = timezone.now() + DRILL_RETRY
        job.save(update_fields=["next_drill_at"])
    if run.kind != RunKind.RESTORE:
        alerts.failed(job, run)


def run_backup(job: BackupJob, *, due_at=None, user=None) -> BackupRun:
    """One backup of ``job``: init the repository if needed, back up the paths and the dump,
    forget and prune by the policy. Returns the recorded run (succeeded or failed)."""
    attempt = job.failures + 1 if due_at is not None else 1
    run = start_run(job, RunKind.BACKUP, due_at=due_at, attempt=attempt, user=user)
    if user is not None:
        audit.record("backup_run.start", run, actor=user, client_id=job.client_id)
    try:
        with open_restic(job) as r:
            created = r.ensure_initialised()
            r.unlock()
            host = f"mamori-{job.client.code}"[:60]
            summaries = []
            if job.path_list:
                summaries.append(r.backup(job.path_list, [job_tag(job), PATHS_TAG], host))
            if job.dump_command.strip():
                summaries.append(
                    r.backup_stdin(
                        job.dump_command,
                        job.dump_filename.strip(),
                        [job_tag(job), DUMP_TAG],
                        host,
                    )
                )
            r.forget(job_tag(job), job.keep_daily, job.keep_weekly, job.keep_monthly)
    except (restic.ResticError, OSError, ValueError, vault.VaultError) as exc:
        _failed(run, exc)
        return run
    except Exception as exc:  # SSH errors and the like: recorded, never a lost run
        from mamori.lifecycle.ssh import SSHError

        if not isinstance(exc, SSHError):
            _failed(run, exc)
            raise
        _failed(run, exc)
        return run
    with transaction.atomic():
        _finish(
            run,
            RunState.SUCCEEDED,
            snapshot_id=summaries[0]["snapshot_id"] if summaries else "",
            files_new=sum(s.get("files_new", 0) for s in summaries),
            files_changed=sum(s.get("files_changed", 0) for s in summaries),
            files_unmodified=sum(s.get("files_unmodified", 0) for s in summaries),
            bytes_added=sum(s.get("data_added", 0) for s in summaries),
            total_size=sum(s.get("total_bytes_processed", 0) for s in summaries),
            exit_code=0,
            details={"snapshots": [s["snapshot_id"] for s in summaries], "initialised": created},
        )
        job = BackupJob.objects.select_for_update().get(pk=job.pk)
        job.failures = 0
        base = due_at or run.started_at
        job.next_run_at = _next_slot(base, job.interval_hours) if job.enabled else None
        job.save(update_fields=["failures", "next_run_at"])
        alerts.succeeded(job, run)
    return run


def _next_slot(base: dt.datetime, hours: int) -> dt.datetime:
    """The first scheduled time after now, on the grid of ``base`` + n × interval."""
    step = dt.timedelta(hours=hours)
    slot = base + step
    now = timezone.now()
    if slot <= now:
        slot += step * ((now - slot) // step + 1)
    return slot


# --- stale and missed runs -----------------------------------------------------------------------


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale(now: dt.datetime | None = None) -> list[BackupRun]:
    """Runs left ``running`` by a process that died (same host: its pid is gone; any host:
    its time limit passed): recorded failed (``died``), and the job retried on a back-off."""
    now = now or timezone.now()
    here = _host_name()
    reaped = []
    for run in BackupRun.objects.filter(state=RunState.RUNNING).select_related("job"):
        dead_here = run.host == here and not _process_alive(run.pid)
        if not dead_here and (run.lease_until is None or run.lease_until > now):
            continue
        with transaction.atomic():
            updated = BackupRun.objects.filter(pk=run.pk, state=RunState.RUNNING).update(
                state=RunState.FAILED, ended_at=now, failure="died", lease_until=None
            )
            if not updated:
                continue
            run.refresh_from_db()
            _after_failure(run)
        reaped.append(run)
    return reaped


def mark_missed(now: dt.datetime | None = None) -> list[BackupRun]:
    """A backup not started :data:`MISSED_AFTER` after it was due is recorded missed (once per
    scheduled time), opens an incident, and is due again at once."""
    now = now or timezone.now()
    missed = []
    late = BackupJob.objects.filter(enabled=True, next_run_at__lt=now - MISSED_AFTER).exclude(
        # A long backup still running for its own scheduled time is not missed.
        pk__in=BackupRun.objects.filter(
            state=RunState.RUNNING, kind=RunKind.BACKUP, due_at=F("job__next_run_at")
        ).values("job_id")
    )
    for job in late.select_related("client"):
        with transaction.atomic():
            try:
                with transaction.atomic():
                    run = BackupRun.objects.create(
                        job=job,
                        kind=RunKind.BACKUP,
                        state=RunState.MISSED,
                        due_at=job.next_run_at,
                        attempt=job.failures + 1,
                        failure="missed",
                        ended_at=now,
                    )
            except IntegrityError:
                continue
            BackupJob.objects.filter(pk=job.pk).update(next_run_at=now)
            alerts.failed(job, run)
        missed.append(run)
    return missed


def due_jobs(now: dt.datetime | None = None):
    now = now or timezone.now()
    running = BackupRun.objects.filter(state=RunState.RUNNING).values("job_id")
    return BackupJob.objects.filter(enabled=True, next_run_at__lte=now).exclude(pk__in=running)


def due_drills(now: dt.datetime | None = None):
    now = now or timezone.now()
    running = BackupRun.objects.filter(state=RunState.RUNNING).values("job_id")
    return BackupJob.objects.filter(
        enabled=True, drill_every_days__gt=0, next_drill_at__lte=now
    ).exclude(pk__in=running)


def run_due_job(job_id: int) -> BackupRun | None:
    """Run ``job_id`` if it is still due (the slot it was due for is its ``due_at``)."""
    job = BackupJob.objects.select_related("client").filter(pk=job_id).first()
    if job is None or not job.enabled or job.next_run_at is None:
        return None
    if job.next_run_at > timezone.now():
        return None
    try:
        return run_backup(job, due_at=job.next_run_at)
    except Busy:
        return None


def run_due_drill(job_id: int) -> BackupRun | None:
    job = BackupJob.objects.select_related("client").filter(pk=job_id).first()
    if job is None or job.next_drill_at is None or job.next_drill_at > timezone.now():
        return None
    try:
        return drill(job, due_at=job.next_drill_at)
    except Busy:
        return None


# --- drills and restores -------------------------------------------------------------------------


def _latest_paths_snapshot(r: restic.Restic, job: BackupJob) -> dict | None:
    """The newest snapshot of the job's paths (not of its dump)."""
    snapshots = [s for s in r.snapshots(job_tag(job)) if PATHS_TAG in (s.get("tags") or [])]
    return max(snapshots, key=lambda s: s["time"]) if snapshots else None


def drill(job: BackupJob, *, due_at=None, user=None) -> BackupRun:
    """A restore drill (BKP-02): ``restic check --read-data-subset``, then a sample of the
    latest snapshot's files restored into a scratch directory and compared, by SHA-256, with
    the source files unchanged since the snapshot (same size and modification time). Any
    difference, or a failing check or restore, fails the drill."""
    run = start_run(job, RunKind.DRILL, due_at=due_at, user=user)
    if user is not None:
        audit.record("backup_run.drill", run, actor=user, client_id=job.client_id)
    details: dict = {"read_percent": job.drill_read_percent}
    try:
        with open_restic(job) as r:
            check = r.check(job.drill_read_percent)
            if not check.ok:
                raise restic.ResticError("check", check, r.secrets)
            snapshot = _latest_paths_snapshot(r, job) if job.path_list else None
            if snapshot is None and job.path_list:
                raise ValueError("the repository has no snapshot of this job to restore")
            files = []
            if snapshot is not None:
                details["snapshot"] = snapshot["short_id"]
                files = [n for n in r.ls(snapshot["id"]) if n.get("type") == "file"]
            sample = random.sample(files, min(job.drill_files, len(files)))
            scratch = r.executor.make_scratch()
            try:
                if sample:
                    r.restore(snapshot["id"], scratch, [n["path"] for n in sample])
                restored = r.executor.sha256(
                    [restic.scratch_path(scratch, n["path"]) for n in sample]
                )
                source = r.executor.sha256([n["path"] for n in sample])
                stats = _source_stats(r.executor, [n["path"] for n in sample])
                if job.dump_command.strip() and job.dump_load:
                    details["dump"] = _load_dump(r, job, scratch)
            finally:
                r.executor.remove_tree(scratch)
    except (restic.ResticError, OSError, ValueError, vault.VaultError) as exc:
        run.details = details
        _failed(run, exc)
        return run
    except Exception as exc:
        from mamori.lifecycle.ssh import SSHError

        run.details = details
        _failed(run, exc)
        if not isinstance(exc, SSHError):
            raise
        return run
    compared, changed, mismatched = 0, 0, []
    for node in sample:
        path = node["path"]
        got = restored.get(restic.scratch_path(scratch, path))
        if got is None:
            mismatched.append(path)
            continue
        if (
            stats.get(path) != (node.get("size"), _mtime(node.get("mtime")))
            or source.get(path) is None
        ):
            changed += 1  # changed since the snapshot: its restore is still read, not compared
            continue
        compared += 1
        if got != source[path]:
            mismatched.append(path)
    details.update(
        {
            "files": len(sample),
            "compared": compared,
            "changed_since": changed,
            "mismatched": mismatched[:50],
        }
    )
    dump = details.get("dump")
    with transaction.atomic():
        if dump is not None and not dump["loaded"]:
            run.details = details
            _finish(run, RunState.FAILED, failure="dump", details=details, error=dump["error"])
            _after_failure(run)
        elif mismatched:
            run.details = details
            _finish(
                run,
                RunState.FAILED,
                failure="mismatch",
                details=details,
                error="\n".join(mismatched[:50]),
            )
            _after_failure(run)
        else:
            _finish(
                run,
                RunState.SUCCEEDED,
                details=details,
                snapshot_id=details.get("snapshot") or (dump or {}).get("snapshot", ""),
                exit_code=0,
            )
            if job.drill_every_days:
                BackupJob.objects.filter(pk=job.pk).update(
                    next_drill_at=timezone.now() + dt.timedelta(days=job.drill_every_days)
                )
    return run


def _load_dump(r: restic.Restic, job: BackupJob, scratch: str) -> dict:
    """Restore the latest dump into ``scratch`` and load it into a scratch database
    (:mod:`mamori.backups.dumps`): whether it loaded, and the loader's words when not."""
    from mamori.backups import dumps

    snapshots = [s for s in r.snapshots(job_tag(job)) if DUMP_TAG in (s.get("tags") or [])]
    if not snapshots:
        return {"loaded": False, "error": "the repository has no dump of this job to load"}
    latest = max(snapshots, key=lambda s: s["time"])
    name = "/" + job.dump_filename.strip()
    target = f"{scratch}/dump"
    r.restore(latest["id"], target, [name])
    password = (
        vault.decrypt_for_export(job.dump_load_password) if job.dump_load_password_id else None
    )
    result = dumps.load(
        r.executor,
        job.dump_load,
        restic.scratch_path(target, name),
        connection=job.dump_load_connection,
        password=password,
        timeout=job.timeout_minutes * 60,
    )
    found = {"snapshot": latest["short_id"], "loaded": result.ok, "database": result.database}
    if not result.ok:
        found["step"] = result.step
        found["error"] = result.output
    return found


def _mtime(value: str | None) -> int | None:
    """restic's RFC 3339 time (nanoseconds) as whole seconds since the epoch."""
    if not value:
        return None
    head, _, rest = value.partition(".")
    zone = rest.lstrip("0123456789") if rest else value[19:]
    try:
        stamp = dt.datetime.fromisoformat(head[:19] + (zone.replace("Z", "+00:00") or "+00:00"))
    except ValueError:
        return None
    return int(stamp.timestamp())


def _source_stats(executor, paths: list[str]) -> dict[str, tuple[int, int]]:
    """(size, mtime in whole seconds) of each source file that exists."""
    found = {}
    if isinstance(executor, restic.LocalExecutor):
        for path in paths:
            with contextlib.suppress(OSError):
                st = os.stat(path)
                found[path] = (st.st_size, int(st.st_mtime))
        return found
    import shlex

    if paths:
        _, out, _ = executor.remote.execute(
            "stat -c '%s %Y %n' -- " + shlex.join(paths), timeout=600
        )
        for line in out.splitlines():
            size, mtime, name = [*line.split(" ", 2), "", ""][:3]
            with contextlib.suppress(ValueError):
                found[name] = (int(size), int(mtime))
    return found


def restore(
    job: BackupJob, user, *, path: str, target: str, snapshot: str = "latest", request=None
) -> BackupRun:
    """Restore ``path`` (a file or directory) at ``snapshot`` into ``target``, where the job
    runs, for the client (BKP-02): a recorded operator action."""
    from mamori.backups.rules import restore_problems

    if user is not None:
        require_change(user, job)
    found = restore_problems(job, path=path, target=target, snapshot=snapshot)
    if found:
        raise ValidationError(found)
    run = start_run(
        job, RunKind.RESTORE, user=user, path=path, target=target, details={"snapshot": snapshot}
    )
    audit.record(
        "backup_run.restore",
        run,
        actor=user,
        request=request,
        client_id=job.client_id,
        changes={"path": path, "target": target, "snapshot": snapshot},
    )
    try:
        with open_restic(job) as r:
            if snapshot == "latest":
                latest = _latest_paths_snapshot(r, job)
                if latest is None:
                    raise ValueError("the repository has no snapshot of this job")
                snapshot_id = latest["id"]
            else:
                snapshot_id = snapshot
            r.restore(snapshot_id, target, [path])
    except Exception as exc:
        from mamori.lifecycle.ssh import SSHError

        _finish(
            run,
            RunState.FAILED,
            error=getattr(exc, "output", None) or str(exc)[: restic.ERROR_LIMIT],
            exit_code=getattr(getattr(exc, "result", None), "status", None),
            failure="exit" if isinstance(exc, restic.ResticError) else "error",
        )
        expected = restic.ResticError | OSError | ValueError | SSHError | vault.VaultError
        if not isinstance(exc, expected):
            raise
        return run
    _finish(run, RunState.SUCCEEDED, snapshot_id=snapshot_id[:64], exit_code=0)
    return run
