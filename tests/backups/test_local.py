"""Backups on the Mamori host into a local restic repository (BKP-01, BKP-02)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from django.utils import timezone

from mamori.backups import schedule, services
from mamori.backups.models import BackupJob, BackupRun, RunState
from mamori.monitoring.models import Cause, Incident, IncidentState
from mamori.notices.models import Notice, NoticeKind

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")


def snapshots(repo, password=PASSWORD) -> list[dict]:
    out = subprocess.run(
        ["restic", "-r", str(repo), "--no-cache", "snapshots", "--json"],
        env={"RESTIC_PASSWORD": password, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        text=True,
    )
    return json.loads(out.stdout)


@pytest.mark.req("BKP-01")
@pytest.mark.req("BKP-02")
def test_a_backup_is_run_and_recorded_with_what_restic_reports(make_job, source, roots):
    job = make_job()
    first = services.run_backup(job)
    assert first.state == RunState.SUCCEEDED, first.error
    assert first.details["initialised"] is True  # the repository did not exist: restic init
    assert first.files_new == 3 and first.files_changed == 0
    sizes = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
    assert first.total_size == sizes
    assert first.bytes_added > 200_000  # the random file does not compress
    assert first.exit_code == 0 and first.started_at <= first.ended_at
    listed = snapshots(roots / "repo")
    assert [s["short_id"] for s in listed] == [first.snapshot_id[:8]]
    assert f"mamori-job-{job.pk}" in listed[0]["tags"]

    (source / "html" / "index.html").write_text("<h1>changed</h1>\n")
    second = services.run_backup(job)
    assert second.state == RunState.SUCCEEDED, second.error
    assert second.details["initialised"] is False
    assert (second.files_new, second.files_changed, second.files_unmodified) == (0, 1, 2)
    # keep-daily 7: two snapshots of the same day are one day: the older one is forgotten.
    assert [s["short_id"] for s in snapshots(roots / "repo")] == [second.snapshot_id[:8]]

    job.refresh_from_db()
    assert job.failures == 0
    assert job.next_run_at > timezone.now() + dt.timedelta(hours=23)


@pytest.mark.req("BKP-02")
def test_a_failure_opens_one_incident_alerts_operators_once_and_recovery_closes_it(
    make_job, source, roots, operator, acme
):
    job = make_job()
    assert services.run_backup(job).state == RunState.SUCCEEDED
    # The repository's password in the vault is wrong now (someone changed it on the repo).
    from mamori.vault import services as vault

    vault.change_secret_value(job.repository_password, "not-the-right-one", actor=None)
    job.refresh_from_db()
    failed = services.run_backup(job)
    assert failed.state == RunState.FAILED
    assert failed.failure == "exit" and failed.exit_code == 1
    assert "wrong password" in failed.error  # restic's words, not the password
    assert PASSWORD not in failed.error

    incident = Incident.objects.get(client=acme)
    assert incident.state == IncidentState.OPEN
    assert incident.cause == Cause.PROVIDER
    assert incident.total_outage is False  # a failed backup is no downtime for the SLA
    alerts = Notice.objects.filter(kind=NoticeKind.BACKUP_FAILED)
    assert {n.recipient for n in alerts} == {operator.email}
    assert all(n.recipient_kind == "operator" for n in alerts)
    assert "wrong password" in alerts[0].body_text

    job.refresh_from_db()
    assert job.failures == 1
    retry = job.next_run_at - failed.ended_at
    assert dt.timedelta(minutes=5) <= retry < dt.timedelta(minutes=5, seconds=30)  # first retry
    services.run_backup(job)  # fails again: same incident, no second alert
    assert Incident.objects.filter(client=acme).count() == 1
    assert alerts.count() == 1

    vault.change_secret_value(job.repository_password, PASSWORD, actor=None)
    job.refresh_from_db()
    assert services.run_backup(job).state == RunState.SUCCEEDED
    incident.refresh_from_db()
    assert incident.state == IncidentState.RECOVERED
    job.refresh_from_db()
    assert job.incident is None and job.failures == 0


@pytest.mark.req("BKP-02")
def test_two_runs_of_one_job_never_overlap(make_job, source):
    job = make_job()
    running = services.start_run(job, "backup")
    with pytest.raises(services.Busy):
        services.run_backup(job)
    with pytest.raises(services.Busy):
        services.drill(job)
    assert list(BackupRun.objects.filter(job=job)) == [running]
    assert job.pk not in set(services.due_jobs().values_list("pk", flat=True))


@pytest.mark.req("BKP-02")
def test_a_long_backup_of_its_own_due_time_is_not_missed(make_job, source):
    job = make_job()
    due = timezone.now() - dt.timedelta(hours=3)
    BackupJob.objects.filter(pk=job.pk).update(next_run_at=due)
    services.start_run(job, "backup", due_at=due)  # running for three hours now
    assert services.mark_missed() == []
    # The next scheduled time passing while it still runs is a missed backup.
    BackupJob.objects.filter(pk=job.pk).update(next_run_at=due + dt.timedelta(minutes=30))
    assert [r.failure for r in services.mark_missed()] == ["missed"]


@pytest.mark.req("BKP-02")
def test_a_run_whose_process_died_is_recorded_failed_and_retried(make_job, source, acme):
    job = make_job()
    run = services.start_run(job, "backup", due_at=job.next_run_at)
    # As if another process on this host had started it and died: its pid is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    BackupRun.objects.filter(pk=run.pk).update(pid=dead.pid)
    assert services.reap_stale() and not services.reap_stale()
    run.refresh_from_db()
    assert (run.state, run.failure) == (RunState.FAILED, "died")
    assert Incident.objects.filter(client=acme, state="open").count() == 1
    job.refresh_from_db()
    BackupJob.objects.filter(pk=job.pk).update(next_run_at=timezone.now())
    result = schedule.run_due(inline=True)
    assert result["started"] == [job.pk]
    latest = job.runs.order_by("-pk").first()
    assert latest.state == RunState.SUCCEEDED and latest.attempt == 2


@pytest.mark.req("BKP-02")
def test_a_backup_not_started_when_due_is_recorded_missed_once_then_run(
    make_job, source, acme, operator
):
    job = make_job()
    due = timezone.now() - dt.timedelta(hours=2)
    BackupJob.objects.filter(pk=job.pk).update(next_run_at=due)
    missed = services.mark_missed()
    assert [(r.state, r.failure, r.due_at) for r in missed] == [("missed", "missed", due)]
    assert services.mark_missed() == []  # due again now, not late
    assert Incident.objects.filter(client=acme, state="open").count() == 1
    assert Notice.objects.filter(kind=NoticeKind.BACKUP_FAILED, recipient=operator.email).exists()
    schedule.run_due(inline=True)
    assert job.runs.filter(state=RunState.SUCCEEDED).count() == 1


@pytest.mark.req("BKP-02")
def test_a_restore_brings_back_the_file_byte_for_byte(make_job, source, roots, provider_admin):
    job = make_job()
    backup = services.run_backup(job)
    original = (source / "html" / "img" / "logo.bin").read_bytes()
    (source / "html" / "img" / "logo.bin").write_bytes(b"defaced")
    target = roots / "restored"
    run = services.restore(
        job,
        provider_admin,
        path=str(source / "html" / "img" / "logo.bin"),
        target=str(target),
        snapshot=backup.snapshot_id,
    )
    assert run.state == RunState.SUCCEEDED, run.error
    restored = target / str(source / "html" / "img" / "logo.bin").lstrip("/")
    assert restored.read_bytes() == original
    assert not (target / str(source / "wp-config.php").lstrip("/")).exists()  # only that path
    assert run.requested_by == provider_admin
    from mamori.core.models import AuditEvent

    assert AuditEvent.objects.filter(action="backup_run.restore", actor=provider_admin).exists()


def test_a_restore_outside_the_allowed_directories_is_refused(make_job, source, provider_admin):
    from django.core.exceptions import ValidationError

    job = make_job()
    with pytest.raises(ValidationError) as refused:
        services.restore(job, provider_admin, path="/etc/passwd", target="/etc")
    assert "MAMORI_BACKUP_ROOTS" in str(refused.value)
    assert not BackupRun.objects.exists()


@pytest.mark.req("BKP-02")
def test_a_drill_restores_a_sample_and_compares_it(make_job, source):
    job = make_job(drill_files=10)
    services.run_backup(job)
    drill = services.drill(job)
    assert drill.state == RunState.SUCCEEDED, drill.error
    assert drill.details["files"] == 3 and drill.details["compared"] == 3
    assert drill.details["mismatched"] == []
    job.refresh_from_db()
    assert job.next_drill_at > timezone.now() + dt.timedelta(days=6)


@pytest.mark.req("BKP-02")
def test_a_corrupted_pack_fails_the_drill_loudly(make_job, source, roots, acme, operator):
    job = make_job()
    services.run_backup(job)
    packs = sorted((roots / "repo" / "data").rglob("*"), key=lambda p: p.stat().st_size)
    pack = [p for p in packs if p.is_file()][-1]  # the biggest: the random file's data
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.chmod(0o600)
    pack.write_bytes(bytes(data))
    drill = services.drill(job)
    assert drill.state == RunState.FAILED
    assert drill.failure == "exit" and drill.details["step"] == "check"
    assert pack.name[:8] in drill.error or "does not match" in drill.error
    incident = Incident.objects.get(client=acme, state="open")
    assert (
        Notice.objects.filter(kind=NoticeKind.BACKUP_FAILED, recipient=operator.email).count() == 1
    )
    assert incident.events.filter(kind="confirmed").exists()


def test_a_job_is_validated_in_one_place(make_job, source, roots):
    from django.core.exceptions import ValidationError
    from django.utils import translation

    with translation.override("en"):
        with pytest.raises(ValidationError) as refused:
            make_job(name="bad", paths="relative/path\n/etc", repository="s3:https://x/y")
        errors = refused.value.message_dict
        assert "Not an absolute path: relative/path" in errors["paths"]
        assert any("MAMORI_BACKUP_ROOTS" in m for m in errors["paths"])
        assert "repository" in errors
        with pytest.raises(ValidationError) as refused:
            make_job(name="remote", run_on="server")
        assert {"ssh_host", "ssh_username", "ssh_secret", "ssh_host_key"} <= set(
            refused.value.message_dict
        )
