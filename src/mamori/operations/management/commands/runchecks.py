import json
import threading

from django.core.management.base import BaseCommand

from mamori.operations.runner import run_forever, run_once


class Command(BaseCommand):
    help = "Check every endpoint that is due, then send the notices that are due."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
        parser.add_argument("--interval", type=float, default=10.0, help="seconds between passes")
        parser.add_argument("--json", action="store_true", help="print the pass report as JSON")

    def handle(self, *args, once: bool, interval: float, json: bool, **options):
        if not once:
            stop = threading.Event()
            self.stdout.write(f"Watching; a pass every {interval:g} s. Ctrl-C stops.")
            try:
                run_forever(stop, interval)
            except KeyboardInterrupt:
                stop.set()
            return
        report = run_once()
        if json:
            self.stdout.write(_json(report))
        else:
            self.stdout.write(report.summary())


def _json(report) -> str:
    c, d = report.checks, report.delivery
    return json.dumps(
        {
            "checked": c.checked,
            "problems": c.problems,
            "events": [{"kind": e.kind, "endpoint": e.endpoint_id} for e in c.events],
            "notices_queued": c.notices,
            "sent": d.sent,
            "retrying": d.retrying,
            "failed": d.failed,
        }
    )
