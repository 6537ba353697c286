"""``mamori worker [celery worker options]``: a Celery worker of the scaled-out mode.

The same as ``celery -A mamori.celery worker``, with Mamori's log level; every argument goes to
Celery unchanged (``mamori worker --concurrency 4 -n web2@%h``, ``mamori worker --help``).
See docs/scaling.md.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Scaled-out mode: run a Celery worker (arguments go to `celery worker`)."

    def run_from_argv(self, argv: list[str]) -> None:
        # argv: ["mamori", "worker", ...]; Celery parses the rest itself.
        if not settings.MAMORI_BROKER_URL:
            sys.stderr.write(
                "mamori worker needs MAMORI_BROKER_URL (redis://host:6379/0); on one machine, "
                "`mamori serve` runs the checks itself\n"
            )
            sys.exit(2)
        from mamori.celery import app

        level = settings.LOGGING["root"]["level"]
        app.worker_main(["worker", f"--loglevel={level}", *argv[2:]])

    def handle(self, *args, **options):  # pragma: no cover - run_from_argv does the work
        raise NotImplementedError
