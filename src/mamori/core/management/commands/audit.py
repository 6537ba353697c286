"""``mamori audit verify [--json]``: check that the audit trail is intact (ACC-03).

Walks the hash chain from the first event and reports the first broken link: a changed event,
a deleted one (a gap in the sequence), an inserted or re-ordered one. Exits 0 when the chain is
intact and 1 when it is broken, so a cron job or monitoring check can alert on it.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from mamori.core.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit 1 and name the first broken link if not."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        verify = actions.add_parser(
            "verify", help="Walk the hash chain; exit 0 if intact, 1 if broken."
        )
        verify.add_argument(
            "--json",
            action="store_true",
            help="Print the result as JSON (ok, events, head_sequence, head_hash, broken).",
        )
        verify.add_argument("--database", default="default", help="Database alias to check.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain(using=options["database"])
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
            if not report.ok:
                # The JSON already says what is wrong; only the exit status is left to set.
                raise SystemExit(1)
            return
        if report.broken is not None:
            if report.head_sequence is not None:
                self.stdout.write(
                    _("Events 1 to %(head)d are intact (head %(hash)s).")
                    % {"head": report.head_sequence, "hash": report.head_hash}
                )
            raise CommandError(
                _("Audit trail broken: %(message)s") % {"message": report.broken.message},
                returncode=1,
            )
        if report.head_sequence is None:
            self.stdout.write(_("The audit trail is empty."))
            return
        self.stdout.write(
            _("The audit trail is intact: %(count)d events, head %(head)d %(hash)s.")
            % {"count": report.events, "head": report.head_sequence, "hash": report.head_hash}
        )
