"""Tenancy cases for the backup pages (see tests/web/tenancy.py).

acme has a backup job run on its server over SSH (credentials from acme's vault, metadata
only: these tests have no keystore, so a restore is recorded failed — still a recorded,
audited action). acme's people read the calendar and the job; provider staff change them.
"""

from mamori.backups.models import BackupJob, BackupRun
from mamori.clients.models import Client
from tests.web.cases_lifecycle_deploy import HOST_KEY
from tests.web.cases_vault import acme_secret
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_backup_job() -> BackupJob:
    acme = Client.objects.get(code="acme")
    secret = acme_secret()
    job, _ = BackupJob.objects.get_or_create(
        client=acme,
        name="www nightly",
        defaults={
            "paths": "/var/www",
            "repository": "/srv/backup/acme",
            "repository_password": secret,
            "run_on": "server",
            "ssh_host": "127.0.0.1",
            "ssh_port": 9,
            "ssh_username": "backup",
            "ssh_secret": secret,
            "ssh_host_key": HOST_KEY,
        },
    )
    return job


def job_kwargs(s) -> dict:
    return {"pk": acme_backup_job().pk}


def job_rows() -> list[dict]:
    acme_backup_job()
    return list(BackupJob.objects.values().order_by("pk"))


def run_rows() -> list[dict]:
    acme_backup_job()
    return list(BackupRun.objects.values().order_by("pk"))


def listing(s) -> dict:
    acme_backup_job()
    return {}


def job_post(s) -> dict:
    job = acme_backup_job()
    return {
        "name": "www nightly",
        "paths": "/var/www\n/etc/nginx",
        "dump_filename": "database.dump",
        "interval_hours": "12",
        "keep_daily": "7",
        "keep_weekly": "4",
        "keep_monthly": "6",
        "repository": "/srv/backup/acme",
        "repository_password": job.repository_password_id,
        "run_on": "server",
        "ssh_host": "127.0.0.1",
        "ssh_port": "9",
        "ssh_username": "backup",
        "ssh_secret": job.ssh_secret_id,
        "ssh_host_key": HOST_KEY,
        "drill_every_days": "7",
        "drill_read_percent": "10",
        "drill_files": "20",
        "timeout_minutes": "360",
        "enabled": "on",
    }


def add_post(s) -> dict:
    return {**job_post(s), "name": "db weekly", "interval_hours": "168"}


CASES: dict[str, Case] = {
    "backup_list": Case(LIST, listing, readers=ACME_PEOPLE),
    "backup_job": Case(PAGE, job_kwargs, readers=ACME_PEOPLE),
    "backup_job_add": Case(
        FORM, lambda s: {"code": "acme"}, post=add_post, writers=STAFF, snapshot=job_rows
    ),
    "backup_job_edit": Case(FORM, job_kwargs, post=job_post, writers=STAFF, snapshot=job_rows),
    "backup_job_now": Case(ACTION, job_kwargs, post=lambda s: {}, writers=STAFF, snapshot=job_rows),
    "backup_drill_now": Case(
        ACTION, job_kwargs, post=lambda s: {}, writers=STAFF, snapshot=job_rows
    ),
    "backup_restore": Case(
        FORM,
        job_kwargs,
        post=lambda s: {"path": "/var/www/index.html", "target": "/tmp/r", "snapshot": "latest"},
        writers=STAFF,
        snapshot=run_rows,
    ),
}
