"""What is installed on a server, for matching against vulnerability data (MNT-02).

:func:`installed` reads the current rows of the last collections; it never contacts the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamori.inventory.models import Server
from mamori.software.models import Collection, Component, ComponentKind, OperatingSystem, Package

#: The ecosystem names of what is not an OS package.
WORDPRESS = "WordPress"
WORDPRESS_PLUGIN = "WordPress plugin"


def installed(server: Server | int) -> list[tuple[str, str, str]]:
    """``(ecosystem, name, version)`` of everything recorded as installed on ``server``, sorted.

    - OS packages: ecosystem "Debian", "Ubuntu" (dpkg; the binary package name, e.g.
      ``("Debian", "openssl", "3.0.15-1~deb12u1")``) or "RPM" (name, ``[epoch:]version-release``).
      A package installed for two architectures appears once per distinct version.
    - WordPress core: ``("WordPress", "wordpress", "6.4.2")``; plugins:
      ``("WordPress plugin", <directory name, the wordpress.org slug>, <Version header>)``.
      Components without a version are left out.

    The OS release (for OSV's "Debian:12" ecosystems) is ``server.software_os.version_id``.
    """
    server_id = server if isinstance(server, int) else server.pk
    found = {
        (ecosystem, name, version)
        for ecosystem, name, version in Package.objects.filter(server_id=server_id).values_list(
            "ecosystem", "name", "version"
        )
    }
    components = Component.objects.filter(
        server_id=server_id, kind__in=[ComponentKind.CMS, ComponentKind.PLUGIN]
    ).exclude(version="")
    for kind, name, version in components.values_list("kind", "name", "version"):
        if kind == ComponentKind.CMS and name == "wordpress":
            found.add((WORDPRESS, name, version))
        elif kind == ComponentKind.PLUGIN:
            found.add((WORDPRESS_PLUGIN, name, version))
    return sorted(found)


@dataclass(frozen=True)
class InstalledPackage:
    """An OS package as recorded: the binary package, its version and architecture, and the
    source package it was built from with the source's version (the binary's own name and
    version when the source was not collected)."""

    ecosystem: str  # "Debian", "Ubuntu", "RPM"
    name: str
    version: str
    architecture: str
    source: str
    source_version: str


def collected(server: Server | int) -> bool:
    """Whether a collection of ``server`` has ever read its packages or components (before
    that, nothing is known to be installed: an empty list would mean "nothing")."""
    server_id = server if isinstance(server, int) else server.pk
    runs = Collection.objects.filter(server_id=server_id, state__in=["ok", "partial"])
    return any(
        "packages" in (items or []) or "components" in (items or [])
        for items in runs.values_list("items", flat=True)[:1000]
    )


def packages(server: Server | int) -> list[InstalledPackage]:
    """The server's OS packages with their source packages, sorted by name."""
    server_id = server if isinstance(server, int) else server.pk
    rows = Package.objects.filter(server_id=server_id).order_by("name", "architecture")
    return [
        InstalledPackage(
            p.ecosystem,
            p.name,
            p.version,
            p.architecture,
            p.source_name or p.name,
            p.source_version or p.version,
        )
        for p in rows
    ]


def os_release(server: Server | int) -> tuple[str, str] | None:
    """os-release's ``(ID, VERSION_ID)`` of the server as last collected, or None."""
    server_id = server if isinstance(server, int) else server.pk
    row = OperatingSystem.objects.filter(server_id=server_id).first()
    return None if row is None else (row.os_id, row.version_id)
