"""Pure readers of what a server prints or holds: os-release, package lists, version output,
WordPress files, passwd/group/sudoers, authorized_keys. No Django, no I/O.

Each reader takes text as the server gave it and returns plain values, or raises
:class:`ParseError` with a short message for that one item; odd lines are skipped, never fatal.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import asyncssh

MAX_FIELD = 200


class ParseError(ValueError):
    """The text is not what the item should look like (the message says what)."""


def _clean(value: str, limit: int = MAX_FIELD) -> str:
    """Printable text only, at most ``limit`` characters (hostile output stays harmless)."""
    return "".join(ch for ch in value if ch.isprintable()).strip()[:limit]


# --- os-release ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OsRelease:
    os_id: str
    version_id: str
    pretty_name: str
    id_like: str = ""


def os_release(text: str) -> OsRelease:
    """``KEY=value`` lines (values may be quoted as in a shell)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        if not re.fullmatch(r"[A-Z0-9_]+", key):
            continue
        try:
            parts = shlex.split(raw)
        except ValueError:
            continue
        values[key] = _clean(" ".join(parts))
    os_id = values.get("ID", "").lower()
    if not os_id or not re.fullmatch(r"[a-z0-9._-]+", os_id):
        raise ParseError("os-release has no valid ID")
    return OsRelease(
        os_id=os_id,
        version_id=values.get("VERSION_ID", "")[:100],
        pretty_name=values.get("PRETTY_NAME", "")[:300],
        id_like=values.get("ID_LIKE", "").lower()[:200],
    )


def ecosystem_of(release: OsRelease | None, manager: str) -> str:
    """The package ecosystem name: "Debian" or "Ubuntu" for dpkg, "RPM" for rpm."""
    if manager == "rpm":
        return "RPM"
    if release is not None and (release.os_id == "ubuntu" or "ubuntu" in release.id_like.split()):
        return "Ubuntu"
    return "Debian"


# --- packages -----------------------------------------------------------------------------------

#: The line format asked of dpkg-query and rpm; the marker keeps stray output (stderr) apart.
#: After the binary package come its source package and the source's version: Debian's and
#: Ubuntu's advisories name source packages (``glibc``, not ``libc6``) and source versions (a
#: binNMU ``5.2.15-2+b8`` is built from ``5.2.15-2``). rpm gives its source rpm's file name.
PACKAGE_MARKER = "MAMORI-PKG"
DPKG_FORMAT = (
    PACKAGE_MARKER
    + r"\t${binary:Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}"
    + r"\t${source:Package}\t${source:Version}\n"
)
RPM_FORMAT = (
    PACKAGE_MARKER
    + r"\t%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\tii "
    + r"\t%{SOURCERPM}\t\n"
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._@-]{0,199}")
_VERSION = re.compile(r"[A-Za-z0-9.+~:_-]{1,200}")
_ARCH = re.compile(r"[A-Za-z0-9_-]{0,50}")
_SOURCE_RPM = re.compile(r"(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm")


@dataclass(frozen=True)
class PackageLine:
    name: str
    version: str
    architecture: str
    #: The source package and its version (dpkg's ``${source:Package}``/``${source:Version}``;
    #: for rpm the source rpm's name, and its ``[epoch:]version-release``).
    source: str = ""
    source_version: str = ""


def _source(name: str, version: str, source: str, source_version: str) -> tuple[str, str]:
    """The source package and version of a package line; an rpm's ``x-1.2-3.el9.src.rpm`` is
    read into ``("x", "1.2-3.el9")`` (with the binary's epoch). Unreadable: the binary's own."""
    source, source_version = source.strip(), source_version.strip()
    rpm = _SOURCE_RPM.fullmatch(source)
    if rpm and not source_version:
        epoch = version.split(":", 1)[0] + ":" if ":" in version else ""
        source, source_version = rpm.group(1), f"{epoch}{rpm.group(2)}-{rpm.group(3)}"
    if not (_NAME.fullmatch(source) and _VERSION.fullmatch(source_version)):
        return name, version
    return source, source_version


def packages(text: str) -> tuple[list[PackageLine], int]:
    """The installed packages in dpkg-query/rpm output in :data:`DPKG_FORMAT`/:data:`RPM_FORMAT`,
    and how many marked lines were skipped as malformed. Only installed packages count (dpkg's
    status "ii", "hi"); the name drops dpkg's ":arch" suffix (the architecture is its own field).
    A line without a readable source names the binary package as its own source (dpkg prints
    the binary's name and version for a package whose source is the same).
    """
    found: dict[tuple[str, str], PackageLine] = {}
    skipped = 0
    for line in text.splitlines():
        if not line.startswith(PACKAGE_MARKER + "\t"):
            continue
        fields = line.split("\t")
        if len(fields) == 5:
            fields += ["", ""]
        if len(fields) != 7:
            skipped += 1
            continue
        _, name, version, arch, status, source, source_version = fields
        if status.strip()[:2] not in ("ii", "hi"):
            continue  # removed, config files only, half-installed ...
        name = name.split(":", 1)[0]
        if not (_NAME.fullmatch(name) and _VERSION.fullmatch(version) and _ARCH.fullmatch(arch)):
            skipped += 1
            continue
        source, source_version = _source(name, version, source, source_version)
        found[(name, arch)] = PackageLine(name, version, arch, source, source_version)
    if not found and skipped:
        raise ParseError(f"no package line could be read ({skipped} malformed)")
    return sorted(found.values(), key=lambda p: (p.name, p.architecture)), skipped


# --- version output of the stack ----------------------------------------------------------------

_V = r"(\d+(?:\.\d+){1,3}(?:[-+~][0-9A-Za-z.+~-]*)?)"

#: (component kind, name, command, pattern); the first group of the pattern is the version.
PROBES: list[tuple[str, str, str, re.Pattern[str]]] = [
    ("web_server", "nginx", "nginx -v", re.compile(r"nginx version: [^/\s]*nginx/" + _V)),
    ("web_server", "apache", "apache2 -v", re.compile(r"Server version: Apache/" + _V)),
    ("web_server", "apache", "httpd -v", re.compile(r"Server version: Apache/" + _V)),
    ("php", "php", "php -v", re.compile(r"^PHP " + _V, re.MULTILINE)),
    (
        "database",
        "mariadb",
        "mysql --version",
        re.compile(r"(?:Distrib |from )" + _V + r"-MariaDB"),
    ),
    ("database", "mysql", "mysql --version", re.compile(r"\bVer " + _V + r"(?!.*MariaDB)")),
    (
        "database",
        "postgresql",
        "psql --version",
        re.compile(r"\(PostgreSQL\) " + r"(\d+(?:\.\d+)*)"),
    ),
]


def version_from(pattern: re.Pattern[str], output: str) -> str | None:
    match = pattern.search(output)
    if not match:
        return None
    # "8.2.7-1+deb12u1" keeps the upstream part only for the stack's version.
    return re.split(r"[-+~]", match.group(1), maxsplit=1)[0][:100]


# --- WordPress ----------------------------------------------------------------------------------

_WP_VERSION = re.compile(r"""\$wp_version\s*=\s*['"]([0-9][0-9A-Za-z.+-]{0,40})['"]\s*;""")


def wordpress_version(text: str) -> str:
    """``$wp_version = '6.4.2';`` in wp-includes/version.php."""
    match = _WP_VERSION.search(text)
    if not match:
        raise ParseError("wp-includes/version.php has no $wp_version")
    return match.group(1)


_WP_CLI_VERSION = re.compile(r"[0-9][0-9A-Za-z.+-]{0,40}")
#: wp-cli's plugin statuses that are plugins of wp-content/plugins (not must-use or drop-ins,
#: which the files reading does not list either and which have no wordpress.org slug).
WP_CLI_PLUGIN_STATUSES = {"active", "inactive", "active-network"}


def wp_cli_core_version(text: str) -> str:
    """The output of ``wp core version``: one version line (stray lines before it ignored)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not _WP_CLI_VERSION.fullmatch(lines[-1]):
        raise ParseError("wp core version printed no version")
    return lines[-1]


def wp_cli_plugins(text: str) -> list[tuple[str, str]]:
    """(slug, version) of each plugin in ``wp plugin list --format=json`` output: a JSON array
    of objects with at least ``name`` (the slug), ``status`` and ``version``. Must-use plugins
    and drop-ins are left out."""
    import json

    start = text.find("[")
    try:
        rows = json.loads(text[start:]) if start >= 0 else None
    except ValueError:
        rows = None
    if not isinstance(rows, list):
        raise ParseError("wp plugin list printed no JSON list")
    found = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            continue
        if row.get("status") not in WP_CLI_PLUGIN_STATUSES:
            continue
        slug = row["name"].strip()
        if not _NAME.fullmatch(slug):
            continue
        version = row.get("version")
        found.append((slug, _clean(version, 100) if isinstance(version, str) else ""))
    return found


def plugin_header(text: str) -> tuple[str, str] | None:
    """(plugin name, version) from a plugin file's header comment, or None if the file is not a
    plugin's main file (no "Plugin Name:"). Only the start of the file is read, as WordPress
    does."""
    values = {}
    for field in ("Plugin Name", "Version"):
        match = re.search(
            r"^[ \t/*#@]*" + re.escape(field) + r":(.*)$", text, re.MULTILINE | re.IGNORECASE
        )
        if match:
            values[field] = _clean(re.sub(r"\s*(?:\*/|\?>).*$", "", match.group(1)))
    if not values.get("Plugin Name"):
        return None
    return values["Plugin Name"], values.get("Version", "")[:100]


# --- accounts -----------------------------------------------------------------------------------

NO_LOGIN_SHELLS = {"", "/bin/false", "/usr/bin/false", "/sbin/nologin", "/usr/sbin/nologin"}


@dataclass(frozen=True)
class PasswdEntry:
    username: str
    uid: int
    gid: int
    home: str
    shell: str

    @property
    def can_log_in(self) -> bool:
        return self.shell not in NO_LOGIN_SHELLS and not self.shell.endswith("/nologin")


_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}\$?")


def passwd(text: str) -> list[PasswdEntry]:
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith(("+", "-")):
            continue
        fields = line.split(":")
        if len(fields) != 7 or not _USER.fullmatch(fields[0]):
            continue
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            continue
        entries.append(PasswdEntry(fields[0], uid, gid, _clean(fields[5], 500), _clean(fields[6])))
    if not entries:
        raise ParseError("the passwd file has no user entry")
    return entries


def groups(text: str) -> dict[str, tuple[int, list[str]]]:
    """group name -> (gid, members)."""
    found = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) != 4 or not _USER.fullmatch(fields[0]):
            continue
        try:
            gid = int(fields[2])
        except ValueError:
            continue
        found[fields[0]] = (gid, [m.strip() for m in fields[3].split(",") if m.strip()])
    return found


def sudoers(text: str) -> tuple[set[str], set[str]]:
    """(users, groups) given rights by user specifications in sudoers text. Aliases, defaults and
    include directives are not rules; "#include"/"@include" lines are ignored here (the caller
    reads the .d directory)."""
    users: set[str] = set()
    group_names: set[str] = set()
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "@", "Defaults")):
            continue
        if re.match(r"^(User|Runas|Host|Cmnd|Cmd)_Alias\b", line):
            continue
        if "=" not in line:
            continue
        who = line.split(None, 1)[0]
        for name in who.split(","):
            name = name.strip()
            if name.startswith("%:") or name.startswith("%"):
                group_names.add(name.lstrip("%:"))
            elif name and not name.startswith(("!", "#", "+")) and _USER.fullmatch(name):
                users.add(name)
    return users, group_names


# --- authorized_keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyLine:
    key_type: str
    fingerprint: str
    comment: str


_KEY = re.compile(
    r"(?:^|\s)((?:sk-)?(?:ssh-[a-z0-9]+|ecdsa-sha2-[a-z0-9]+)(?:@openssh\.com)?)\s+"
    r"([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$"
)


def authorized_keys(text: str) -> tuple[list[KeyLine], int]:
    """The keys of an authorized_keys file (type, SHA256 fingerprint, comment) and how many
    non-comment lines held no readable key. Options before the key are allowed and not kept."""
    keys: dict[str, KeyLine] = {}
    bad = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _KEY.search(line)
        if not match:
            bad += 1
            continue
        key_type, blob, comment = match.group(1), match.group(2), match.group(3) or ""
        try:
            key = asyncssh.import_public_key(f"{key_type} {blob}")
        except (asyncssh.KeyImportError, ValueError):
            bad += 1
            continue
        fingerprint = key.get_fingerprint("sha256")
        keys.setdefault(fingerprint, KeyLine(key_type, fingerprint, _clean(comment, 300)))
    return list(keys.values()), bad
