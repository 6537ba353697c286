"""Turning the bytes of an inventory file into values that remember their line.

Nothing here knows the inventory schema: YAML becomes a tree of :class:`Node` objects, CSV a list
of :class:`CsvRow` objects. Problems that stop reading altogether (not text, not YAML) raise
:class:`FileProblem`; problems that only spoil one value (a duplicate key) are handed to the
``report`` callback so that reading goes on and every problem is found in one pass.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.nodes import Node as YamlNode
from ruamel.yaml.reader import ReaderError

# Enough for any real inventory; stops a file of aliases to aliases ("billion laughs") from
# expanding into millions of values.
MAX_NODES = 1_000_000

# Records a file may hold (CSV rows; in YAML, records of every kind). Importing one takes a few
# milliseconds (checks, a database write, an audit event); a larger inventory is imported in
# parts, e.g. one file per client (``mamori export --client``).
MAX_RECORDS = 10_000

# A CSV's header: only nine columns are known, so a wider header is not an inventory, and every
# row would be read against all of its columns.
MAX_CSV_COLUMNS = 100
MAX_CSV_HEADER_CHARS = 4_000

MERGE_TAG = "tag:yaml.org,2002:merge"

# What is not text: YAML 1.2 §5.1 allows tab, line breaks and the printable characters; the same
# rule holds for CSV. Escapes in quoted YAML ("\0", "\ud800") can spell the others, so values
# are checked too: a NUL or a lone surrogate cannot be stored in the database or printed.
NOT_TEXT = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Bytes that are all EUC-JP: ASCII, two-byte JIS X 0208 (with the vendors' extra rows), half-width
# katakana (0x8E ..) and JIS X 0212 (0x8F .. ..). Shift_JIS text nearly always has bytes this
# leaves out (0x81-0x9F lead most of its characters), so the two are told apart by the bytes.
EUC_JP_BYTES = re.compile(rb"(?:[\x00-\x7f]++|[\xa1-\xfe]{2}|\x8e[\xa1-\xdf]|\x8f[\xa1-\xfe]{2})*+")
# ISO-2022-JP ("JIS", as in e-mail) is 7-bit: escape sequences switch to JIS X 0208 and back.
ISO_2022_JP_ESCAPE = re.compile(rb"\x1b(?:\$[@B]|\$\(D|\([BJI])")

# Where problems go that do not stop reading: ``report(line, path, message)``.
Report = Callable[[int | None, str, str], None]


class FileProblem(Exception):
    """The file cannot be read at all; ``line`` is 1-based, or ``None`` for the whole file."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(eq=False)
class Node:
    """A YAML value and where it was written.

    ``value`` is a plain scalar (``str``, ``int``, ``float``, ``bool``, ``date``, ``None``), a
    ``list[Node]`` or a ``dict[str, Node]``. ``line`` is the 1-based line of the value;
    ``key_line`` that of its key when the value sits in a mapping (else the same as ``line``).
    """

    value: Any
    line: int
    key_line: int

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)


@dataclass(frozen=True)
class CsvRow:
    """One data row of a CSV file: cells by (lower-case) column name, and its first file line."""

    line: int
    cells: dict[str, str]


def decode(data: bytes, *, allow_shift_jis: bool) -> str:
    """The text of ``data``: UTF-8 with or without a byte order mark or, if ``allow_shift_jis``
    and the bytes are not UTF-8, Shift_JIS as Windows writes it (CP932, what Japanese Excel
    saves as "CSV").

    A Shift_JIS file is practically never valid UTF-8 (its two-byte characters break UTF-8's
    rules at once), so trying UTF-8 first is a reliable detection. EUC-JP bytes often decode as
    CP932 too, into other characters: EUC-JP is recognised by its bytes and refused, as are
    UTF-16 and ISO-2022-JP, which would otherwise read as text with NULs or escapes in it.
    Raises :class:`FileProblem` naming the line of the first byte that is not valid.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data):
        raise FileProblem(_("The file is UTF-16 text; save it as UTF-8."))
    if escape := ISO_2022_JP_ESCAPE.search(data):
        raise FileProblem(
            _("The file is ISO-2022-JP (JIS) text; save it as UTF-8."),
            line=data.count(b"\n", 0, escape.start()) + 1,
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        utf8_error = e
    line = data.count(b"\n", 0, utf8_error.start) + 1
    byte = data[utf8_error.start]
    if EUC_JP_BYTES.fullmatch(data):
        if allow_shift_jis:
            message = _(
                "The file is EUC-JP text; a CSV file must be UTF-8 or Shift_JIS. Save it as "
                "UTF-8: in Excel as “CSV UTF-8 (comma delimited)”, or with "
                "iconv -f EUC-JP -t UTF-8."
            )
        else:
            message = _(
                "The file is not UTF-8 text (byte 0x%(byte)02X; it looks like EUC-JP); "
                "save it as UTF-8."
            )
        raise FileProblem(message % {"byte": byte}, line=line)
    if allow_shift_jis:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError:
            pass
        message = _("The file is neither UTF-8 nor Shift_JIS text (byte 0x%(byte)02X).")
    else:
        message = _("The file is not UTF-8 text (byte 0x%(byte)02X); save it as UTF-8.")
        try:
            data.decode("cp932")
        except UnicodeDecodeError:
            pass
        else:
            message = _(
                "The file is not UTF-8 text (byte 0x%(byte)02X; it looks like Shift_JIS); "
                "save it as UTF-8."
            )
    raise FileProblem(message % {"byte": byte}, line=line)


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a byte order mark: text in ASCII has a NUL in every other byte."""
    head = data[:200]
    return len(head) >= 4 and any(head[i::2].count(0) * 2 >= len(head) // 2 for i in (0, 1))


def character_problem(text: str, line: int, fmt: str) -> FileProblem | None:
    """A :class:`FileProblem` for the first character of ``text`` that is not text (a control
    character, a lone UTF-16 surrogate), at ``line`` plus the lines before it; else ``None``."""
    bad = NOT_TEXT.search(text)
    if bad is None:
        return None
    code = ord(bad.group())
    line += text.count("\n", 0, bad.start())
    if 0xD800 <= code <= 0xDFFF:
        message = _("U+%(code)04X is half of a UTF-16 surrogate pair, not a character.")
    elif fmt == "csv":
        message = _("Control character U+%(code)04X is not allowed in CSV.")
    else:
        message = _("Control character U+%(code)04X is not allowed in YAML.")
    return FileProblem(message % {"code": code}, line)


# --- YAML ---------------------------------------------------------------------------------------


def parse_yaml(text: str, report: Report) -> Node | None:
    """Parse one YAML document into a :class:`Node` tree; ``None`` for an empty document.

    Duplicate keys are reported (with the path of the mapping) and the first value kept.
    Raises :class:`FileProblem` for text that is not YAML.
    """
    yaml = YAML(typ="safe", pure=True)
    try:
        root = yaml.compose(text)
        return None if root is None else _Builder(yaml, report).build(root, "", None)
    except MarkedYAMLError as e:
        raise _syntax_problem(e, text) from None
    except ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        code = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or " ")
        raise FileProblem(
            _("Control character U+%(code)04X is not allowed in YAML.") % {"code": code}, line
        ) from None
    except YAMLError as e:
        raise FileProblem(_("Not valid YAML: %(problem)s") % {"problem": e}) from None
    except RecursionError:
        # Thousands of nested brackets: no inventory looks like that.
        raise FileProblem(_("The file is nested too deeply.")) from None


def _syntax_problem(error: MarkedYAMLError, text: str) -> FileProblem:
    mark = error.problem_mark or error.context_mark
    if mark is None:
        return FileProblem(_("Not valid YAML: %(problem)s") % {"problem": error})
    lines = text.splitlines()
    source = lines[mark.line] if mark.line < len(lines) else ""
    indentation = source[: len(source) - len(source.lstrip())]
    if "\t" in indentation:
        # YAML forbids tabs for indentation, and ruamel's wording for it ("cannot start any
        # token", "mapping values are not allowed here") does not say so.
        return FileProblem(_("Tab character: indent YAML with spaces, not tabs."), mark.line + 1)
    problem = (error.problem or "").strip()
    if error.context and error.context_mark is not None and error.context_mark is not mark:
        problem += " " + _("(%(context)s from line %(line)d)") % {
            "context": error.context.strip(),
            "line": error.context_mark.line + 1,
        }
    return FileProblem(_("Not valid YAML: %(problem)s") % {"problem": problem}, mark.line + 1)


class _Builder:
    """Turns ruamel's composed node graph into :class:`Node` objects.

    Composing (not loading) keeps a position for every scalar and every duplicate key, which
    the loader throws away; scalars are then constructed one by one with YAML 1.2 rules.
    """

    def __init__(self, yaml: YAML, report: Report) -> None:
        self.constructor = yaml.constructor
        self.report = report
        self.budget = MAX_NODES

    def build(self, node: YamlNode, path: str, key_line: int | None) -> Node:
        self.budget -= 1
        if self.budget < 0:
            raise FileProblem(_("The file is too large, or uses too many aliases (*name)."))
        line = node.start_mark.line + 1
        if isinstance(node, MappingNode):
            return Node(self._mapping(node, path), line, key_line or line)
        if isinstance(node, SequenceNode):
            items = [
                self.build(item, f"{path}[{i}]", item.start_mark.line + 1)
                for i, item in enumerate(node.value)
            ]
            return Node(items, line, key_line or line)
        if problem := character_problem(node.value, line, "yaml"):
            raise problem
        if key_line is not None and node.value == "" and not node.style:
            # An empty value ("key:") is marked at the next token, often on a later line.
            line = key_line
        return Node(self._scalar(node), line, key_line or line)

    def _scalar(self, node: ScalarNode) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (YAMLError, ValueError, OverflowError):
            # An impossible date (2026-02-30) or an unknown tag: keep the text, so that the
            # schema can say what is wrong with it for the field it is in.
            return node.value

    def _mapping(self, node: MappingNode, path: str) -> dict[str, Node]:
        result: dict[str, Node] = {}
        merges: list[YamlNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merges.extend(
                    value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                )
                continue
            key_line = key_node.start_mark.line + 1
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            if problem := character_problem(key, key_line, "yaml"):
                raise problem
            child_path = f"{path}.{key}" if path else key
            if key in result:
                self.report(
                    key_line,
                    child_path,
                    _("Duplicate key: it was already given on line %(line)d.")
                    % {"line": result[key].key_line},
                )
                continue
            result[key] = self.build(value_node, child_path, key_line)
        # "<<: *defaults" fills in keys the mapping does not give itself (YAML merge keys).
        for source in merges:
            if not isinstance(source, MappingNode):
                self.report(source.start_mark.line + 1, path, _("'<<' must refer to a mapping."))
                continue
            for key, child in self._mapping(source, path).items():
                result.setdefault(key, child)
        return result


# --- CSV ----------------------------------------------------------------------------------------


def parse_csv(text: str, report: Report) -> tuple[list[tuple[str, int]], int, list[CsvRow]]:
    """The header (column names, lower-cased, with their column number), its line, and the
    data rows.

    Line numbers are file lines: a quoted cell may span lines, and a row is numbered by the line
    it starts on. Blank lines are skipped. A row with more cells than the header is reported.
    Raises :class:`FileProblem` for a file without a header, with control characters, a header
    wider than :data:`MAX_CSV_COLUMNS` columns or :data:`MAX_CSV_HEADER_CHARS` characters, more
    than :data:`MAX_RECORDS` rows, or that the csv module rejects.
    """
    if problem := character_problem(text, 1, "csv"):
        raise problem
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[tuple[str, int]] | None = None
    header_line = 1
    rows: list[CsvRow] = []
    data_rows = 0
    next_line = 1
    try:
        for cells in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                _check_header(cells, line)
                header = [(c.strip().lower(), i + 1) for i, c in enumerate(cells)]
                header_line = line
                continue
            data_rows += 1
            if data_rows > MAX_RECORDS:
                raise FileProblem(
                    _(
                        "The file has more than %(max)s rows; import it in parts of at most "
                        "%(max)s rows."
                    )
                    % {"max": f"{MAX_RECORDS:,}"},
                    line,
                )
            if len(cells) > len(header):
                report(
                    line,
                    "",
                    _("This row has %(cells)d cells but the header has %(columns)d columns.")
                    % {"cells": len(cells), "columns": len(header)},
                )
                continue
            values = {
                name: cells[col - 1].strip() if col <= len(cells) else "" for name, col in header
            }
            rows.append(CsvRow(line, values))
    except csv.Error as e:
        raise _csv_problem(e, next_line) from None
    if header is None:
        raise FileProblem(_("The file is empty: a header row is required."), line=None)
    return header, header_line, rows


def _check_header(cells: list[str], line: int) -> None:
    if len(cells) > MAX_CSV_COLUMNS:
        raise FileProblem(
            _("The header has %(count)s columns; at most %(max)d are allowed.")
            % {"count": f"{len(cells):,}", "max": MAX_CSV_COLUMNS},
            line,
        )
    length = sum(map(len, cells)) + len(cells) - 1
    if length > MAX_CSV_HEADER_CHARS:
        raise FileProblem(
            _("The header is %(count)s characters long; at most %(max)s are allowed.")
            % {"count": f"{length:,}", "max": f"{MAX_CSV_HEADER_CHARS:,}"},
            line,
        )


def _csv_problem(error: csv.Error, line: int) -> FileProblem:
    """The csv module's error (English, without a code) in words the user can act on."""
    text = str(error)
    if text.startswith("field larger than field limit"):
        return FileProblem(
            _("A cell is longer than %(max)s characters.") % {"max": f"{csv.field_size_limit():,}"},
            line,
        )
    if text == "unexpected end of data":
        return FileProblem(
            _('A quoted cell that starts on this line is not closed (a " is missing).'), line
        )
    return FileProblem(_("Not valid CSV: %(problem)s") % {"problem": text}, line)
