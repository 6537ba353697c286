"""Matching installed software against the kept advisories, and keeping a server's findings
(MNT-02): opened when an advisory affects an installed version, closed when it no longer does
(updated, removed, withdrawn); operators alerted once per new finding.

The installed software comes as ``(ecosystem, name, version)`` triples, ecosystems as OSV names
them (``Debian:12``, ``Ubuntu:22.04:LTS``, ``PyPI``, ``npm``, ``Packagist``). For Debian and
Ubuntu the name is the *source* package (dpkg's ``${source:Package}``), which is what their
advisories name; the version the installed package's.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from mamori.advisories import osv, versions
from mamori.advisories.models import (
    LEVEL_RANK,
    Advisory,
    AffectedPackage,
    CloseReason,
    Finding,
)
from mamori.core import audit
from mamori.inventory.models import Server
from mamori.notices import services as notices
from mamori.notices.models import NoticeKind

log = logging.getLogger(__name__)

#: Where the software inventory (mamori.software, MNT-01) provides a server's installed
#: packages: ``installed(server) -> list[(ecosystem, name, version)]``.
INVENTORY_PROVIDER = "mamori.software.inventory.installed"


def ecosystem_for_os(os_id: str, version_id: str) -> str | None:
    """The OSV ecosystem of an operating system's packages, from os-release's ``ID`` and
    ``VERSION_ID``: ``debian 12`` → ``Debian:12``, ``ubuntu 22.04`` → ``Ubuntu:22.04:LTS`` (an
    even year's April release is LTS), else None."""
    os_id, version_id = (os_id or "").strip().lower(), (version_id or "").strip()
    if os_id == "debian" and version_id:
        return f"Debian:{version_id.split('.')[0]}"
    if os_id == "ubuntu" and version_id:
        year, _, month = version_id.partition(".")
        lts = year.isdigit() and int(year) % 2 == 0 and month == "04"
        return f"Ubuntu:{version_id}" + (":LTS" if lts else "")
    return None


@dataclass(frozen=True)
class Hit:
    ecosystem: str
    name: str  # as installed
    version: str
    advisory_id: int
    level: str
    fixed: str  # the first fixed version above the installed one; "" when none is known


@dataclass
class Entry:
    advisory_id: int
    ranges: list
    versions: list


@dataclass
class MatchStats:
    packages: int = 0
    unreadable: list[str] = field(default_factory=list)  # "<ecosystem> <name> <version>"


class Index:
    """The advisories' affected packages, by (ecosystem, normalised name), in memory."""

    def __init__(self, entries: dict[tuple[str, str], list[Entry]], levels: dict[int, str]):
        self.entries = entries
        self.levels = levels

    @classmethod
    def load(cls, ecosystems: Iterable[str] | None = None) -> Index:
        rows = AffectedPackage.objects.filter(advisory__withdrawn__isnull=True)
        if ecosystems is not None:
            rows = rows.filter(ecosystem__in=list(ecosystems))
        entries: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        levels: dict[int, str] = {}
        for eco, name, ranges, listed, advisory_id, level in rows.values_list(
            "ecosystem", "name", "ranges", "versions", "advisory_id", "advisory__level"
        ).iterator(chunk_size=5000):
            entries[(eco, versions.package_name(eco, name))].append(
                Entry(advisory_id, ranges, listed)
            )
            levels[advisory_id] = level
        return cls(dict(entries), levels)

    def match(
        self, installed: Iterable[tuple[str, str, str]], stats: MatchStats | None = None
    ) -> list[Hit]:
        hits: list[Hit] = []
        for ecosystem, name, version in installed:
            if stats is not None:
                stats.packages += 1
            candidates = self.entries.get((ecosystem, versions.package_name(ecosystem, name)))
            if not candidates:
                continue
            seen: set[int] = set()
            for entry in candidates:
                if entry.advisory_id in seen:
                    continue
                try:
                    result = osv.verdict(ecosystem, entry.ranges, entry.versions, version)
                except versions.VersionError:
                    if stats is not None:
                        stats.unreadable.append(f"{ecosystem} {name} {version}")
                    break
                if result.affected:
                    seen.add(entry.advisory_id)
                    hits.append(
                        Hit(
                            ecosystem,
                            name,
                            version,
                            entry.advisory_id,
                            self.levels[entry.advisory_id],
                            result.fixed,
                        )
                    )
        return hits


@dataclass
class ScanReport:
    opened: list[Finding] = field(default_factory=list)
    closed: list[Finding] = field(default_factory=list)
    still_open: int = 0
    stats: MatchStats = field(default_factory=MatchStats)


def scan_server(
    server: Server,
    installed: Iterable[tuple[str, str, str]],
    *,
    index: Index | None = None,
    now: datetime | None = None,
) -> ScanReport:
    """Match ``installed`` (the server's whole software list) and bring its findings up to
    date in one transaction; alert the operators once about the findings it opens."""
    installed = list(installed)
    now = now or timezone.now()
    if index is None:
        index = Index.load({eco for eco, _, _ in installed})
    report = ScanReport()
    hits = index.match(installed, report.stats)
    current = {(h.advisory_id, h.ecosystem, h.name): h for h in hits}
    present = {(eco, versions.package_name(eco, name)): v for eco, name, v in installed}
    with transaction.atomic():
        Server.objects.select_for_update().filter(pk=server.pk).first()
        open_findings = {
            (f.advisory_id, f.ecosystem, f.package): f
            for f in Finding.objects.open().filter(server=server).select_related("advisory")
        }
        for key, finding in open_findings.items():
            hit = current.get(key)
            if hit is None:
                now_version = present.get(
                    (finding.ecosystem, versions.package_name(finding.ecosystem, finding.package))
                )
                if finding.advisory.withdrawn is not None:
                    reason = CloseReason.WITHDRAWN
                elif now_version is None:
                    reason = CloseReason.REMOVED
                elif now_version != finding.installed_version:
                    reason = CloseReason.UPDATED
                else:
                    reason = CloseReason.WITHDRAWN
                finding.closed_at, finding.close_reason = now, reason
                if now_version is not None:
                    finding.installed_version = now_version[:200]
                finding.save(update_fields=["closed_at", "close_reason", "installed_version"])
                report.closed.append(finding)
                continue
            changed = (
                finding.installed_version != hit.version
                or finding.fixed_version != hit.fixed
                or finding.level != hit.level
            )
            if changed:
                finding.installed_version = hit.version[:200]
                finding.fixed_version = hit.fixed[:200]
                finding.official_fix = bool(hit.fixed)
                finding.level = hit.level
                finding.save(
                    update_fields=["installed_version", "fixed_version", "official_fix", "level"]
                )
            report.still_open += 1
        new = [
            Finding(
                server=server,
                advisory_id=hit.advisory_id,
                ecosystem=hit.ecosystem,
                package=hit.name[:200],
                installed_version=hit.version[:200],
                level=hit.level,
                fixed_version=hit.fixed[:200],
                official_fix=bool(hit.fixed),
                opened_at=now,
            )
            for key, hit in current.items()
            if key not in open_findings
        ]
        new = Finding.objects.bulk_create(new)
        if new and any(f.pk is None for f in new):  # a database that returns no ids
            new = list(Finding.objects.open().filter(server=server, opened_at=now).order_by("pk"))
        advisories = Advisory.objects.in_bulk({f.advisory_id for f in new})
        for finding in new:
            finding.advisory = advisories[finding.advisory_id]
        report.opened = new
        if new or report.closed:
            audit.record(
                "advisories.scan",
                server,
                actor_label="advisory matching",
                changes={
                    "opened": [f"{f.advisory.osv_id} {f.package}" for f in new][:200],
                    "closed": [f"{f.advisory.osv_id} {f.package}" for f in report.closed][:200],
                },
            )
        if new:
            _alert(server, new, now)
    return report


def _alert(server: Server, new: list[Finding], now: datetime) -> None:
    """One notice to the operators for the findings one scan opened (each finding is alerted
    once: the event key names the first new finding, and each is marked alerted)."""
    ordered = sorted(new, key=lambda f: (LEVEL_RANK.get(f.level, 9), f.package))
    notices.enqueue(
        NoticeKind.VULNERABILITY_FOUND,
        f"advisory-findings:{server.pk}:{min(f.pk for f in new)}",
        notices.operator_recipients(server.client),
        {
            "client": server.client,
            "server": server,
            "findings": ordered[:50],
            "more": max(0, len(ordered) - 50),
            "count": len(ordered),
            "fixable": sum(1 for f in ordered if f.official_fix),
        },
        client=server.client,
    )
    Finding.objects.filter(pk__in=[f.pk for f in new]).update(alerted_at=now)


def inventory_provider() -> Callable[[Server], list[tuple[str, str, str]]] | None:
    try:
        return import_string(INVENTORY_PROVIDER)
    except ImportError:
        return None


def rescan_all(provider: Callable[[Server], list] | None = None) -> dict[int, tuple[int, int]]:
    """Match every server's installed software (from the software inventory) again, e.g. after
    the data changed. Returns {server id: (findings opened, findings closed)}; nothing of a
    server is kept once it is done, so memory does not grow with the servers. Without an
    inventory nothing is matched (and it says so in the log)."""
    provider = provider or inventory_provider()
    if provider is None:
        log.info("no software inventory (%s): nothing to match", INVENTORY_PROVIDER)
        return {}
    index = Index.load()
    counts = {}
    for server in Server.objects.select_related("client").order_by("pk").iterator():
        installed = provider(server)
        if installed is None:  # never collected: keep what is known
            continue
        report = scan_server(server, installed, index=index)
        counts[server.pk] = (len(report.opened), len(report.closed))
    return counts
