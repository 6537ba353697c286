"""The Celery side of the periodic jobs in scaled-out mode (docs/scaling.md).

``mamori scheduler`` sends one ``mamori.run_job(name)`` task per job of the registry
(:data:`mamori.operations.jobs.JOBS`) when it is due; a ``mamori worker`` runs it with
:func:`mamori.operations.jobs.run_job`, exactly as embedded mode does. A task that waited longer
than its job's interval expires: the next one does the same work.
"""

from __future__ import annotations

import logging

from mamori.celery import app
from mamori.monitoring import distributed
from mamori.operations import jobs

log = logging.getLogger(__name__)


@app.task(name="mamori.run_job")
def run_job(name: str) -> None:
    job = jobs.REGISTRY.get(name)
    if job is None:  # sent by a scheduler of another version
        log.warning("unknown job %r; ignored", name)
        return
    jobs.run_job(job)


def periodic(every: dict[str, float] | None = None) -> list[distributed.Periodic]:
    """The scheduler's periodic tasks: one per registered job, at the job's interval unless
    ``every`` gives another one for its name."""
    every = every or {}

    def sender(name: str):
        return lambda seconds: run_job.apply_async((name,), expires=max(seconds, 1.0))

    return [
        distributed.Periodic(job.name, every.get(job.name, job.every), sender(job.name))
        for job in jobs.JOBS
    ]
