"""``import_file``: read, check and write an inventory file, all or nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from mamori.core.models import User
from mamori.inventory.transfer.applying import Importer, may_import
from mamori.inventory.transfer.entries import read_csv, read_yaml
from mamori.inventory.transfer.reading import FileProblem, decode, parse_csv, parse_yaml
from mamori.inventory.transfer.report import ImportReport
from mamori.inventory.transfer.schema import ClientEntry

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}
# Far above any real inventory; keeps a mistaken upload from tying up a worker.
MAX_FILE_BYTES = 10 * 1024 * 1024

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]


def file_format(filename: str) -> str | None:
    """``"yaml"`` or ``"csv"`` by the file name's extension (any case), else ``None``."""
    return FORMATS.get(Path(filename).suffix.lower())


def import_file(
    source: Source,
    *,
    filename: str,
    actor: User | None = None,
    dry_run: bool = False,
    request: HttpRequest | None = None,
) -> ImportReport:
    """Import an inventory file (YAML, or CSV of endpoints) and report what happened.

    ``source`` is the file's content (bytes or a binary file object) or its path;
    ``filename`` names it in messages and decides the format by its extension. Records are
    matched by natural key and created or updated; records the file does not mention are left
    alone. Everything happens in one transaction: if anything is wrong, nothing is written and
    ``report.errors`` lists every problem found. With ``dry_run`` the same checks run and the
    report says what would change, but nothing is kept (not even audit events).

    ``actor`` is the user importing (``None``: the command line, with full rights). Client
    viewers may not import; other users may only touch clients they can see, and only provider
    administrators and operators may create clients. Each record created or updated writes an
    ``import.create`` / ``import.update`` audit event.

    Raises ``OSError`` only when ``source`` is a path that cannot be read; every problem with
    the content is reported, never raised.
    """
    report = ImportReport(filename=filename, dry_run=dry_run)
    fmt = file_format(filename)
    if not may_import(actor):
        report.add_error(None, "", _("You may not import: your account may only view."))
    elif fmt is None:
        report.add_error(None, "", _("Unsupported file type: use .yaml, .yml or .csv."))
    else:
        data = _read(source)
        if len(data) > MAX_FILE_BYTES:
            report.add_error(
                None,
                "",
                _("The file is too large (at most %(mb)d MB).")
                % {"mb": MAX_FILE_BYTES // (1024 * 1024)},
            )
        else:
            _import(data, fmt, report, actor, request)
    report.finish()
    return report


def _read(source: Source) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        return Path(source).read_bytes()
    return source.read()


def read_entries(data: bytes, fmt: str, report: ImportReport) -> list[ClientEntry]:
    """Parse and check a file without touching the database; raises :class:`FileProblem`."""
    if fmt == "csv":
        text = decode(data, allow_shift_jis=True)
        header, header_line, rows = parse_csv(text, report.add_error)
        return read_csv(header, header_line, rows, report.add_error)
    text = decode(data, allow_shift_jis=False)
    return read_yaml(parse_yaml(text, report.add_error), report.add_error)


def _import(
    data: bytes,
    fmt: str,
    report: ImportReport,
    actor: User | None,
    request: HttpRequest | None,
) -> None:
    try:
        clients = read_entries(data, fmt, report)
    except FileProblem as e:
        report.add_error(e.line, "", e.message)
        return
    if not clients:
        return
    try:
        with transaction.atomic():
            # Records with problems in the file are skipped, but the others still go through
            # the database checks (references, the models' rules) so that one run reports all
            # problems; the rollback below then keeps none of it.
            Importer(report, actor, request).run(clients)
            if report.errors or report.dry_run:
                transaction.set_rollback(True)
    except IntegrityError:
        # Only a concurrent edit of the same records can get here: every constraint is
        # checked by full_clean() before saving.
        report.add_error(
            None, "", _("The records changed while importing; nothing was imported. Try again.")
        )
