"""``mamori scheduler``: the one process of the scaled-out mode that decides what runs when.

It hands batches of due checks to the Celery workers (``mamori worker``) through Redis, hands
out again the runs of workers that died, and sends the periodic jobs of the registry
(:data:`mamori.operations.jobs.JOBS`, the same ones embedded mode runs) as ``mamori.run_job``
tasks. Only one runs at a time: a second one waits until the first stops, then takes over. See
docs/scaling.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

log = logging.getLogger("mamori.monitoring.scheduler")

#: The options that change the interval of registered jobs (mamori.operations.jobs.JOBS).
OVERRIDES = {
    "notices_every": ("notice_delivery",),
    "housekeeping_every": ("check_rollups", "check_purge"),
    "certificates_every": ("certificate_watch", "certificate_lifecycle"),
}


class Command(BaseCommand):
    help = "Scaled-out mode: hand due checks and periodic work to the Celery workers."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=200, help="checks per task (200)")
        parser.add_argument("--tick", type=float, default=1.0, help="seconds between ticks (1)")
        parser.add_argument(
            "--notices-every",
            type=float,
            default=None,
            help="seconds between deliveries (default: the job's, 5)",
        )
        parser.add_argument(
            "--housekeeping-every",
            type=float,
            default=None,
            help="seconds between roll-ups and purges (default: the jobs', 60 and 300)",
        )
        parser.add_argument(
            "--certificates-every",
            type=float,
            default=None,
            help="seconds between certificate watch and lifecycle passes (default: the jobs', 10)",
        )

    def handle(self, *args, **options):
        if not settings.MAMORI_BROKER_URL:
            raise CommandError(
                "mamori scheduler needs MAMORI_BROKER_URL (redis://host:6379/0); on one "
                "machine, `mamori serve` runs the checks itself",
                returncode=2,
            )
        for name in ("batch", "tick", "notices_every", "housekeeping_every", "certificates_every"):
            if options[name] is not None and options[name] <= 0:
                option = "--" + name.replace("_", "-")
                raise CommandError(f"{option} must be more than 0", returncode=2)

        from mamori.monitoring import distributed, tasks
        from mamori.operations.tasks import periodic

        stop = threading.Event()

        def terminate(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, terminate)
        signal.signal(signal.SIGINT, terminate)

        scheduler = distributed.Scheduler(
            tasks.send_batch,
            periodic(
                {
                    job: options[option]
                    for option, names in OVERRIDES.items()
                    for job in names
                    if options[option] is not None
                }
            ),
            batch=options["batch"],
            tick=options["tick"],
            lease=dt.timedelta(seconds=settings.MAMORI_DISPATCH_TIMEOUT),
        )
        with distributed.scheduler_lock(stop) as lock:
            if lock is None:
                return
            log.info(
                "scheduler running (batches of %s, every %ss)", scheduler.batch, scheduler.tick
            )
            try:
                scheduler.run(stop, alive=lock.alive)
            except distributed.LockLost as error:
                raise CommandError(str(error), returncode=2) from None
        log.info("scheduler stopped")
