"""The Celery app of the scaled-out mode (docs/scaling.md).

Only ``mamori worker`` (or ``celery -A mamori.celery worker``) and ``mamori scheduler`` import
this module; embedded mode (``mamori serve``) never does, so without ``MAMORI_BROKER_URL``
nothing changes and Celery need not even be installed.

Delivery is at least once, and every task is safe to run twice:

- ``task_acks_late``: a task is acknowledged when it has finished, not when it was received, so
  a worker that dies mid-task leaves the message unacknowledged;
- ``task_reject_on_worker_lost``: a pool process killed mid-task sends its message back to the
  queue instead of marking it failed;
- ``worker_prefetch_multiplier = 1``: a worker holds no more messages than it runs, so a dead
  worker strands nothing it had not started;
- ``visibility_timeout`` (``MAMORI_BROKER_VISIBILITY_TIMEOUT``): Redis hands a message that a
  dead worker held to another worker after that long; ``unacked_restore_throttle = 1`` makes
  the workers look for such messages every ``unacked_restore_interval`` seconds;
- a batch run twice records each result once (``record_result`` is idempotent per check and
  slot), and notices are claimed row by row, so a duplicate does no harm.

Checks travel on their own queue (``mamori.checks``) so that a backlog of batches never holds
back the notices and the periodic work on ``mamori``; a worker consumes both unless told
otherwise (``-Q``).
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mamori.settings")

QUEUE = "mamori"
CHECKS_QUEUE = "mamori.checks"

app = Celery("mamori")


def configure(app: Celery) -> None:
    """Configure ``app`` from Django settings (the ``MAMORI_*`` variables)."""
    from django.conf import settings

    visibility = settings.MAMORI_BROKER_VISIBILITY_TIMEOUT
    app.conf.update(
        broker_url=settings.MAMORI_BROKER_URL or None,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": max(1, min(10, visibility // 4)),
            "unacked_restore_throttle": 1,
        },
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        timezone=settings.TIME_ZONE,
        enable_utc=True,
        task_default_queue=QUEUE,
        task_queues=[Queue(QUEUE), Queue(CHECKS_QUEUE)],
        task_routes={"mamori.run_batch": {"queue": CHECKS_QUEUE}},
        worker_send_task_events=False,
        task_send_sent_event=False,
    )


configure(app)
app.autodiscover_tasks(["mamori.monitoring", "mamori.operations"])
