"""What is installed on a server, for matching against vulnerability data (MNT-02).

:func:`installed` reads the current rows of the last collections; it never contacts the server.
"""

from __future__ import annotations

from mamori.inventory.models import Server
from mamori.software.models import Component, ComponentKind, Package

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
