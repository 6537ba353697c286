"""``mamori checks run --once`` and ``mamori checks list [--client CODE]``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.core.management import EXIT_USAGE
from mamori.core.tables import table
from mamori.monitoring.models import Check
from mamori.monitoring.services import purge, roll_up, run_due


class Command(BaseCommand):
    help = "Uptime checks: run the due ones once, or list them."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="run every due check, roll up and purge, then exit")
        run.add_argument("--once", action="store_true", required=True, help="one pass (for cron)")
        run.add_argument("--batch", type=int, default=500, help="checks run at once")
        listing = sub.add_parser("list", help="list checks with their state")
        listing.add_argument("--client", help="only this client's checks (its code)")

    def handle(self, *args, action: str, **options):
        if action == "run":
            self._run(options["batch"])
        else:
            self._list(options.get("client"))

    def _run(self, batch: int) -> None:
        if batch < 1:
            raise CommandError("--batch must be at least 1", returncode=EXIT_USAGE)
        report = run_due(batch=batch)
        rolled = roll_up()
        purged = purge()
        self.stdout.write(report.summary())
        for check_id, old, new in report.changes:
            self.stdout.write(f"  check {check_id}: {old} → {new}")
        self.stdout.write(
            f"rolled up {rolled.five_minutes} 5-minute, {rolled.hours} hourly, "
            f"{rolled.days} daily bucket(s); purged {purged.samples} result(s), "
            f"{purged.rollups} roll-up(s)"
        )

    def _list(self, client: str | None) -> None:
        checks = Check.objects.select_related("client").order_by("client__code", "name")
        if client:
            checks = checks.filter(client__code=client)
            if not checks.exists() and not _client_exists(client):
                raise CommandError(f"no client with code {client!r}", returncode=EXIT_USAGE)
        if not checks.exists():
            self.stdout.write(_("No checks."))
            return
        header = [_("ID"), _("CLIENT"), _("KIND"), _("STATE"), _("EVERY"), _("NAME"), _("LAST")]
        rows = [
            (
                check.pk,
                check.client.code,
                check.get_kind_display(),
                check.get_state_display(),
                _("%(seconds)d s") % {"seconds": check.interval_seconds},
                check.name if check.enabled else _("%(name)s (disabled)") % {"name": check.name},
                check.last_result.get("detail", "") if check.last_result else "",
            )
            for check in checks
        ]
        for line in table(header, rows, right={0, 4}):
            self.stdout.write(line)


def _client_exists(code: str) -> bool:
    from mamori.clients.models import Client

    return Client.objects.filter(code=code).exists()
