"""Backup jobs in the inventory file (``backup_jobs``, BKP-01): created and changed through the
same service as the job form and the API, exported with the names of their vault secrets and
never their values, and a broken entry reported precisely with nothing written."""

from __future__ import annotations

import asyncssh
import pytest
from django.utils import translation

from mamori.backups.models import BackupJob
from mamori.core.models import AuditEvent
from mamori.inventory.transfer import export_inventory, import_file
from mamori.vault import services as vault
from mamori.vault.models import SecretKind

pytestmark = pytest.mark.django_db(databases="__all__")

PASSWORD = "restic-passphrase-9d2e-never-exported"
S3_SECRET = "s3-secret-key-4b1a-never-exported"
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-exported\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def host_key() -> str:
    return asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()


@pytest.fixture
def secrets(acme):
    def store(name, value, kind=SecretKind.OTHER):
        return vault.store_secret(acme, kind=kind, name=name, value=value, actor=None)

    return {
        "password": store("restic acme", PASSWORD),
        "s3 id": store("s3 key id", "AKIAEXAMPLE0001", SecretKind.API_TOKEN),
        "s3 secret": store("s3 secret", S3_SECRET, SecretKind.API_TOKEN),
        "ssh": store("web01 login", SSH_KEY),
    }


def load(text: str, **kwargs):
    return import_file(text.encode("utf-8"), filename="clients.yaml", **kwargs)


def messages(report) -> list[str]:
    return [str(e) for e in report.errors]


def jobs_file(host_key: str, *, repository="s3:https://s3.example.jp/acme-backups/www") -> str:
    return f"""\
clients:
  - code: acme
    servers:
      - {{name: web01, kind: vps}}
    backup_jobs:
      - name: www and database
        contract: ssl_management
        server: web01
        paths:
          - /var/www/html
          - /etc/nginx
        dump_command: pg_dump -Fp shop
        dump_filename: shop.sql
        interval_hours: 12
        keep_daily: 14
        keep_weekly: 8
        keep_monthly: 12
        repository: "{repository}"
        repository_password: restic acme
        repository_access_key_id: s3 key id
        repository_secret_access_key: s3 secret
        run_on: server
        ssh_host: web01.acme.example
        ssh_username: backup
        ssh_credential: web01 login
        ssh_host_key: "{host_key}"
        drill_every_days: 3
"""


@pytest.mark.req("BKP-01")
def test_a_file_creates_a_backup_job_through_the_backup_service(acme, secrets, host_key):
    report = load(jobs_file(host_key))
    assert report.ok, messages(report)
    assert report.counts["backup_jobs"]["created"] == 1
    job = BackupJob.objects.get(client=acme, name="www and database")
    assert job.path_list == ["/var/www/html", "/etc/nginx"]
    assert (job.contract.type, job.server.name) == ("ssl_management", "web01")
    kept = (job.keep_daily, job.keep_weekly, job.keep_monthly)
    assert (job.interval_hours, kept) == (12, (14, 8, 12))
    assert job.repository_password == secrets["password"]
    assert job.repository_access_key_id == secrets["s3 id"]
    assert job.repository_secret_access_key == secrets["s3 secret"]
    assert job.ssh_secret == secrets["ssh"]
    assert (job.drill_every_days, job.drill_files, job.timeout_minutes) == (3, 20, 360)
    assert job.next_run_at is not None  # scheduled like a job added on its page
    # The backup service's own audit record, as for the form and the API.
    assert AuditEvent.objects.filter(action="backup_job.create", object_id=str(job.pk)).exists()


@pytest.mark.req("BKP-01")
def test_backup_jobs_round_trip_without_their_secrets(acme, secrets, host_key):
    assert load(jobs_file(host_key)).ok
    exported = export_inventory(clients=["acme"])
    for value in (PASSWORD, S3_SECRET, "AKIAEXAMPLE0001", "not-exported"):
        assert value not in exported
    assert "repository_password: restic acme" in exported
    assert "repository_secret_access_key: s3 secret" in exported
    assert "paths: [/var/www/html, /etc/nginx]" in exported

    again = load(exported)
    assert again.ok, messages(again)
    assert again.counts["backup_jobs"] == {"created": 0, "updated": 0, "unchanged": 1}

    changed = load(exported.replace("interval_hours: 12", "interval_hours: 6"))
    assert changed.ok, messages(changed)
    assert changed.counts["backup_jobs"]["updated"] == 1
    assert BackupJob.objects.get(name="www and database").interval_hours == 6
    assert AuditEvent.objects.filter(action="backup_job.update").count() == 1


def test_a_broken_backup_job_is_reported_precisely_and_nothing_is_written(acme, secrets, host_key):
    text = jobs_file(host_key, repository="s3:https://s3.example.jp/Bad_Bucket")
    text += """\
      - name: second
        paths: [relative/path]
        repository: /srv/backup/acme
        repository_password: no such secret
        run_on: mamori
      - name: third
        paths: [/var/www, relative/path]
        repository: rest:https://backup.example/
        repository_password: restic acme
        run_on: server
        ssh_host: web01.acme.example
        ssh_username: backup
        ssh_credential: web01 login
        ssh_host_key: "{host_key}"
""".replace("{host_key}", host_key)
    report = load(text)
    assert not report.ok
    found = {(e.line, e.path, e.message) for e in report.errors}
    assert (
        18,
        "clients[0].backup_jobs[0].repository",
        "'s3:https://s3.example.jp/Bad_Bucket': "
        "Write an S3 repository as s3:https://host[:port]/bucket/prefix.",
    ) in found, messages(report)
    assert (
        31,
        "clients[0].backup_jobs[1].repository_password",
        "No secret named 'no such secret' in this client's vault.",
    ) in found, messages(report)
    assert any(
        e.path == "clients[0].backup_jobs[2].paths"
        and "Not an absolute path: relative/path" in e.message
        for e in report.errors
    ), messages(report)
    assert any(
        e.path == "clients[0].backup_jobs[2].repository"
        and "Only local paths, SFTP and S3 repositories are supported." in e.message
        for e in report.errors
    ), messages(report)
    # All or nothing: the valid server of the file is not written either.
    assert not BackupJob.objects.exists()
    assert not acme.servers.exists()


def test_only_the_providers_staff_may_import_backup_jobs(acme, secrets, host_key, owner):
    report = load(jobs_file(host_key), actor=owner)
    assert not report.ok
    assert any("backup_jobs[0]" in e.path for e in report.errors), messages(report)
    assert not BackupJob.objects.exists()
