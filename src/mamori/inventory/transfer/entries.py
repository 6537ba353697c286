"""From a parsed file to checked records: the YAML tree and the CSV rows become
:class:`~mamori.inventory.transfer.schema.ClientEntry` objects, and every problem found on the
way is reported with its line and path. No database access happens here.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.translation import gettext as _

from mamori.inventory.transfer import support_hours
from mamori.inventory.transfer.reading import MAX_RECORDS, CsvRow, FileProblem, Node, Report
from mamori.inventory.transfer.schema import (
    CHALLENGE_SETTINGS,
    CHILD_SECTIONS,
    CSV_COLUMNS,
    CSV_REQUIRED_COLUMNS,
    FORMAT_VERSION,
    FORMULA_STARTS,
    SECTIONS,
    ClientEntry,
    Entry,
    FieldProblem,
    Section,
    convert,
    model_clean,
    show,
)

TOP_LEVEL_KEYS = ("version", "clients")

# Unknown fields of one record (or CSV columns) named one by one; the rest are counted. A file
# with thousands of made-up keys gets a few lines, not thousands of "did you mean" searches.
UNKNOWN_NAMES_SHOWN = 5


def unknown_field_message(name: str, known: Iterable[str], *, column: bool = False) -> str:
    """The message for a field the schema does not know, with the closest known name
    ("Did you mean 'email'?"), so that a typo is caught rather than silently ignored."""
    known = list(known)
    close = _closest(name, known)
    if column:
        text = _("Unknown column %(name)s.") % {"name": show(name)}
    else:
        text = _("Unknown field %(name)s.") % {"name": show(name)}
    if close:
        return text + " " + _("Did you mean '%(close)s'?") % {"close": close}
    return text + " " + _("Known: %(known)s.") % {"known": ", ".join(known)}


def _closest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_columns_message(names: list[str]) -> str:
    """One message for several unknown CSV columns: how many, the first few (each with the
    closest known name), and the known ones."""
    known = list(CSV_COLUMNS)
    listed = []
    for name in names[:UNKNOWN_NAMES_SHOWN]:
        close = _closest(name, known)
        listed.append(
            _("%(name)s (did you mean '%(close)s'?)") % {"name": show(name), "close": close}
            if close
            else show(name)
        )
    if len(names) > UNKNOWN_NAMES_SHOWN:
        listed.append("…")
    return _("%(count)d unknown columns: %(names)s. Known: %(known)s.") % {
        "count": len(names),
        "names": ", ".join(listed),
        "known": ", ".join(known),
    }


def report_unknown_keys(
    unknown: list[tuple[str, Node]],
    known: Iterable[str],
    path_of: Callable[[str], str],
    record_path: str,
    report: Report,
) -> None:
    """Report the unknown keys of one mapping: the first few each at its line, the others as
    one problem at the line of the first of them."""
    known = list(known)
    shown = unknown if len(unknown) <= UNKNOWN_NAMES_SHOWN + 1 else unknown[:UNKNOWN_NAMES_SHOWN]
    for name, node in shown:
        report(node.key_line, path_of(name), unknown_field_message(name, known))
    rest = unknown[len(shown) :]
    if rest:
        report(
            rest[0][1].key_line,
            record_path,
            _("%(count)s more unknown fields, the first %(name)s.")
            % {"count": f"{len(rest):,}", "name": show(rest[0][0])},
        )


def plain(value: Any) -> Any:
    """A node's value with the nodes inside lists and mappings unwrapped."""
    if isinstance(value, list):
        return [plain(item.value) for item in value]
    if isinstance(value, dict):
        return {key: plain(item.value) for key, item in value.items()}
    return value


def _set_value(entry: Entry, name: str, raw: Any, line: int, report: Report, *, text: bool) -> None:
    spec = entry.section.spec(name)
    # Remember where the field was even when its value is bad: it was given, so it must not
    # also be reported as missing.
    entry.lines[name] = line
    try:
        value = convert(spec, raw, from_text=text)
        value = model_clean(entry.section, spec, value)
    except FieldProblem as e:
        report(line, entry.path_of(name), str(e))
        entry.valid = False
        return
    entry.values[name] = value


def _finish(entry: Entry, report: Report) -> None:
    """Report missing key fields; write an SNI equal to the host as empty (its meaning)."""
    for spec in entry.section.fields:
        if spec.required and spec.name not in entry.lines:
            report(entry.line, entry.path_of(spec.name), _("This field is required."))
            entry.valid = False
    values = entry.values
    method, settings = values.get("challenge"), values.get("challenge_settings")
    if method in CHALLENGE_SETTINGS and settings:
        unused = [name for name in settings if name not in CHALLENGE_SETTINGS[method]]
        if unused:
            report(
                entry.line_of("challenge_settings"),
                entry.path_of("challenge_settings"),
                _("%(names)s: not a setting of %(method)s (its settings: %(known)s).")
                % {
                    "names": ", ".join(f"'{n}'" for n in unused),
                    "method": method,
                    "known": ", ".join(CHALLENGE_SETTINGS[method]) or "-",
                },
            )
            entry.valid = False
    if (
        entry.section.name == "endpoints"
        and values.get("sni")
        and values["sni"] == values.get("host")
    ):
        values["sni"] = ""


def check_duplicates(entries: list[Entry], report: Report) -> None:
    """Report records that share a natural key: the second would silently overwrite the
    first, and importing the file again would flip them back and forth."""
    seen: dict[tuple[Any, ...], Entry] = {}
    for entry in entries:
        given = [f for f in entry.section.key_fields if f.required or f.name in entry.lines]
        if not all(f.name in entry.values for f in given):
            continue  # a key field is missing or bad, and has been reported
        first = seen.setdefault(entry.key, entry)
        if first is not entry:
            fields = ", ".join(f.name for f in entry.section.key_fields)
            report(
                entry.line,
                entry.path,
                _("The same record as on line %(line)d (same %(fields)s).")
                % {"line": first.line, "fields": fields},
            )
            entry.valid = False


# --- YAML ---------------------------------------------------------------------------------------


def read_yaml(root: Node | None, report: Report) -> list[ClientEntry]:
    """The clients of a YAML inventory document (``version`` and ``clients`` at the top)."""
    if root is None:
        report(None, "", _("The file is empty."))
        return []
    if not root.is_mapping:
        report(root.line, "", _("Expected a mapping with a 'clients' list at the top level."))
        return []
    unknown = [(key, node) for key, node in root.value.items() if key not in TOP_LEVEL_KEYS]
    report_unknown_keys(unknown, TOP_LEVEL_KEYS, str, "", report)
    version = root.value.get("version")
    if version is not None and (isinstance(version.value, bool) or version.value != FORMAT_VERSION):
        report(
            version.line,
            "version",
            _("Unsupported format version %(version)s (this Mamori reads version %(known)d).")
            % {"version": version.value, "known": FORMAT_VERSION},
        )
    clients_node = root.value.get("clients")
    if clients_node is None:
        report(root.line, "clients", _("This field is required."))
        return []
    items = _list_items(clients_node, "clients", report)
    records = _records_in(SECTIONS["clients"], items)
    if records > MAX_RECORDS:
        raise FileProblem(
            _(
                "The file has %(count)s records; import it in parts of at most %(max)s "
                "records (for example one file per client)."
            )
            % {"count": f"{records:,}", "max": f"{MAX_RECORDS:,}"}
        )
    clients = []
    for i, item in enumerate(items):
        client = _yaml_client(item, f"clients[{i}]", report)
        if client is not None:
            clients.append(client)
    check_duplicates(list(clients), report)
    return clients


def _records_in(section: Section, items: list[Node]) -> int:
    """How many records ``items`` hold, counting those nested in them."""
    total = len(items)
    lists = CHILD_SECTIONS if section.name == "clients" else section.children
    for item in items:
        if not item.is_mapping:
            continue
        for name in lists:
            child = item.value.get(name)
            if child is not None and child.is_list:
                total += _records_in(SECTIONS[name], child.value)
    return total


def _list_items(node: Node, path: str, report: Report) -> list[Node]:
    if node.value is None:
        return []
    if not node.is_list:
        report(node.line, path, _("Expected a list (items starting with '- ')."))
        return []
    return node.value


def _yaml_record(
    section: Section, node: Node, path: str, report: Report, extra: tuple[str, ...] = ()
) -> Entry | None:
    if not node.is_mapping:
        report(node.line, path, _("Expected a mapping of fields (name: value)."))
        return None
    entry_class = ClientEntry if section.name == "clients" else Entry
    entry = entry_class(section=section, path=path, line=node.line)

    def reported(line: int | None, where: str, message: str) -> None:
        entry.valid = False
        report(line, where, message)

    extra = (*extra, *section.children, *section.attached)
    unknown: list[tuple[str, Node]] = []
    for name, child in node.value.items():
        if name in extra:
            continue
        if section.field(name) is None:
            unknown.append((name, child))
            continue
        _set_value(entry, name, plain(child.value), child.line, reported, text=False)
    known = (*section.field_names, *extra)
    report_unknown_keys(unknown, known, entry.path_of, path, reported)
    _finish(entry, reported)
    for name in section.attached:
        if name in node.value:
            attached = support_hours.read(node.value[name], entry.path_of(name), report)
            if attached is not None:
                entry.attached[name] = attached
    _yaml_children(entry, node, section.children, report)
    return entry


def _yaml_children(entry: Entry, node: Node, lists: tuple[str, ...], report: Report) -> None:
    """Read the lists of records nested in ``entry`` (a client's, a certificate's targets)."""
    for name in lists:
        child_node = node.value.get(name)
        entries: list[Entry] = []
        if child_node is not None:
            where = entry.path_of(name)
            for i, item in enumerate(_list_items(child_node, where, report)):
                child = _yaml_record(SECTIONS[name], item, f"{where}[{i}]", report)
                if child is not None:
                    entries.append(child)
        check_duplicates(entries, report)
        entry.children[name] = entries


def _yaml_client(node: Node, path: str, report: Report) -> ClientEntry | None:
    client = _yaml_record(SECTIONS["clients"], node, path, report, extra=CHILD_SECTIONS)
    if not isinstance(client, ClientEntry):
        return None
    client.mentions.append((client.line_of("code"), client.path_of("code")))
    _yaml_children(client, node, CHILD_SECTIONS, report)
    return client


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(
    header: list[tuple[str, int]], header_line: int, rows: list[CsvRow], report: Report
) -> list[ClientEntry]:
    """Endpoints of a CSV file, grouped by the client code in their ``client`` column.

    An empty cell means "not given": the record keeps its value, or a new one gets the default.
    """
    names = [name for name, _col in header]
    if len(names) == 1 and any(sep in names[0] for sep in ("\t", ";")):
        report(header_line, "", _("Separate the columns with commas (,)."))
        return []
    unknown = [name for name in names if name not in CSV_COLUMNS]
    if len(unknown) == 1:
        report(header_line, unknown[0], unknown_field_message(unknown[0], CSV_COLUMNS, column=True))
    elif unknown:
        report(header_line, "", unknown_columns_message(unknown))
    for name, times in sorted(Counter(names).items()):
        if times > 1:
            report(header_line, name, _("This column appears more than once."))
    for name in CSV_REQUIRED_COLUMNS:
        if name not in names:
            report(header_line, name, _("This column is required."))
    if any(name not in names for name in CSV_REQUIRED_COLUMNS):
        return []

    section = SECTIONS["endpoints"]
    clients: dict[str, ClientEntry] = {}
    for row in rows:
        code = row.cells.get("client", "")
        entry = Entry(section=section, path="", line=row.line)
        for name, cell in row.cells.items():
            if name == "client" or section.field(name) is None:
                continue
            if cell == "":
                continue
            if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
                cell = cell[1:]
            _set_value(entry, name, cell, row.line, report, text=True)
        _finish(entry, report)
        if not code:
            report(row.line, "client", _("This field is required."))
            continue
        client = clients.get(code)
        if client is None:
            client = ClientEntry(
                section=SECTIONS["clients"],
                path="",
                line=row.line,
                values={"code": code},
                must_exist=True,
            )
            client.children = {name: [] for name in CHILD_SECTIONS}
            clients[code] = client
        client.mentions.append((row.line, "client"))
        client.children["endpoints"].append(entry)
    for client in clients.values():
        check_duplicates(client.children["endpoints"], report)
    return list(clients.values())
