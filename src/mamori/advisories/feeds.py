"""Keeping the OSV data: import records (a zip dump, a JSON file, a directory of them) and
refresh each configured ecosystem from OSV's per-ecosystem dumps
(``<MAMORI_ADVISORY_SOURCE_URL>/<ecosystem>/all.zip``).

Incremental: a record is written only when its ``modified`` is newer than the kept one; a dump
that has not changed since the last look (ETag / Last-Modified) is not downloaded again. A bad
record is skipped and named in the report, never the whole import lost.
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from mamori.advisories import osv
from mamori.advisories.models import Advisory, AffectedPackage, Feed
from mamori.core import audit

log = logging.getLogger(__name__)

BATCH = 500
FETCH_TIMEOUT = 120.0
#: A dump larger than this is refused (Debian's whole dump is a few hundred MB unpacked).
MAX_DOWNLOAD = 2 * 1024**3


class FeedError(Exception):
    """The data could not be read or fetched; the message says what and where."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # "<where>: <why>"
    newest: datetime | None = None
    not_modified: bool = False

    @property
    def changed(self) -> int:
        return self.added + self.updated

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
        }


def _store(batch: list[osv.Record], source: str, report: ImportReport) -> None:
    if not batch:
        return
    now = timezone.now()
    with transaction.atomic():
        kept = dict(
            Advisory.objects.filter(osv_id__in=[r.id for r in batch]).values_list(
                "osv_id", "modified"
            )
        )
        for record in batch:
            known = kept.get(record.id)
            if known is not None and record.modified <= known:
                report.unchanged += 1
                continue
            values = {
                "aliases": record.aliases,
                "summary": record.summary,
                "details": record.details,
                "severity_vector": record.severity_vector,
                "severity_score": record.severity_score,
                "database_severity": record.database_severity,
                "level": record.level,
                "published": record.published,
                "modified": record.modified,
                "withdrawn": record.withdrawn,
                "source": source[:100],
                "imported_at": now,
            }
            advisory, created = Advisory.objects.update_or_create(osv_id=record.id, defaults=values)
            if not created:
                advisory.affected.all().delete()
            AffectedPackage.objects.bulk_create(
                [
                    AffectedPackage(
                        advisory=advisory,
                        ecosystem=a.ecosystem,
                        name=a.name,
                        ranges=a.ranges,
                        versions=a.versions[:5000],
                    )
                    for a in record.affected
                ]
            )
            kept[record.id] = record.modified
            if created:
                report.added += 1
            else:
                report.updated += 1
            if report.newest is None or record.modified > report.newest:
                report.newest = record.modified


def import_records(
    items: Iterable[tuple[str, Any]], *, source: str, actor=None, actor_label: str = ""
) -> ImportReport:
    """Keep the records of ``items`` (where each came from, its decoded JSON): new or newer by
    ``modified`` ones are written in batches; one audit event for the whole import."""
    report = ImportReport()
    batch: list[osv.Record] = []
    for where, data in items:
        if isinstance(data, dict) and "__error__" in data:
            report.skipped.append(f"{where}: {data['__error__']}")
            continue
        try:
            record = osv.parse(data)
        except osv.RecordError as exc:
            report.skipped.append(f"{where}: {exc}")
            continue
        batch.append(record)
        if len(batch) >= BATCH:
            _store(batch, source, report)
            batch = []
    _store(batch, source, report)
    audit.record(
        "advisories.import",
        None,
        actor=actor,
        actor_label=actor_label or None,
        changes={"source": source[:200], **report.as_dict()},
    )
    return report


def _decode(where: str, raw: bytes) -> Iterator[tuple[str, Any]]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        yield where, {"__error__": f"not JSON ({exc.__class__.__name__})"}
        return
    if isinstance(data, list):  # a file holding several records
        for n, item in enumerate(data, start=1):
            yield f"{where}[{n}]", item
    else:
        yield where, data


def read_zip(path: Path) -> Iterator[tuple[str, Any]]:
    """The records in an OSV dump (one JSON file per record)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FeedError(f"{path.name}: not a zip archive ({exc})") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            try:
                raw = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                yield info.filename, {"__error__": f"unreadable in the archive ({exc})"}
                continue
            yield from _decode(info.filename, raw)


def read_path(path: Path) -> Iterator[tuple[str, Any]]:
    """Records from a zip dump, a JSON file (a record or a list of them) or a directory of
    them (searched recursively)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".zip"))
        for file in files:
            yield from read_path(file)
        return
    if not path.exists():
        raise FeedError(f"no such file or directory: {path}")
    if path.suffix == ".zip":
        yield from read_zip(path)
        return
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read {path}: {exc.strerror}") from None
    yield from _decode(path.name, raw)


def import_path(path: str | Path, *, actor=None) -> ImportReport:
    """Import records from a local file or directory (``mamori advisories import PATH``)."""
    path = Path(path)
    if not path.exists():
        raise FeedError(f"no such file or directory: {path}")
    return import_records(read_path(path), source=f"file:{path.name}"[:100], actor=actor)


# --- fetching OSV's dumps ----------------------------------------------------------------------


def dump_url(ecosystem: str) -> str:
    return f"{settings.MAMORI_ADVISORY_SOURCE_URL}/{quote(ecosystem, safe=':.')}/all.zip"


def refresh_ecosystem(ecosystem: str, *, actor=None, force: bool = False) -> ImportReport:
    """Fetch ``ecosystem``'s dump unless unchanged since the last look, and import what is new.
    Records the look (or the error) on the ecosystem's :class:`Feed`. Raises FeedError."""
    url = dump_url(ecosystem)
    feed, _ = Feed.objects.get_or_create(ecosystem=ecosystem, defaults={"url": url})
    return fetch_and_import(
        feed,
        url,
        {"User-Agent": "Mamori (vulnerability data)"},
        force=force,
        filename="all.zip",
        max_bytes=MAX_DOWNLOAD,
        load=lambda path: import_records(
            read_zip(path),
            source=ecosystem,
            actor=actor,
            actor_label=None if actor else "advisory refresh",
        ),
        kept=Advisory.objects.filter(affected__ecosystem=ecosystem).distinct(),
    )


def fetch_and_import(
    feed: Feed,
    url: str,
    headers: dict[str, str],
    *,
    force: bool,
    filename: str,
    max_bytes: int,
    load: Callable[[Path], ImportReport],
    kept,
) -> ImportReport:
    """The one way a source is looked at: ``url`` fetched into a private temporary file (asking
    only for what changed since the feed's last ETag / Last-Modified, unless ``force`` or the URL
    changed), ``load`` imports it, and the look — or the error, by the URL only, never a header —
    is recorded on ``feed``; ``kept`` (the source's advisories) gives the newest record and the
    count shown. Raises FeedError."""
    headers = dict(headers)
    if not force and feed.url == url:
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified_header:
            headers["If-Modified-Since"] = feed.last_modified_header
    now = timezone.now()
    try:
        with tempfile.TemporaryDirectory(prefix="mamori-feed-") as tmp:
            target = Path(tmp) / filename
            with httpx.stream(
                "GET", url, headers=headers, timeout=FETCH_TIMEOUT, follow_redirects=True
            ) as response:
                if response.status_code == 304:
                    Feed.objects.filter(pk=feed.pk).update(checked_at=now, error="", url=url)
                    return ImportReport(not_modified=True)
                if response.status_code != 200:
                    raise FeedError(f"{url}: HTTP {response.status_code}")
                size = 0
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        size += len(chunk)
                        if size > max_bytes:
                            raise FeedError(f"{url}: larger than {max_bytes} bytes")
                        out.write(chunk)
                etag = response.headers.get("ETag", "")[:200]
                last_modified = response.headers.get("Last-Modified", "")[:100]
            report = load(target)
    except (httpx.HTTPError, FeedError) as exc:
        message = str(exc) if isinstance(exc, FeedError) else f"{url}: {exc.__class__.__name__}"
        Feed.objects.filter(pk=feed.pk).update(error=message[:500], error_at=now, url=url)
        raise FeedError(message) from None
    Feed.objects.filter(pk=feed.pk).update(
        url=url,
        etag=etag,
        last_modified_header=last_modified,
        checked_at=now,
        changed_at=now if report.changed else feed.changed_at,
        newest_record=kept.aggregate(newest=Max("modified"))["newest"],
        records=kept.count(),
        error="",
    )
    return report


def refresh(ecosystems: list[str] | None = None, *, actor=None, force: bool = False) -> dict:
    """Refresh every configured ecosystem (``MAMORI_ADVISORY_ECOSYSTEMS``); one failing does not
    stop the others. Returns {ecosystem: ImportReport or FeedError}."""
    results: dict[str, Any] = {}
    for ecosystem in ecosystems if ecosystems is not None else settings.MAMORI_ADVISORY_ECOSYSTEMS:
        try:
            results[ecosystem] = refresh_ecosystem(ecosystem, actor=actor, force=force)
        except FeedError as exc:
            log.warning("advisory refresh of %s failed: %s", ecosystem, exc)
            results[ecosystem] = exc
    return results


def refresh_job() -> None:
    """The periodic job: refresh the configured ecosystems and the WordPress feed, then match
    the servers again."""
    from mamori.advisories import wordpress

    results = refresh()
    try:
        wordpress_report = wordpress.refresh()
    except FeedError as exc:
        log.warning("WordPress vulnerability feed refresh failed: %s", exc)
    else:
        if wordpress_report is not None:
            results[wordpress.FEED] = wordpress_report
    if any(isinstance(r, ImportReport) and r.changed for r in results.values()):
        from mamori.advisories import matching

        matching.rescan_all()


def data_age() -> dict[str, Any]:
    """How fresh the kept data is: the feeds, the newest record, the count."""
    newest = Advisory.objects.aggregate(newest=Max("modified"), imported=Max("imported_at"))
    return {
        "feeds": list(Feed.objects.all()),
        "advisories": Advisory.objects.count(),
        "newest_record": newest["newest"],
        "last_import": newest["imported"],
        "configured": list(settings.MAMORI_ADVISORY_ECOSYSTEMS),
    }
