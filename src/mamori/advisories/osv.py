"""OSV records (https://ossf.github.io/osv-schema/): reading one, and whether a version is
affected. No Django in here, so the matcher can be benchmarked on its own."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mamori.advisories import versions

#: Severity levels, worst first (stored as these codes).
LEVELS = ("critical", "high", "medium", "low", "unknown")

#: A database's own severity words, as levels (GitHub: moderate; Ubuntu: negligible …).
_WORDS = {
    "critical": "critical",
    "high": "high",
    "important": "high",
    "moderate": "medium",
    "medium": "medium",
    "low": "low",
    "negligible": "low",
    "unimportant": "low",
}


class RecordError(ValueError):
    """A record that is not an OSV record Mamori can keep; the message says why."""


@dataclass
class Affected:
    ecosystem: str
    name: str
    ranges: list[dict[str, Any]] = field(default_factory=list)  # [{"type", "events"}]
    versions: list[str] = field(default_factory=list)

    @property
    def fixed(self) -> list[str]:
        return [e["fixed"] for r in self.ranges for e in r["events"] if "fixed" in e]


@dataclass
class Record:
    id: str
    modified: dt.datetime
    published: dt.datetime | None
    withdrawn: dt.datetime | None
    aliases: list[str]
    summary: str
    details: str
    severity_vector: str
    severity_score: float | None
    database_severity: str
    level: str
    affected: list[Affected]


def parse_time(value: Any, what: str) -> dt.datetime:
    if not isinstance(value, str):
        raise RecordError(f"{what} is not an RFC 3339 time")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{what} is not an RFC 3339 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def cvss_score(vector: str) -> float | None:
    """The base score of a CVSS v2/v3/v4 vector, or None if it is not one."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    try:
        if vector.startswith("CVSS:4"):
            return float(CVSS4(vector).base_score)
        if vector.startswith("CVSS:3"):
            return float(CVSS3(vector).base_score)
        return float(CVSS2(vector).base_score)
    except (CVSSError, ValueError, KeyError, IndexError, TypeError):
        return None


def level_of_score(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0:
        return "low"
    return "unknown"


def _severity(data: dict[str, Any]) -> tuple[str, float | None, str]:
    """(CVSS vector, its base score, the database's own word) from the record's ``severity``
    (and its affected entries'), ``database_specific.severity``."""
    entries = list(data.get("severity") or [])
    for item in data.get("affected") or []:
        if isinstance(item, dict):
            entries += list(item.get("severity") or [])
    vector, score, word = "", None, ""
    # The newest CVSS version present wins.
    for kind in ("CVSS_V4", "CVSS_V3", "CVSS_V2"):
        for entry in entries:
            if isinstance(entry, dict) and entry.get("type") == kind and entry.get("score"):
                candidate = str(entry["score"])[:200]
                value = cvss_score(candidate)
                if value is not None:
                    vector, score = candidate, value
                    break
        if vector:
            break
    for entry in entries:
        if isinstance(entry, dict) and entry.get("type") == "Ubuntu" and entry.get("score"):
            word = str(entry["score"])
    specific = data.get("database_specific")
    if not word and isinstance(specific, dict) and isinstance(specific.get("severity"), str):
        word = specific["severity"]
    return vector, score, word.strip()[:50]


def _events(raw: Any, what: str) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise RecordError(f"{what}: a range needs events")
    events = []
    for event in raw:
        if not isinstance(event, dict) or len(event) != 1:
            raise RecordError(f"{what}: an event has exactly one of introduced/fixed/...")
        ((kind, value),) = event.items()
        if kind not in ("introduced", "fixed", "last_affected", "limit"):
            raise RecordError(f"{what}: unknown event {kind!r}")
        if not isinstance(value, str) or not value:
            raise RecordError(f"{what}: the {kind} event has no version")
        events.append({kind: value})
    return events


def parse(data: Any) -> Record:
    """Read one OSV record (a decoded JSON object). Raises :class:`RecordError`."""
    if not isinstance(data, dict):
        raise RecordError("not a JSON object")
    ident = data.get("id")
    if not isinstance(ident, str) or not ident.strip() or len(ident) > 100:
        raise RecordError("no id")
    ident = ident.strip()
    modified = parse_time(data.get("modified"), f"{ident}: modified")
    published = (
        parse_time(data["published"], f"{ident}: published") if data.get("published") else None
    )
    withdrawn = (
        parse_time(data["withdrawn"], f"{ident}: withdrawn") if data.get("withdrawn") else None
    )
    aliases = [a for a in data.get("aliases") or [] if isinstance(a, str)][:50]
    affected = []
    for item in data.get("affected") or []:
        if not isinstance(item, dict):
            raise RecordError(f"{ident}: an affected entry is not an object")
        package = item.get("package") or {}
        ecosystem, name = package.get("ecosystem"), package.get("name")
        if not isinstance(ecosystem, str) or not isinstance(name, str) or not name:
            continue  # entries by purl or git commits only: nothing to match installed names
        ranges = []
        for r in item.get("ranges") or []:
            if not isinstance(r, dict):
                raise RecordError(f"{ident}: a range is not an object")
            kind = r.get("type")
            if kind not in ("ECOSYSTEM", "SEMVER", "GIT"):
                raise RecordError(f"{ident}: unknown range type {kind!r}")
            if kind == "GIT":
                continue  # commits, not versions
            ranges.append({"type": kind, "events": _events(r.get("events"), ident)})
        listed = [v for v in item.get("versions") or [] if isinstance(v, str) and v]
        if ranges or listed:
            affected.append(Affected(ecosystem[:100], name[:200], ranges, listed))
    vector, score, word = _severity(data)
    level = level_of_score(score) if score is not None else _WORDS.get(word.lower(), "unknown")
    return Record(
        id=ident,
        modified=modified,
        published=published,
        withdrawn=withdrawn,
        aliases=aliases,
        summary=str(data.get("summary") or "")[:500],
        details=str(data.get("details") or "")[:20000],
        severity_vector=vector,
        severity_score=score,
        database_severity=word,
        level=level,
        affected=affected,
    )


# --- is a version affected -----------------------------------------------------------------


@dataclass
class Verdict:
    affected: bool
    fixed: str = ""  # the first fixed version above the installed one, if the data names one


def _event_key(scheme: str, event: dict[str, str]) -> tuple[int, Any]:
    ((kind, value),) = event.items()
    if kind == "introduced" and value == "0":
        return (0, None)
    return (1, versions.key(scheme, value))


def in_range(scheme: str, events: list[dict[str, str]], installed: Any) -> tuple[bool, str]:
    """Whether the installed version (its key under ``scheme``) lies in the range the events
    draw, per the OSV schema's evaluation: walk the events in version order; ``introduced``
    at or below it opens, ``fixed`` at or below it closes, ``last_affected`` below it closes.
    Also the first ``fixed`` version above it (the fix for this range)."""
    ordered = sorted(events, key=lambda e: _event_key(scheme, e))
    affected = False
    fixed_above = ""
    for event in ordered:
        ((kind, value),) = event.items()
        if kind == "introduced":
            if value == "0" or versions.key(scheme, value) <= installed:
                affected = True
        elif kind == "fixed":
            if versions.key(scheme, value) <= installed:
                affected = False
            elif not fixed_above:
                fixed_above = value
        elif kind == "last_affected" and versions.key(scheme, value) < installed:
            affected = False
        # "limit" concerns GIT ranges only.
    return affected, fixed_above if affected else ""


def verdict(ecosystem: str, ranges: list[dict], listed: list[str], version: str) -> Verdict:
    """Is ``version`` of a package in ``ecosystem`` affected by an entry with ``ranges`` and
    the ``listed`` versions? Raises VersionError if the version cannot be read."""
    for r in ranges:
        scheme = "SEMVER" if r["type"] == "SEMVER" else ecosystem
        if not versions.supported(scheme) and scheme != "SEMVER":
            continue
        installed = versions.key(scheme, version)
        try:
            hit, fixed = in_range(scheme, r["events"], installed)
        except versions.VersionError:
            continue  # a range the data wrote in a form its ecosystem does not read
        if hit:
            return Verdict(True, fixed)
    if version in listed:
        return Verdict(True, "")
    return Verdict(False)
