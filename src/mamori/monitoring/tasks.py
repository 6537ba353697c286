"""Celery tasks of the scaled-out mode: thin wrappers over the services (docs/scaling.md).

``mamori scheduler`` sends them; ``mamori worker`` runs them. Each is safe to run twice (see
:mod:`mamori.celery`): a batch records each check's slot once, notices are claimed row by row,
roll-ups are recomputed whole, endpoints and lifecycle steps are leased.
"""

from __future__ import annotations

import datetime as dt
import logging

from mamori.celery import app
from mamori.monitoring import distributed

log = logging.getLogger(__name__)


@app.task(name="mamori.run_batch")
def run_batch(check_ids: list[int], at: str) -> None:
    """Run the checks ``check_ids`` for the slot ``at`` (ISO 8601) and record their results."""
    report = distributed.run_batch(check_ids, dt.datetime.fromisoformat(at))
    log.info("batch of %s check(s) at %s done: %s", len(check_ids), at, report.summary())


@app.task(name="mamori.deliver_notices")
def deliver_notices() -> None:
    from mamori.notices.services import deliver_due

    report = deliver_due()
    if report.sent or report.retrying or report.failed:
        log.info(
            "notices: sent %s, retrying %s, failed %s", report.sent, report.retrying, report.failed
        )


@app.task(name="mamori.housekeeping")
def housekeeping() -> None:
    """Roll check results up and purge old ones."""
    from mamori.monitoring.services import purge, roll_up

    roll_up()
    purge()


@app.task(name="mamori.certificates")
def certificates() -> None:
    """The certificate watch (endpoints due) and the certificate lifecycle's steps."""
    from mamori.certificates.services import check_due
    from mamori.lifecycle.runner import run_once as lifecycle_pass

    try:
        check_due()
    except Exception:
        log.exception("endpoint checks failed; the lifecycle goes on")
    lifecycle_pass()  # each of its steps catches and logs its own failure


def send_batch(check_ids: list[int], at: dt.datetime) -> None:
    run_batch.apply_async((check_ids, at.isoformat()))


def periodic(notices: float, housekeeping_every: float, certificates_every: float) -> list:
    """The scheduler's periodic jobs. A task that waited longer than its period is dropped:
    the next one does the same work."""

    def sender(task):
        return lambda every: task.apply_async(expires=max(every, 1.0))

    return [
        distributed.Periodic("deliver_notices", notices, sender(deliver_notices)),
        distributed.Periodic("housekeeping", housekeeping_every, sender(housekeeping)),
        distributed.Periodic("certificates", certificates_every, sender(certificates)),
    ]
