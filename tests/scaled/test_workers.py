"""Scaled-out mode end to end (MON-01): real PostgreSQL and Redis, one `mamori scheduler` and two
`mamori worker` processes; one worker is killed with SIGKILL in the middle of a batch.

Every check's slot is then recorded exactly once, every expected incident opened exactly once,
and every notice sent exactly once to a real SMTP server. The killed batch comes back twice:
from the scheduler (its lease ran out without a result) and later from Redis (the message the
dead worker never acknowledged); the second copy finds nothing left to do.
"""

from __future__ import annotations

import socket
import time
from collections import Counter

import pytest

from tests.scaled.conftest import run
from tests.support.smtp import SMTPServer

CHECKS = 300
BATCH = 25


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SETUP = """
from mamori.clients.models import Client, Contact
from mamori.monitoring.models import Check
client = Client.objects.create(code="sample", name="株式会社サンプル")
Contact.objects.create(client=client, name="山田太郎", email="yamada@sample.example",
                       language="ja", notify=["incidents"])
Check.objects.bulk_create(
    Check(client=client, name=f"c{{i:03}}", kind="http", interval_seconds=3600,
          timeout_seconds=5, failures_to_confirm=1,
          settings={{"url": f"http://127.0.0.1:{{{closed} if i % 8 == 0 else {web}}}/{{i}}"}})
    for i in range({checks})
)
"""


@pytest.fixture
def smtp_server():
    server = SMTPServer().start()
    yield server
    server.stop()


def _wait(condition, timeout: float, what: str, *logs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"{what} did not happen within {timeout} s\n" + "\n".join(p.log() for p in logs))


@pytest.mark.req("MON-01")
def test_a_worker_killed_mid_batch_loses_no_run_and_no_notice_and_does_none_twice(
    scaled, slow_web, smtp_server
):
    closed = _closed_port()
    down = [i for i in range(CHECKS) if i % 8 == 0]
    env = scaled.env
    env["MAMORI_EMAIL_URL"] = smtp_server.url
    env["MAMORI_OPERATOR_EMAILS"] = "ops@provider.example"
    # The killed batch comes back from the scheduler 5 + 1 + 10 s after it started (its checks'
    # timeout, the slack of the probe, RUN_GRACE), and from Redis after 30 s.
    env["MAMORI_BROKER_VISIBILITY_TIMEOUT"] = "30"
    run(env, "shell", "-v", "0", "-c", SETUP.format(closed=closed, web=slow_web, checks=CHECKS))

    quick = ("--without-gossip", "--without-mingle")
    # The victim runs its tasks in its main process (killing it is pulling the plug on a
    # machine); the survivor is a default worker with a pool of two processes.
    victim = scaled.start("w1", "worker", *quick, "--pool", "solo", "-n", "w1@%h")
    survivor = scaled.start("w2", "worker", *quick, "--concurrency", "2", "-n", "w2@%h")
    victim.wait_for("ready.")
    survivor.wait_for("ready.")
    scheduler = scaled.start(
        "scheduler",
        "scheduler",
        "--batch",
        str(BATCH),
        "--tick",
        "0.5",
        "--notices-every",
        "1",
    )
    try:
        victim.wait_for("started (pid", timeout=30)  # its lease is the short one now
        victim.kill()
        killed_log = victim.log()
        assert killed_log.count("started (pid") == 1 and " done: " not in killed_log, killed_log

        def settled() -> bool:
            [(samples, running, notices, unsent)] = scaled.sql(
                "select (select count(*) from monitoring_sample),"
                " (select count(*) from monitoring_check where running_slot is not null),"
                " (select count(*) from notices_notice),"
                " (select count(*) from notices_notice where state <> 'sent')"
            )
            return (
                samples == CHECKS
                and running == 0
                and notices == 2 * len(down)
                and unsent == 0
                and "nothing to do for 25" in survivor.log()  # Redis's copy came back too
            )

        _wait(settled, 75, "recording every run and sending every notice", scheduler, survivor)
    finally:
        assert scheduler.stop() == 0, scheduler.log()
        survivor.stop()

    assert "handed out again 25 run(s)" in scheduler.log(), scheduler.log()

    # Every check ran its one slot exactly once: one sample each, none still running.
    per_check = dict(
        scaled.sql(
            "select c.name, count(s.id) from monitoring_check c"
            " left join monitoring_sample s on s.uptime_check_id = c.id group by c.name"
        )
    )
    assert per_check == {f"c{i:03}": 1 for i in range(CHECKS)}
    states = Counter(state for (state,) in scaled.sql("select state from monitoring_check"))
    assert states == {"down": len(down), "up": CHECKS - len(down)}

    # Every failing check opened exactly one incident; no other check did.
    incidents = scaled.sql(
        "select c.name, count(*) from monitoring_incident i"
        " join monitoring_check c on c.id = i.uptime_check_id group by c.name"
    )
    assert dict(incidents) == {f"c{i:03}": 1 for i in down}

    # Every notice (the contact and the operators, per incident) reached the SMTP server once.
    sent = scaled.sql("select message_id, recipient from notices_notice where state = 'sent'")
    assert len(sent) == 2 * len(down)
    received = Counter(str(m.message["Message-ID"]) for m in smtp_server.messages)
    assert received == Counter(mid for mid, _ in sent)
    recipients = Counter(recipient for _, recipient in sent)
    assert recipients == {"yamada@sample.example": len(down), "ops@provider.example": len(down)}
