"""Tables for the command line: columns aligned by the width a terminal gives each character
(a Japanese character takes two), one header row, two spaces between columns.

No Django here, so that ``mamori scan`` can use it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from wcwidth import wcswidth, wcwidth


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (a control character counts as none)."""
    width = wcswidth(text)
    if width >= 0:
        return width
    return sum(max(wcwidth(c), 0) for c in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` filled with spaces to ``width`` columns (on the left when ``right``)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def table(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, right: Iterable[int] = ()
) -> list[str]:
    """The lines of a table: ``header`` then ``rows`` (cells shown with ``str``), each column as
    wide as its widest cell; the columns numbered in ``right`` are aligned to the right."""
    body = [[str(cell) for cell in row] for row in rows]
    right = set(right)
    widths = [
        max(display_width(row[i]) for row in [list(header), *body]) for i in range(len(header))
    ]
    return [
        "  ".join(pad(cell, widths[i], right=i in right) for i, cell in enumerate(row)).rstrip()
        for row in [list(header), *body]
    ]
