"""Rules for text people type in: what can be stored, and what says something.

Python strings may hold what no database or encoder accepts: an unpaired surrogate (JSON allows
``"\\ud800"``) cannot be encoded as UTF-8, and PostgreSQL refuses a NUL character. Such text is
refused where it comes in (the API's input schemas, :class:`mamori.api.schemas.Input`), with a
precise message, rather than failing later in ``.encode()`` or the database.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

#: Categories of characters that show nothing: format (zero-width space, joiners, direction
#: marks), control, unassigned, and separators (spaces, line and paragraph separators).
INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Cn", "Co", "Cs", "Zs", "Zl", "Zp"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item)


def unstorable(value: Any) -> str | None:
    """Why ``value`` (text, or text inside lists and mappings) cannot be stored, or None."""
    for text in _strings(value):
        if "\x00" in text:
            return _("The text contains a NUL character (U+0000), which cannot be stored.")
        for char in text:
            if "\ud800" <= char <= "\udfff":
                return _(
                    "The text contains U+%(code)04X, a lone surrogate, which is not a "
                    "character: send valid UTF-8."
                ) % {"code": ord(char)}
    return None


def visible(text: str) -> str:
    """``text`` in NFKC form, without invisible characters at either end (so that a full-width
    space or a zero-width space does not count as content). Empty if nothing shows."""
    text = unicodedata.normalize("NFKC", text or "")
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in INVISIBLE_CATEGORIES
