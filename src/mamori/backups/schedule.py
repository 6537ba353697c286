"""The periodic pass of backups (``backups_due`` in ``operations/jobs.py``): record dead runs
failed, record missed backups, and start what is due.

A backup can take hours, so the pass does not run restic itself: it starts one detached
``mamori backups run --due <job>`` process per due job (and ``drill --due``) and returns. Each
process takes the job's run row first (one running run per job; a scheduled time is taken
once), so passes in several processes never start one job twice; a process that dies is found
by the next pass (:func:`~mamori.backups.services.reap_stale`) and the job retried.
"""

from __future__ import annotations

import logging
import subprocess
import sys

from mamori.backups import services

log = logging.getLogger(__name__)


def launch(*args: str) -> None:
    subprocess.Popen(
        [sys.executable, "-m", "mamori", "backups", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def run_due(inline: bool = False) -> dict:
    """One pass. ``inline``: run the due work in this process (tests, ``--once`` callers)."""
    reaped = services.reap_stale()
    missed = services.mark_missed()
    started = []
    for job_id in services.due_jobs().values_list("pk", flat=True):
        if inline:
            services.run_due_job(job_id)
        else:
            launch("run", "--due", str(job_id))
        started.append(job_id)
    drills = []
    for job_id in services.due_drills().values_list("pk", flat=True):
        if inline:
            services.run_due_drill(job_id)
        else:
            launch("drill", "--due", str(job_id))
        drills.append(job_id)
    if reaped or missed or started or drills:
        log.info(
            "backups: %d dead runs recorded failed, %d missed, %d backups and %d drills started",
            len(reaped),
            len(missed),
            len(started),
            len(drills),
        )
    return {"reaped": len(reaped), "missed": len(missed), "started": started, "drills": drills}
