"""``mamori export``: write the inventory as YAML (or endpoints as CSV) for ``mamori import``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from mamori.inventory.management import EXIT_USAGE, find_user
from mamori.inventory.transfer import EXPORT_FORMATS, UnknownClients, export_inventory


def write_private(path: Path, text: str, *, encoding: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (an inventory holds personal data:
    contacts' names and addresses), replacing the file at once so no half-written file is left.
    """
    directory = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Command(BaseCommand):
    help = (
        "Export the inventory in the format `mamori import` reads: YAML (everything) or CSV "
        "(endpoints). Deterministic: the same data gives the same file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=EXPORT_FORMATS,
            help="yaml (default, or by the -o file's extension) or csv",
        )
        parser.add_argument(
            "--client",
            dest="clients",
            metavar="CODE",
            nargs="+",
            action="extend",
            help="only these clients (codes; repeatable)",
        )
        parser.add_argument(
            "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="export what this user may see; the audit trail names them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output = Path(options["output"]) if options["output"] else None
        fmt = options["format"] or (
            "csv" if output is not None and output.suffix.lower() == ".csv" else "yaml"
        )
        actor = find_user(options["user"])
        try:
            text = export_inventory(fmt=fmt, clients=options["clients"], actor=actor)
        except UnknownClients as e:
            raise CommandError(str(e), returncode=EXIT_USAGE) from None
        if output is None:
            self.stdout.write(text, ending="")
            return
        # Excel opens a CSV file without a byte order mark as Shift_JIS, garbling Japanese.
        encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
        try:
            write_private(output, text, encoding=encoding)
        except OSError as e:
            raise CommandError(
                f"{options['output']}: {e.strerror or e}", returncode=EXIT_USAGE
            ) from None
        if options["verbosity"] >= 1:
            self.stderr.write(_("Wrote %(file)s.") % {"file": options["output"]})
