"""WordPress vulnerability data: the Wordfence Intelligence vulnerability data feed (OSV has no
WordPress ecosystem).

The feed is one JSON object, ``{id: record}``; a record names the software it affects
(``{"type": "plugin" | "theme" | "core", "slug", "affected_versions": {label: {"from_version",
"from_inclusive", "to_version", "to_inclusive"}}, "patched_versions": [...]}``), a title, a
CVE, a CVSS vector, ``published`` and ``updated`` times. Each record is read into an OSV-shaped
record (id ``WF-<id>``; ecosystem ``WordPress plugin`` with the plugin's slug, or ``WordPress``
for core; themes are not collected, so not kept) and kept with the OSV records: the same
matching, findings and alerts.

Fetched from ``MAMORI_WORDPRESS_FEED_URL`` (empty: never) with ``MAMORI_WORDPRESS_FEED_KEY`` as
a bearer token when set; an unchanged feed (ETag / Last-Modified) is not downloaded again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from mamori.advisories import feeds, versions
from mamori.advisories.models import Advisory, Feed

log = logging.getLogger(__name__)

#: The Feed row of this source (its ecosystem column names the source).
FEED = "Wordfence"
PREFIX = "WF-"
#: A feed larger than this is refused (the whole production feed is some 200 MB).
MAX_DOWNLOAD = 1024**3
ECOSYSTEMS = {"plugin": "WordPress plugin", "core": "WordPress"}


def _time(value: Any) -> str | None:
    """Wordfence's ``2023-01-02 03:04:05`` (UTC) as OSV's RFC 3339."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T")
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


def _ranges(software: dict[str, Any]) -> list[dict[str, Any]]:
    """OSV ``ECOSYSTEM`` ranges of one affected software entry. An upper bound that is
    affected (``to_inclusive``) is ``last_affected``, followed by the first patched version
    above it as ``fixed`` when the feed names one; an exclusive upper bound is ``fixed``. A
    lower bound is ``introduced`` (an exclusive one is kept as inclusive: one version more is
    reported rather than one missed)."""
    ecosystem = ECOSYSTEMS[software["type"]]
    patched = [v for v in software.get("patched_versions") or [] if isinstance(v, str) and v]
    ranges = []
    for bound in (software.get("affected_versions") or {}).values():
        if not isinstance(bound, dict):
            continue
        low, high = str(bound.get("from_version") or "*"), str(bound.get("to_version") or "*")
        events = [{"introduced": "0" if low == "*" else low}]
        if high != "*":
            if bound.get("to_inclusive", True):
                events.append({"last_affected": high})
                try:
                    above = [v for v in patched if versions.compare(ecosystem, v, high) > 0]
                    first = min(above, key=lambda v: versions.key(ecosystem, v), default=None)
                except versions.VersionError:
                    first = None
                if first:
                    events.append({"fixed": first})
            else:
                events.append({"fixed": high})
        ranges.append({"type": "ECOSYSTEM", "events": events})
    return ranges


def to_osv(ident: str, record: Any) -> dict[str, Any]:
    """One feed record as an OSV record (which :func:`mamori.advisories.osv.parse` reads)."""
    if not isinstance(record, dict):
        return {"__error__": "not a JSON object"}
    affected = []
    for software in record.get("software") or []:
        if not isinstance(software, dict) or software.get("type") not in ECOSYSTEMS:
            continue
        slug = software.get("slug")
        if not isinstance(slug, str) or not slug.strip():
            continue
        name = "wordpress" if software["type"] == "core" else slug.strip().lower()
        ranges = _ranges(software)
        if ranges:
            affected.append(
                {
                    "package": {"ecosystem": ECOSYSTEMS[software["type"]], "name": name},
                    "ranges": ranges,
                }
            )
    cvss = record.get("cvss") if isinstance(record.get("cvss"), dict) else {}
    vector = cvss.get("vector") if isinstance(cvss.get("vector"), str) else ""
    rating = cvss.get("rating") if isinstance(cvss.get("rating"), str) else ""
    cve = record.get("cve")
    return {
        "id": PREFIX + str(record.get("id") or ident)[:90],
        "modified": _time(record.get("updated")) or _time(record.get("published")),
        "published": _time(record.get("published")),
        "aliases": [cve] if isinstance(cve, str) and cve else [],
        "summary": str(record.get("title") or ""),
        "details": str(record.get("description") or ""),
        "severity": (
            [{"type": "CVSS_V3" if vector.startswith("CVSS:3") else "CVSS_V4", "score": vector}]
            if vector.startswith("CVSS:")
            else []
        ),
        "database_specific": {"severity": rating},
        "affected": affected,
    }


def read_feed(path: Path) -> Iterator[tuple[str, Any]]:
    """The records of a feed file as OSV records, one at a time (where, record)."""
    try:
        with path.open("rb") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise feeds.FeedError(f"{path.name}: not a JSON feed ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise feeds.FeedError(f"{path.name}: the feed is not a JSON object of records")
    for ident, record in data.items():
        converted = to_osv(str(ident), record)
        if converted.get("affected") == [] and "__error__" not in converted:
            continue  # themes only, or nothing Mamori collects
        yield f"{path.name}:{ident}", converted


def refresh(*, actor=None, force: bool = False) -> feeds.ImportReport | None:
    """Fetch the feed unless unchanged since the last look and keep what is new. None when no
    feed is configured. Records the look (or the error) on the feed's :class:`Feed` row; raises
    FeedError."""
    url = settings.MAMORI_WORDPRESS_FEED_URL
    if not url:
        return None
    feed, _ = Feed.objects.get_or_create(ecosystem=FEED, defaults={"url": url})
    headers = {"User-Agent": "Mamori (vulnerability data)", "Accept": "application/json"}
    if settings.MAMORI_WORDPRESS_FEED_KEY:
        headers["Authorization"] = f"Bearer {settings.MAMORI_WORDPRESS_FEED_KEY}"
    return feeds.fetch_and_import(
        feed,
        url,
        headers,
        force=force,
        filename="feed.json",
        max_bytes=MAX_DOWNLOAD,
        load=lambda path: feeds.import_records(
            read_feed(path),
            source=FEED,
            actor=actor,
            actor_label=None if actor else "advisory refresh",
        ),
        kept=Advisory.objects.filter(osv_id__startswith=PREFIX),
    )
