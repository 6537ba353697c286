"""Scaled-out mode runs every periodic job of the registry (mamori.operations.jobs), as embedded
mode does: real PostgreSQL and Redis, one `mamori scheduler` and one `mamori worker`. A
maintenance window due to be announced is announced (its notice reaches a real SMTP server) and
last month's SLA is computed; each job's run is recorded in JobRun."""

from __future__ import annotations

import time

import pytest

from mamori.operations.jobs import JOBS
from tests.scaled.conftest import run
from tests.support.smtp import SMTPServer

SETUP = """
import datetime as dt
from django.utils import timezone
from mamori.clients.models import Client, Contact
from mamori.monitoring.models import MaintenanceWindow, SlaPolicy
client = Client.objects.create(code="sample", name="株式会社サンプル")
Contact.objects.create(client=client, name="山田太郎", email="yamada@sample.example",
                       language="ja", notify=["maintenance"])
starts = (timezone.now() + dt.timedelta(hours=2)).replace(microsecond=0)
MaintenanceWindow.objects.create(client=client, title="OS update", starts_at=starts,
                                 ends_at=starts + dt.timedelta(hours=1), notify_hours_before=24)
SlaPolicy.objects.create(client=client, name="SLA", monthly_fee=50000)
"""


@pytest.fixture
def smtp_server():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.mark.req("MON-06")
@pytest.mark.req("MON-07")
def test_scaled_out_mode_announces_maintenance_and_computes_the_sla_month(scaled, smtp_server):
    env = scaled.env
    env["MAMORI_EMAIL_URL"] = smtp_server.url
    run(env, "shell", "-v", "0", "-c", SETUP)

    worker = scaled.start("worker", "worker", "--without-gossip", "--without-mingle", "-c", "2")
    worker.wait_for("ready.")
    scheduler = scaled.start("scheduler", "scheduler", "--tick", "0.5")

    def done() -> bool:
        [(sent, credits, ran)] = scaled.sql(
            "select (select count(*) from notices_notice"
            "         where kind = 'maintenance_planned' and state = 'sent'),"
            " (select count(*) from monitoring_slacredit),"
            " (select count(*) from operations_jobrun where runs > 0)"
        )
        return sent == 1 and credits == 1 and ran == len(JOBS)

    try:
        deadline = time.monotonic() + 60
        while not done() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert done(), scheduler.log() + worker.log()
    finally:
        assert scheduler.stop() == 0, scheduler.log()
        worker.stop()

    [message] = smtp_server.messages
    assert message.to == "yamada@sample.example"
    runs = dict(scaled.sql("select name, failures from operations_jobrun"))
    assert runs == {job.name: 0 for job in JOBS}
