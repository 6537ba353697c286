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

MERGE_TAG = "tag:yaml.org,2002:merge"

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
    rules at once), so trying UTF-8 first is a reliable detection.
    Raises :class:`FileProblem` naming the line of the first byte that is not valid.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem(_("The file is UTF-16 text; save it as UTF-8."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        utf8_error = e
    if allow_shift_jis:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError:
            pass
    line = data.count(b"\n", 0, utf8_error.start) + 1
    byte = data[utf8_error.start]
    if allow_shift_jis:
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
    Raises :class:`FileProblem` for a file without a header or that the csv module rejects.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[tuple[str, int]] | None = None
    header_line = 1
    rows: list[CsvRow] = []
    next_line = 1
    try:
        for cells in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [(c.strip().lower(), i + 1) for i, c in enumerate(cells)]
                header_line = line
                continue
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
        raise FileProblem(
            _("Not valid CSV: %(problem)s") % {"problem": e}, line=next_line
        ) from None
    if header is None:
        raise FileProblem(_("The file is empty: a header row is required."), line=None)
    return header, header_line, rows
