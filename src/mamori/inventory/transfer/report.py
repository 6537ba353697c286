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
    "servers",
    "sites",
    "domains",
    "endpoints",
    "acme_accounts",
    "managed_certificates",
    "deployment_targets",
)

SECTION_LABELS = {
    "clients": gettext_lazy("Clients"),
    "contacts": gettext_lazy("Contacts"),
    "contracts": gettext_lazy("Contracts"),
    "servers": gettext_lazy("Servers"),
    "sites": gettext_lazy("Sites"),
    "domains": gettext_lazy("Domains"),
    "endpoints": gettext_lazy("Endpoints"),
    "acme_accounts": gettext_lazy("ACME accounts"),
    "managed_certificates": gettext_lazy("Managed certificates"),
    "deployment_targets": gettext_lazy("Deployment targets"),
}

COUNT_KINDS = ("created", "updated", "unchanged")


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


def _zero_counts() -> dict[str, dict[str, int]]:
    return {section: dict.fromkeys(COUNT_KINDS, 0) for section in RECORD_KINDS}


@dataclass
class ImportReport:
    """The outcome of :func:`~mamori.inventory.transfer.import_file`.

    ``ok`` is true when the file had no problem; then ``counts`` and ``changes`` say what was
    written (for a dry run: what would be). When ``ok`` is false nothing was written and the
    counts are all zero: ``errors`` lists every problem found, in file order.
    ``counts`` maps each kind of record (``clients``, ``contacts``, ``contracts``, ``servers``,
    ``sites``, ``domains``, ``endpoints``, ``acme_accounts``, ``managed_certificates``,
    ``deployment_targets``) to ``{"created": n, "updated": n, "unchanged": n}``.
    """

    filename: str
    dry_run: bool = False
    errors: list[ImportProblem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=_zero_counts)
    changes: list[Change] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def total(self, kind: str) -> int:
        """Records ``created``, ``updated`` or ``unchanged`` over all kinds."""
        return sum(c[kind] for c in self.counts.values())

    def rows(self) -> list[tuple[str, str, dict[str, int]]]:
        """``(kind, translated label, counts)`` per kind of record, for tables in the UI."""
        return [(s, str(SECTION_LABELS[s]), self.counts[s]) for s in RECORD_KINDS]

    def add_error(self, line: int | None, path: str, message: str) -> None:
        problem = ImportProblem(self.filename, line, path, message)
        if problem not in self.errors:
            self.errors.append(problem)

    def count(self, section: str, kind: str) -> None:
        self.counts[section][kind] += 1

    def finish(self) -> None:
        """Put the errors in file order; forget the counts if nothing could be written."""
        self.errors.sort(key=lambda p: (p.line is not None, p.line or 0, p.path, p.message))
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
            "counts": self.counts,
            "changes": [c.as_dict() for c in self.changes],
        }
