"""``mamori import FILE``: load clients, contracts and what is managed for them from a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from mamori.core.tables import table
from mamori.inventory.management import EXIT_INVALID, EXIT_USAGE, find_user
from mamori.inventory.transfer import ImportReport, file_format, import_file


class Command(BaseCommand):
    help = (
        "Import clients, contacts, contracts, servers, sites, domains and endpoints from a "
        "YAML file, or endpoints from a CSV file (see docs/import-format.md). Records are "
        "matched by natural key and created or updated; nothing is deleted. All or nothing: "
        "exit status 0 = imported, 1 = the file has errors (nothing imported), 2 = usage error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="inventory file: .yaml, .yml or .csv")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the file and show what would change, without writing anything",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the report as JSON on standard output"
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="import as this user: their permissions apply and the audit trail names them "
            "(default: the system, with full rights)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if file_format(path.name) is None:
            raise CommandError(
                _("%(file)s: unsupported file type; use .yaml, .yml or .csv.")
                % {"file": options["file"]},
                returncode=EXIT_USAGE,
            )
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CommandError(
                f"{options['file']}: {e.strerror or e}", returncode=EXIT_USAGE
            ) from None
        actor = find_user(options["user"])
        report = import_file(
            data, filename=options["file"], actor=actor, dry_run=options["dry_run"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            self._print(report, verbose=options["verbosity"] >= 2)
        if not report.ok:
            raise CommandError(
                _("%(count)d problem(s) found; nothing was imported.")
                % {"count": report.error_count},
                returncode=EXIT_INVALID,
            )

    def _print(self, report: ImportReport, *, verbose: bool) -> None:
        for problem in report.errors:
            self.stderr.write(str(problem))
        if report.more_errors:
            self.stderr.write(
                _("… and %(count)s more problems (the first %(shown)d in the file are listed).")
                % {"count": f"{report.more_errors:,}", "shown": len(report.errors)}
            )
        if not report.ok:
            return
        if report.dry_run or verbose:
            for change in report.changes:
                self.stdout.write(str(change))
        rows = [
            (label, *(str(counts[k]) for k in ("created", "updated", "unchanged")))
            for _kind, label, counts in report.rows()
        ]
        header = (
            "",
            pgettext("import count", "created"),
            pgettext("import count", "updated"),
            pgettext("import count", "unchanged"),
        )
        for line in table(header, rows, right={1, 2, 3}):
            self.stdout.write(line)
        if report.dry_run:
            self.stdout.write(_("Dry run: nothing was written."))
