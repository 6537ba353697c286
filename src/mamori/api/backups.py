"""Backups (BKP-01, BKP-02): jobs, their runs, asking for a backup or a drill now, restores.

Reading is for whoever sees the client; jobs, runs now and restores are for provider staff who
see it (``BackupJob.change_rule``). A backup or drill asked for now is started by the periodic
pass within a minute (restic may run for hours; the call does not wait). A restore runs while
the call waits and answers with its recorded run.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import conflict, invalid, invalid_from, problem, query_problem
from mamori.api.schemas import Error, Input
from mamori.backups import services
from mamori.backups.models import BackupJob, BackupRun, RunKind
from mamori.clients.models import Client, Contract
from mamori.inventory.models import Server, Site
from mamori.vault.models import Secret

router = Router(tags=["backups"])


class BackupJobOut(Schema):
    id: int
    client: str
    contract: int | None = Field(None, alias="contract_id")
    site: int | None = Field(None, alias="site_id")
    server: int | None = Field(None, alias="server_id")
    name: str
    paths: list[str] = Field(..., alias="path_list")
    dump_command: str
    dump_filename: str
    dump_load: str = Field(
        ..., description="How a drill loads the dump: empty, postgresql or postgresql-custom."
    )
    dump_load_connection: str
    dump_load_password: int | None = Field(None, alias="dump_load_password_id")
    interval_hours: int
    keep_daily: int
    keep_weekly: int
    keep_monthly: int
    repository: str
    repository_password: int = Field(..., alias="repository_password_id")
    repository_key: int | None = Field(None, alias="repository_key_id")
    repository_host_key: str
    repository_access_key_id: int | None = Field(
        None, alias="repository_access_key_id_id", description="Vault secret id (S3)."
    )
    repository_secret_access_key: int | None = Field(
        None, alias="repository_secret_access_key_id", description="Vault secret id (S3)."
    )
    run_on: str = Field(..., description="mamori or server.")
    ssh_host: str
    ssh_port: int
    ssh_username: str
    ssh_secret: int | None = Field(None, alias="ssh_secret_id")
    ssh_host_key: str
    drill_every_days: int
    drill_read_percent: int
    drill_files: int
    timeout_minutes: int
    enabled: bool
    next_run_at: dt.datetime | None
    next_drill_at: dt.datetime | None
    incident: int | None = Field(None, alias="incident_id")

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code


class BackupRunOut(Schema):
    id: int
    job: int = Field(..., alias="job_id")
    client: str
    kind: str = Field(..., description="backup, drill or restore.")
    state: str = Field(..., description="running, succeeded, failed or missed.")
    due_at: dt.datetime | None
    attempt: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    snapshot_id: str
    files_new: int | None
    files_changed: int | None
    files_unmodified: int | None
    bytes_added: int | None
    total_size: int | None
    exit_code: int | None
    failure: str = Field(..., description="Why it failed, as a code (empty: it did not).")
    error: str = Field(..., description="restic's error output, trimmed.")
    path: str
    target: str
    details: dict

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.job.client.code


class BackupJobIn(Input):
    client: str = Field(..., description="Code of the client.")
    name: str = Field(..., min_length=1, max_length=200)
    contract: int | None = None
    site: int | None = None
    server: int | None = None
    paths: list[str] = Field(default_factory=list, max_length=200)
    dump_command: str = Field("", max_length=1000)
    dump_filename: str = Field("database.dump", max_length=200)
    dump_load: str = Field(
        "",
        pattern="^(|postgresql|postgresql-custom)$",
        description="A drill loads the latest dump into a scratch database: empty (no), "
        "postgresql (plain SQL, psql) or postgresql-custom (pg_restore).",
    )
    dump_load_connection: str = Field(
        "",
        max_length=300,
        description="The scratch database server: host=… port=… user=… (sslmode=…).",
    )
    dump_load_password: int | None = Field(
        None, description="Vault secret id of the scratch database user's password."
    )
    interval_hours: int = Field(24, ge=1, le=24 * 31)
    keep_daily: int = Field(7, ge=0, le=3650)
    keep_weekly: int = Field(4, ge=0, le=520)
    keep_monthly: int = Field(6, ge=0, le=1200)
    repository: str = Field(
        ...,
        min_length=1,
        max_length=500,
        description="A local path, sftp:user@host:/path or s3:https://host[:port]/bucket/prefix.",
    )
    repository_password: int = Field(..., description="Vault secret id of the password.")
    repository_key: int | None = Field(None, description="Vault secret id (SFTP).")
    repository_host_key: str = Field("", max_length=5000)
    repository_access_key_id: int | None = Field(
        None, description="S3: vault secret id of the access key id."
    )
    repository_secret_access_key: int | None = Field(
        None, description="S3: vault secret id of the secret access key."
    )
    run_on: str = Field(..., pattern="^(mamori|server)$")
    ssh_host: str = Field("", max_length=253)
    ssh_port: int = Field(22, ge=1, le=65535)
    ssh_username: str = Field("", max_length=100)
    ssh_secret: int | None = None
    ssh_host_key: str = Field("", max_length=5000)
    drill_every_days: int = Field(7, ge=0, le=3650)
    drill_read_percent: int = Field(10, ge=1, le=100)
    drill_files: int = Field(20, ge=1, le=100000)
    timeout_minutes: int = Field(360, ge=1, le=7 * 24 * 60)
    enabled: bool = True


class RestoreIn(Input):
    path: str = Field(..., min_length=1, max_length=1000)
    target: str = Field(..., min_length=1, max_length=1000)
    snapshot: str = Field("latest", max_length=64)


def _jobs(request: HttpRequest):
    return BackupJob.objects.visible_to(request.auth).select_related("client")


def _related(request: HttpRequest, client: Client, payload: BackupJobIn) -> dict:
    """The payload's ids as objects the caller sees (the job's rules check the client)."""
    fields: dict = {}
    problems = []
    lookups = {
        "contract": Contract.objects.visible_to(request.auth),
        "site": Site.objects.visible_to(request.auth),
        "server": Server.objects.visible_to(request.auth),
        **dict.fromkeys(BackupJob.SECRET_FIELDS, Secret.objects.visible_to(request.auth)),
    }
    for name, qs in lookups.items():
        value = getattr(payload, name)
        if value is None:
            fields[name] = None
            continue
        found = qs.filter(pk=value).first()
        if found is None:
            problems.append(problem(name, f"No {name.replace('_', ' ')} {value}."))
        fields[name] = found
    if problems:
        raise invalid(problems)
    return fields


def _fields(request: HttpRequest, client: Client, payload: BackupJobIn) -> dict:
    values = payload.dict(exclude={"client"})
    values["paths"] = "\n".join(p.strip() for p in payload.paths)
    values.update(_related(request, client, payload))
    return values


@router.get("/backup-jobs", response=list[BackupJobOut], summary="List backup jobs")
@paginate
def list_backup_jobs(request: HttpRequest, client: str | None = None):
    qs = _jobs(request)
    if client:
        qs = qs.filter(client__code=client)
    return qs.order_by("client__code", "name")


@router.get(
    "/backup-jobs/{job_id}", response={200: BackupJobOut, 404: Error}, summary="Read a backup job"
)
def get_backup_job(request: HttpRequest, job_id: int):
    return get_object_or_404(_jobs(request), pk=job_id)


@router.post(
    "/backup-jobs",
    response={201: BackupJobOut, 403: Error, 422: Error},
    summary="Add a backup job",
    description="Provider staff who see the client. Secrets are vault secret ids of the client.",
)
def create_backup_job(request: HttpRequest, payload: BackupJobIn):
    client = Client.objects.visible_to(request.auth).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    try:
        job = services.create_job(
            client, request.auth, request=request, **_fields(request, client, payload)
        )
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return Status(201, get_object_or_404(_jobs(request), pk=job.pk))


@router.put(
    "/backup-jobs/{job_id}",
    response={200: BackupJobOut, 403: Error, 404: Error, 422: Error},
    summary="Change a backup job",
    description="The whole job, as when adding it (its client does not change).",
)
def update_backup_job(request: HttpRequest, job_id: int, payload: BackupJobIn):
    job = get_object_or_404(_jobs(request), pk=job_id)
    if payload.client != job.client.code:
        raise invalid(problem("client", "A backup job stays with its client."))
    try:
        services.update_job(
            job, request.auth, request=request, **_fields(request, job.client, payload)
        )
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    return get_object_or_404(_jobs(request), pk=job.pk)


@router.get(
    "/backup-runs",
    response=list[BackupRunOut],
    summary="List backup runs",
    description="Backups, restore drills and restores, newest first; filter by job, client or "
    "kind.",
)
@paginate
def list_backup_runs(
    request: HttpRequest,
    job: int | None = None,
    client: str | None = None,
    kind: str | None = None,
):
    qs = BackupRun.objects.visible_to(request.auth).select_related("job__client")
    if job is not None:
        qs = qs.filter(job_id=job)
    if client:
        qs = qs.filter(job__client__code=client)
    if kind:
        if kind not in RunKind.values:
            raise invalid(query_problem("kind", "Use backup, drill or restore."))
        qs = qs.filter(kind=kind)
    return qs.order_by("-started_at", "-pk")


def _now(request: HttpRequest, job_id: int, kind: str):
    job = get_object_or_404(_jobs(request), pk=job_id)
    services.request_now(job, request.auth, kind, request=request)
    return get_object_or_404(_jobs(request), pk=job.pk)


@router.post(
    "/backup-jobs/{job_id}/backup-now",
    response={200: BackupJobOut, 403: Error, 404: Error},
    summary="Ask for a backup now",
    description="The periodic pass starts it within a minute; read its run from the runs.",
)
def backup_now(request: HttpRequest, job_id: int):
    return _now(request, job_id, "backup")


@router.post(
    "/backup-jobs/{job_id}/drill-now",
    response={200: BackupJobOut, 403: Error, 404: Error},
    summary="Ask for a restore drill now",
    description="The periodic pass starts it within a minute; read its run from the runs.",
)
def drill_now(request: HttpRequest, job_id: int):
    return _now(request, job_id, "drill")


@router.post(
    "/backup-jobs/{job_id}/restore",
    response={201: BackupRunOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Restore a path from a backup",
    description="Restores `path` as it was at `snapshot` (default: the latest) into `target`, "
    "where the job runs; waits for restic and answers with the recorded run (failed or not).",
)
def restore_backup(request: HttpRequest, job_id: int, payload: RestoreIn):
    job = get_object_or_404(_jobs(request), pk=job_id)
    try:
        run = services.restore(
            job,
            request.auth,
            path=payload.path,
            target=payload.target,
            snapshot=payload.snapshot,
            request=request,
        )
    except DjangoValidationError as exc:
        raise invalid_from(exc) from None
    except services.Busy:
        raise conflict("Another run of this job is running.") from None
    return Status(201, run)
