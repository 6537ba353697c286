"""The guarantees of the scaled-out mode that rest on PostgreSQL itself: two processes claiming
due checks at once get disjoint checks without waiting for each other (``SKIP LOCKED``), and a
second scheduler waits on the advisory lock until the first one stops."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.scaled.conftest import run

CHECKS = 20

SETUP = f"""
from mamori.clients.models import Client
from mamori.monitoring.models import Check
client = Client.objects.create(code="sample", name="Sample")
Check.objects.bulk_create(
    Check(client=client, name=f"c{{i}}", kind="tcp", settings={{"host": "127.0.0.1", "port": 9}})
    for i in range({CHECKS})
)
"""

# Claims 10 checks and keeps its transaction (and the row locks) open until told to commit.
HOLDING = """
import json, sys
from django.db import transaction
from django.utils import timezone
from mamori.monitoring.services import claim_due
with transaction.atomic():
    claimed = claim_due(timezone.now(), 10)
    print(json.dumps([c.pk for c in claimed]), flush=True)
    sys.stdin.readline()
"""

CLAIM = """
import json
from django.utils import timezone
from mamori.monitoring.services import claim_due
print(json.dumps([c.pk for c in claim_due(timezone.now(), 100)]))
"""


@pytest.mark.req("MON-01")
def test_two_processes_claiming_at_once_get_disjoint_checks_without_waiting(scaled):
    run(scaled.env, "shell", "-v", "0", "-c", SETUP)
    holder = subprocess.Popen(
        [sys.executable, "-m", "mamori", "shell", "-v", "0", "-c", HOLDING],
        env=scaled.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(holder.stdout.readline())
        # While the first transaction still holds its rows, a second process claims: it skips
        # the locked rows instead of waiting for them (it would hang here otherwise).
        second = json.loads(run(scaled.env, "shell", "-v", "0", "-c", CLAIM, timeout=60).strip())
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0
    assert len(first) == 10
    assert len(second) == CHECKS - 10
    assert set(first).isdisjoint(second)
    # Both committed: every check is leased once, for the slot it was claimed in.
    assert scaled.sql("select count(*) from monitoring_check where running_slot is not null") == [
        (CHECKS,)
    ]
    # Nothing is due any more.
    assert json.loads(run(scaled.env, "shell", "-v", "0", "-c", CLAIM).strip()) == []


def test_a_second_scheduler_waits_for_the_first_and_then_takes_over(scaled):
    first = scaled.start("scheduler1", "scheduler", "--tick", "0.2")
    first.wait_for("scheduler lock acquired")
    second = scaled.start("scheduler2", "scheduler", "--tick", "0.2")
    try:
        second.wait_for("another scheduler is running; waiting to take over")
        assert "scheduler lock acquired" not in second.log()
        assert first.stop() == 0, first.log()
        second.wait_for("scheduler lock acquired")
        second.wait_for("scheduler running")
    finally:
        first.stop()
        assert second.stop() == 0, second.log()
    assert "scheduler stopped" in first.log()


def test_the_scheduler_and_the_worker_refuse_to_start_without_a_broker(scaled):
    env = {**scaled.env, "MAMORI_BROKER_URL": ""}
    for command in ("scheduler", "worker"):
        done = subprocess.run(
            [sys.executable, "-m", "mamori", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done
        assert "MAMORI_BROKER_URL" in done.stderr
