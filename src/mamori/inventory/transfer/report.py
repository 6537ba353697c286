"""What an import tells its caller: the problems found, and what was (or would be) written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The record kinds of an inventory file, in the order they are imported and reported.
RECORD_KINDS: tuple[str, ...] = (
    "clients",
    "contacts",
    "contracts",
    "fees",
    "catalogue",
    "support_hours",
    "servers",
    "sites",
    "domains",
    "endpoints",
    "acme_accounts",
    "managed_certificates",
    "deployment_targets",
    "checks",
    "maintenance_windows",
    "backup_jobs",
)

SECTION_LABELS = {
    "clients": gettext_lazy("Clients"),
    "contacts": gettext_lazy("Contacts"),
    "contracts": gettext_lazy("Contracts"),
    "fees": gettext_lazy("Fees"),
    "catalogue": gettext_lazy("Catalogue items"),
    "support_hours": gettext_lazy("Support hours"),
    "servers": gettext_lazy("Servers"),
    "sites": gettext_lazy("Sites"),
    "domains": gettext_lazy("Domains"),
    "endpoints": gettext_lazy("Endpoints"),
    "acme_accounts": gettext_lazy("ACME accounts"),
    "managed_certificates": gettext_lazy("Managed certificates"),
    "deployment_targets": gettext_lazy("Deployment targets"),
    "checks": gettext_lazy("Checks"),
    "maintenance_windows": gettext_lazy("Maintenance windows"),
    "backup_jobs": gettext_lazy("Backup jobs"),
}

COUNT_KINDS = ("created", "updated", "unchanged")

# A report lists at most this many problems, the first in file order; the rest are counted
# (``more_errors``). A file with thousands of problems is fixed a screenful at a time, and the
# page, the terminal and the JSON stay small however broken the file is.
MAX_PROBLEMS = 100


@dataclass(frozen=True, order=True)
class ImportProblem:
    """One thing wrong with an inventory file.

    ``line`` is the 1-based line in the file, or ``None`` when the problem concerns the file as a
    whole (or the user). ``path`` names the field the way it is written in the file
    (``clients[0].contacts[1].email``; for CSV the column name), or is empty. ``str()`` gives the
    one-line form ``file:line: path: message`` that compilers use, so editors can jump to it.
    """

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


@dataclass(frozen=True)
class Change:
    """One record that the import created or updated (or, in a dry run, would have)."""

    action: Literal["create", "update"]
    section: str
    client: str
    key: str
    fields: tuple[str, ...]

    def __str__(self) -> str:
        verb = _("create") if self.action == "create" else _("update")
        text = f"{verb} {self.section} {self.client}/{self.key}"
        if self.action == "update":
            text += f" ({', '.join(self.fields)})"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model": self.section,
            "client": self.client,
            "key": self.key,
            "fields": list(self.fields),
        }


def _file_order(problem: ImportProblem) -> tuple[bool, int, str, str]:
    """Problems of the whole file first, then by line, field and message."""
    return (problem.line is not None, problem.line or 0, problem.path, problem.message)


def _zero_counts() -> dict[str, dict[str, int]]:
    return {section: dict.fromkeys(COUNT_KINDS, 0) for section in RECORD_KINDS}


@dataclass
class ImportReport:
    """The outcome of :func:`~mamori.inventory.transfer.import_file`.

    ``ok`` is true when the file had no problem; then ``counts`` and ``changes`` say what was
    written (for a dry run: what would be). When ``ok`` is false nothing was written and the
    counts are all zero: ``errors`` lists the problems found, in file order, at most
    :data:`MAX_PROBLEMS` of them; ``more_errors`` counts the others and ``error_count`` all.
    ``counts`` maps each kind of record (``clients``, ``contacts``, ``contracts``, ``servers``,
    ``sites``, ``domains``, ``endpoints``, ``acme_accounts``, ``managed_certificates``,
    ``deployment_targets``, ``checks``, ``maintenance_windows``, ``backup_jobs``) to
    ``{"created": n, "updated": n, "unchanged": n}``.
    """

    filename: str
    dry_run: bool = False
    errors: list[ImportProblem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=_zero_counts)
    changes: list[Change] = field(default_factory=list)
    error_count: int = 0
    # Hashes of every problem reported, so that one reported twice counts once.
    _seen: set[int] = field(default_factory=set, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def more_errors(self) -> int:
        """Problems found but not in ``errors`` (after :meth:`finish`)."""
        return self.error_count - len(self.errors)

    def total(self, kind: str) -> int:
        """Records ``created``, ``updated`` or ``unchanged`` over all kinds."""
        return sum(c[kind] for c in self.counts.values())

    def rows(self) -> list[tuple[str, str, dict[str, int]]]:
        """``(kind, translated label, counts)`` per kind of record, for tables in the UI."""
        return [(s, str(SECTION_LABELS[s]), self.counts[s]) for s in RECORD_KINDS]

    def add_error(self, line: int | None, path: str, message: str) -> None:
        """Record a problem (once, however often it is reported). Takes constant time: only
        the first :data:`MAX_PROBLEMS` problems in file order are kept."""
        problem = ImportProblem(self.filename, line, path, message)
        digest = hash(problem)
        if digest in self._seen:
            return
        self._seen.add(digest)
        self.error_count += 1
        self.errors.append(problem)
        if len(self.errors) >= 2 * MAX_PROBLEMS:
            self._keep_first()

    def _keep_first(self) -> None:
        self.errors.sort(key=_file_order)
        del self.errors[MAX_PROBLEMS:]

    def count(self, section: str, kind: str) -> None:
        self.counts[section][kind] += 1

    def finish(self) -> None:
        """Put the errors in file order (the first :data:`MAX_PROBLEMS`); forget the counts if
        nothing could be written."""
        self._keep_first()
        if self.errors:
            self.counts = _zero_counts()
            self.changes = []

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``mamori import --json``)."""
        return {
            "file": self.filename,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "errors": [e.as_dict() for e in self.errors],
            "more_errors": self.more_errors,
            "counts": self.counts,
            "changes": [c.as_dict() for c in self.changes],
        }
