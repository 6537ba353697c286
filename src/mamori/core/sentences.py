"""Sentences Mamori writes for people, stored as codes and parameters (issue 15).

A :class:`Text` is a catalogue message (its English msgid) and its parameters. It is stored as
JSON (:meth:`Text.to_json`) and becomes a sentence only when shown (``str()``), in the language
active then: the reader's, not the language of whoever was active when it was written. A
parameter may itself be a :class:`Text` (a reason, a field's name). Mark the msgids with
``gettext_noop`` so that they stay in the catalogue.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext


class Text:
    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = str(msgid)
        self.params = params

    @classmethod
    def label(cls, lazy: Any) -> Text:
        """A lazily translated label (a choice's name) as a :class:`Text`: its English msgid."""
        with translation.override("en"):
            return cls(str(lazy))

    def __str__(self) -> str:
        text = gettext(self.msgid)
        if not self.params:
            return text
        return text % {k: str(v) for k, v in self.params.items()}

    def to_json(self) -> dict[str, Any]:
        params = {k: v.to_json() if isinstance(v, Text) else v for k, v in self.params.items()}
        return {"msgid": self.msgid, "params": params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Text:
        params = {
            k: cls.from_json(v) if isinstance(v, dict) and "msgid" in v else v
            for k, v in (data.get("params") or {}).items()
        }
        return cls(data["msgid"], **params)


def shown(stored: dict[str, Any] | None, fallback: str) -> str:
    """``stored`` (a :meth:`Text.to_json`) in the active language, else ``fallback``: a row
    written before its text was stored as a code keeps its sentence."""
    if not stored:
        return fallback
    try:
        return str(Text.from_json(stored))
    except (KeyError, TypeError, ValueError):
        return fallback
