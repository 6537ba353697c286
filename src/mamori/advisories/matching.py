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

#: An installed item to match: ``(ecosystem, name, version)`` or, for an OS source package,
#: ``(ecosystem, source name, source version, binary package names)``.
Item = tuple


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


def inventory_of(server: Server) -> list[Item] | None:
    """What the software inventory (mamori.software, MNT-01) recorded on ``server``, in OSV's
    terms; None when the server was never collected.

    Debian and Ubuntu packages become their *source* packages with the source version
    (``("Debian:12", "glibc", "2.36-9+deb12u8", ("libc6", "libc-bin"))``): that is what those
    advisories name. The ecosystem comes from the server's os-release; a release OSV has no
    name for leaves its OS packages out. RPM packages are not matched (no range rules here).
    WordPress core and plugins come as ``("WordPress", "wordpress", version)`` and
    ``("WordPress plugin", slug, version)``.
    """
    from mamori.software import inventory

    if not inventory.collected(server):
        return None
    release = inventory.os_release(server)
    os_ecosystem = ecosystem_for_os(*release) if release else None
    sources: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for package in inventory.packages(server):
        if package.ecosystem not in ("Debian", "Ubuntu") or os_ecosystem is None:
            continue
        if versions.base(os_ecosystem) != package.ecosystem:
            continue
        sources[(os_ecosystem, package.source, package.source_version)].add(package.name)
    items: list[Item] = [(*key, tuple(sorted(names))) for key, names in sorted(sources.items())]
    items += [
        (eco, name, version)
        for eco, name, version in inventory.installed(server)
        if eco in (inventory.WORDPRESS, inventory.WORDPRESS_PLUGIN)
    ]
    return items


def _binaries(item: Item) -> tuple[str, ...]:
    return tuple(item[3]) if len(item) > 3 else ()


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
        for ecosystem, name, version, *_ in installed:
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
    installed: Iterable[Item],
    *,
    index: Index | None = None,
    now: datetime | None = None,
) -> ScanReport:
    """Match ``installed`` (the server's whole software list) and bring its findings up to
    date in one transaction; alert the operators once about the findings it opens. An item may
    name the binary packages built from it (a Debian source package): its findings list them."""
    installed = list(installed)
    now = now or timezone.now()
    if index is None:
        index = Index.load({item[0] for item in installed})
    report = ScanReport()
    hits = index.match(installed, report.stats)
    current = {(h.advisory_id, h.ecosystem, h.name): h for h in hits}
    present = {(item[0], versions.package_name(item[0], item[1])): item[2] for item in installed}
    binaries: dict[tuple[str, str], list[str]] = defaultdict(list)
    for item in installed:
        names = binaries[(item[0], item[1])]
        names += [b for b in _binaries(item) if b not in names]
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
            names = binaries[(hit.ecosystem, hit.name)][:50]
            changed = (
                finding.installed_version != hit.version
                or finding.fixed_version != hit.fixed
                or finding.level != hit.level
                or finding.binaries != names
            )
            if changed:
                finding.installed_version = hit.version[:200]
                finding.fixed_version = hit.fixed[:200]
                finding.official_fix = bool(hit.fixed)
                finding.level = hit.level
                finding.binaries = names
                finding.save(
                    update_fields=[
                        "installed_version",
                        "fixed_version",
                        "official_fix",
                        "level",
                        "binaries",
                    ]
                )
            report.still_open += 1
        new = [
            Finding(
                server=server,
                advisory_id=hit.advisory_id,
                ecosystem=hit.ecosystem,
                package=hit.name[:200],
                binaries=binaries[(hit.ecosystem, hit.name)][:50],
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


def rescan_all(
    provider: Callable[[Server], list | None] | None = None,
) -> dict[int, tuple[int, int]]:
    """Match every server's installed software (from the software inventory) again, e.g. after
    the data changed. Returns {server id: (findings opened, findings closed)}; nothing of a
    server is kept once it is done, so memory does not grow with the servers. A server never
    collected keeps what is known."""
    provider = provider or inventory_of
    index = Index.load()
    counts = {}
    for server in Server.objects.select_related("client").order_by("pk").iterator():
        installed = provider(server)
        if installed is None:  # never collected: keep what is known
            continue
        report = scan_server(server, installed, index=index)
        counts[server.pk] = (len(report.opened), len(report.closed))
    return counts


def after_collection(sender, collection, **kwargs) -> None:
    """The software inventory's ``collected`` signal: the server's findings are brought up to
    date right after each collection (on demand or by the periodic job), in the same pass."""
    server = Server.objects.select_related("client").get(pk=collection.server_id)
    installed = inventory_of(server)
    if installed is not None:
        scan_server(server, installed)
