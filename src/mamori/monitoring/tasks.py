"""The uptime checks' Celery task of the scaled-out mode (docs/scaling.md).

``mamori scheduler`` sends batches of due checks; ``mamori worker`` runs them. A batch is safe
to run twice (see :mod:`mamori.celery`): it records each check's slot once. The periodic jobs
have their own task (:mod:`mamori.operations.tasks`).
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


def send_batch(check_ids: list[int], at: dt.datetime) -> None:
    run_batch.apply_async((check_ids, at.isoformat()))
