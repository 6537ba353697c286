"""The one registry of periodic jobs (mamori.operations.jobs): both modes run the same jobs,
each run is recorded, a failing job does not stop the others, a single-flight job runs once at a
time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from mamori.monitoring.models import MaintenanceWindow, SlaCredit, SlaPolicy
from mamori.notices.models import Notice, NoticeKind
from mamori.operations import jobs, runner
from mamori.operations.models import JobRun

pytestmark = pytest.mark.django_db(databases="__all__")


def broken() -> None:
    raise ConnectionRefusedError("smtp://user:secret@mail.example refused")


BROKEN = jobs.Job("broken", 1, "tests.operations.test_jobs:broken")
seen: list[bool] = []


def reentrant() -> None:
    """A single-flight job that, while it runs, has the same job started again."""
    seen.append(jobs.run_job(REENTRANT).ran)


REENTRANT = jobs.Job("reentrant", 1, "tests.operations.test_jobs:reentrant", single_flight=True)


@pytest.fixture
def due_work(acme):
    """A maintenance window to announce (it starts within its notice period) and an SLA policy
    whose last month is over and not computed yet."""
    contact = acme.contacts.get(email="yamada@acme.example")
    contact.notify = [*contact.notify, "maintenance"]
    contact.save()
    starts = (timezone.now() + dt.timedelta(hours=1)).replace(microsecond=0)
    MaintenanceWindow.objects.create(
        client=acme,
        title="Patch day",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=1),
        notify_hours_before=24,
    )
    SlaPolicy.objects.create(client=acme, name="SLA", monthly_fee=10000)


def announced() -> int:
    return Notice.objects.filter(kind=NoticeKind.MAINTENANCE_PLANNED).count()


@pytest.mark.req("MON-06")
@pytest.mark.req("MON-07")
# Committed, as in production: the scheduler's tick starts with close_old_connections(), which
# would close a connection that holds the test's transaction on PostgreSQL.
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_embedded_and_scaled_out_mode_run_the_same_jobs(due_work, settings):
    # Embedded mode: what one pass of the runner actually ran.
    embedded = runner.run_once(uptime=False).jobs
    assert announced() > 0 and SlaCredit.objects.count() == 1
    Notice.objects.all().delete()
    SlaCredit.objects.all().delete()
    JobRun.objects.all().delete()

    # Scaled-out mode: the scheduler's first tick sends every periodic task; run eagerly here,
    # each does what a worker does with it.
    from mamori.celery import app
    from mamori.monitoring import distributed
    from mamori.operations.tasks import periodic

    sent: list[str] = []
    tasks = periodic()
    for task in tasks:
        send = task.send
        task.send = lambda every, send=send, name=task.name: sent.append(name) or send(every)
    app.conf.task_always_eager = True
    try:
        distributed.Scheduler(lambda ids, at: None, tasks, batch=10).run_once()
    finally:
        app.conf.task_always_eager = False
    scaled = list(JobRun.objects.filter(runs=1).values_list("name", flat=True))

    assert sorted(embedded) == sorted(sent) == sorted(scaled) == sorted(jobs.REGISTRY)
    assert {"maintenance_announcements", "sla_months"} <= set(scaled)
    assert announced() > 0 and SlaCredit.objects.count() == 1


@pytest.mark.req("MON-01")
def test_a_failing_job_is_recorded_by_its_class_only_and_the_others_go_on(due_work):
    outcomes = jobs.run_jobs([BROKEN, *jobs.JOBS])

    assert outcomes["broken"].ran and outcomes["broken"].error == "ConnectionRefusedError"
    assert all(o.ran and not o.error for name, o in outcomes.items() if name != "broken")
    assert announced() > 0  # the jobs after it ran
    row = JobRun.objects.get(name="broken")
    assert (row.runs, row.failures, row.last_error) == (1, 1, "ConnectionRefusedError")
    assert row.last_failed_at and row.last_finished_at >= row.last_started_at
    assert "secret" not in str(list(JobRun.objects.values()))

    jobs.run_jobs([BROKEN])
    row.refresh_from_db()
    assert (row.runs, row.failures) == (2, 2)
    watch = JobRun.objects.get(name="certificate_watch")
    assert (watch.runs, watch.failures, watch.last_error) == (1, 0, "")
    assert watch.last_duration is not None and watch.last_duration >= 0


@pytest.mark.req("MON-07")
def test_a_single_flight_job_runs_once_at_a_time_and_a_dead_runs_lease_runs_out(db):
    seen.clear()
    assert jobs.run_job(REENTRANT).ran
    assert seen == [False]  # started again while it ran: skipped
    row = JobRun.objects.get(name="reentrant")
    assert (row.runs, row.lease_until, row.lease_owner) == (1, None, "")

    # A process died holding the lease: nobody runs the job until the lease runs out.
    JobRun.objects.filter(name="reentrant").update(
        lease_until=timezone.now() + dt.timedelta(minutes=5), lease_owner="dead"
    )
    assert not jobs.run_job(jobs.Job("reentrant", 1, "builtins:list", single_flight=True)).ran
    JobRun.objects.filter(name="reentrant").update(lease_until=timezone.now())
    assert jobs.run_job(jobs.Job("reentrant", 1, "builtins:list", single_flight=True)).ran


def test_the_reader_lists_every_registered_job_ran_or_not(db):
    jobs.run_job(jobs.REGISTRY["check_purge"])
    rows = jobs.job_runs()
    assert [r.name for r in rows] == [j.name for j in jobs.JOBS]
    assert {r.name: r.runs for r in rows}["check_purge"] == 1
    assert {r.name: r.runs for r in rows}["notice_delivery"] == 0


def test_the_cadence_runs_each_job_at_its_own_interval():
    cadence = jobs.Cadence()
    assert [j.name for j in cadence.due(100.0)] == [j.name for j in jobs.JOBS]
    assert [j.name for j in cadence.due(105.0)] == ["notice_delivery"]
    assert {j.name for j in cadence.due(110.0)} == {
        "certificate_watch",
        "certificate_lifecycle",
        "update_runs",
        "notice_delivery",
    }
