"""Ordering versions, to tell an upgrade from a downgrade. No Django."""

from __future__ import annotations

import re


def _order(ch: str) -> int:
    if ch == "~":
        return -1
    if ch.isalpha():
        return ord(ch)
    return ord(ch) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's comparison of an upstream version or revision: non-digit runs by character (letters
    before other characters, "~" before everything, even the end), digit runs by number."""
    while a or b:
        a_text = re.match(r"[^0-9]*", a).group(0)
        b_text = re.match(r"[^0-9]*", b).group(0)
        a, b = a[len(a_text) :], b[len(b_text) :]
        for i in range(max(len(a_text), len(b_text))):
            x = _order(a_text[i]) if i < len(a_text) else 0
            y = _order(b_text[i]) if i < len(b_text) else 0
            if x != y:
                return -1 if x < y else 1
        a_num = re.match(r"[0-9]*", a).group(0)
        b_num = re.match(r"[0-9]*", b).group(0)
        a, b = a[len(a_num) :], b[len(b_num) :]
        if int(a_num or 0) != int(b_num or 0):
            return -1 if int(a_num or 0) < int(b_num or 0) else 1
    return 0


def _split(version: str) -> tuple[int, str, str]:
    epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    try:
        number = int(epoch or 0)
    except ValueError:
        number = 0
    return number, upstream, revision


def compare_debian(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version ``a`` is lower than, equal to or higher than ``b``."""
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


def compare_dotted(a: str, b: str) -> int | None:
    """Compare "1.24.0"-style versions number by number; None if either is not all numbers."""
    if not re.fullmatch(r"\d+(\.\d+)*", a) or not re.fullmatch(r"\d+(\.\d+)*", b):
        return None
    x = [int(p) for p in a.split(".")]
    y = [int(p) for p in b.split(".")]
    width = max(len(x), len(y))
    x += [0] * (width - len(x))
    y += [0] * (width - len(y))
    return (x > y) - (x < y)
