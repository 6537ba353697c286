"""Reading a server's software and accounts over SSH (MNT-01, MNT-07).

One SSH session (mamori.lifecycle.ssh: login from the vault, pinned host key) per collection.
Every item is read on its own: an item that cannot be read or parsed becomes a problem
(``{"item": ..., "message": ...}``) and the rest is still collected. What is found is a
:class:`Found`, which :mod:`mamori.software.services` records.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Any

from mamori.software import parse
from mamori.software.models import CollectionSetup

COMMAND_TIMEOUT = 120
#: WordPress reads a plugin's header from the first 8 KiB of the file; so do we.
HEADER_BYTES = 8192
MAX_PLUGIN_FILES = 50
MAX_FILE = 4 * 1024 * 1024


@dataclass
class ComponentFound:
    kind: str
    name: str
    version: str
    path: str


@dataclass
class AccountFound:
    username: str
    uid: int
    home: str
    shell: str
    sudo: str | None


@dataclass
class Found:
    """What one collection found; ``None`` for an item that could not be read (its rows are
    then left as they were)."""

    os: parse.OsRelease | None = None
    ecosystem: str = ""
    packages: list[parse.PackageLine] | None = None
    components: list[ComponentFound] | None = None
    accounts: list[AccountFound] | None = None
    keys: dict[str, list[parse.KeyLine]] | None = None
    problems: list[dict[str, str]] = field(default_factory=list)

    def problem(self, item: str, message: str) -> None:
        self.problems.append({"item": item[:200], "message": str(message)[:500]})


class Reader:
    """The few operations a collection needs, over a lifecycle.ssh session."""

    def __init__(self, remote: Any):
        self.remote = remote

    def run(self, command: str) -> tuple[int, str]:
        return self.remote.run(command, timeout=COMMAND_TIMEOUT)

    def read(self, path: str, limit: int = MAX_FILE) -> str | None:
        data = self.remote.read_file(path, limit)
        return None if data is None else data.decode("utf-8", errors="replace")

    def listdir(self, path: str) -> list[tuple[str, bool]] | None:
        return self.remote.listdir(path)


def collect(setup: CollectionSetup) -> Found:
    """Connect to the server of ``setup`` and read everything. Raises ``ssh.SSHError`` when the
    server cannot be reached or refuses the login (nothing is read then)."""
    from mamori.lifecycle import ssh

    if not setup.ssh_host_key.strip():
        raise ssh.SSHError("the server's SSH host key is not configured")
    with ssh.sync_session(
        setup.ssh_host,
        setup.ssh_port,
        setup.ssh_username,
        setup.ssh_secret,
        setup.ssh_host_key,
    ) as remote:
        return read_all(Reader(remote), setup)


def read_all(reader: Reader, setup: CollectionSetup) -> Found:
    found = Found()
    for step in (_os, _packages, _components, _accounts):
        try:
            step(reader, setup, found)
        except parse.ParseError as exc:
            found.problem(step.__name__.strip("_"), str(exc))
        except Exception as exc:  # an SSH failure mid-way: recorded, the others still run
            from mamori.lifecycle import ssh

            if not isinstance(exc, ssh.SSHError | UnicodeError | OSError):
                raise
            found.problem(step.__name__.strip("_"), str(exc))
    return found


def _os(reader: Reader, setup: CollectionSetup, found: Found) -> None:
    text = reader.read(setup.os_release_path)
    if text is None:
        found.problem("os", f"{setup.os_release_path} does not exist")
        return
    found.os = parse.os_release(text)


def _packages(reader: Reader, setup: CollectionSetup, found: Found) -> None:
    admin = f" --admindir={shlex.quote(setup.dpkg_admin_dir)}" if setup.dpkg_admin_dir else ""
    command = (
        "if command -v dpkg-query >/dev/null 2>&1; then "
        f"dpkg-query{admin} -W -f {shlex.quote(parse.DPKG_FORMAT)}; "
        "elif command -v rpm >/dev/null 2>&1; then echo MAMORI-RPM; "
        f"rpm -qa --queryformat {shlex.quote(parse.RPM_FORMAT)}; "
        "else exit 127; fi"
    )
    status, output = reader.run(command)
    if status == 127:
        found.problem("packages", "neither dpkg-query nor rpm is installed")
        return
    if status != 0:
        found.problem("packages", f"listing packages failed (status {status}): {output[-300:]}")
        return
    manager = "rpm" if output.startswith("MAMORI-RPM") else "dpkg"
    lines, skipped = parse.packages(output)
    if skipped:
        found.problem("packages", f"{skipped} package lines could not be read")
    found.ecosystem = parse.ecosystem_of(found.os, manager)
    found.packages = lines


def _components(reader: Reader, setup: CollectionSetup, found: Found) -> None:
    components: list[ComponentFound] = []
    done: set[str] = set()
    ran: dict[str, tuple[int, str]] = {}  # one run per command (mysql: MySQL or MariaDB)
    for kind, name, command, pattern in parse.PROBES:
        if name in done:
            continue
        program = command.split()[0]
        if command not in ran:
            ran[command] = reader.run(
                f'p=$(command -v {program}) || exit 127; echo "MAMORI-PATH $p"; {command} 2>&1'
            )
        status, output = ran[command]
        if status == 127:
            continue  # not installed
        path = ""
        for line in output.splitlines():
            if line.startswith("MAMORI-PATH "):
                path = line[len("MAMORI-PATH ") :].strip()[:500]
                break
        version = parse.version_from(pattern, output)
        if version is None:
            if name in ("mysql", "mariadb"):
                other = "mariadb" if name == "mysql" else "mysql"
                if any(p[1] == other and p[3].search(output) for p in parse.PROBES):
                    continue  # the other database's client: its own probe reads it
            found.problem(f"{name}", f"'{command}' printed no version it could read")
            continue
        done.add(name)
        components.append(ComponentFound(kind, name, version, path))
    for root in setup.wordpress_path_list():
        try:
            components += _wordpress(reader, root, found)
        except parse.ParseError as exc:
            found.problem(f"wordpress {root}", str(exc))
    found.components = components


#: Options of every wp-cli command Mamori runs: no plugin or theme code is loaded (a broken or
#: hostile plugin cannot run through Mamori's login), no colours.
WP_CLI_OPTIONS = "--skip-plugins --skip-themes --no-color"


def _wordpress(reader: Reader, root: str, found: Found) -> list[ComponentFound]:
    """WordPress core and plugins of the site in ``root``: through wp-cli where the login can
    run it, else from the files."""
    through_cli = _wordpress_cli(reader, root)
    if through_cli is not None:
        return through_cli
    return _wordpress_files(reader, root, found)


def _wordpress_cli(reader: Reader, root: str) -> list[ComponentFound] | None:
    """The site read by wp-cli (``wp core version``, ``wp plugin list --format=json``), or None
    when wp-cli is not on the login's PATH, the login is root (wp-cli refuses root without
    --allow-root, which would run the site's PHP as root: Mamori never passes it), or wp-cli
    failed or printed what cannot be read. Then the files are read instead."""
    path = shlex.quote(f"--path={root}")
    status, output = reader.run(
        "command -v wp >/dev/null 2>&1 || exit 127; "
        '[ "$(id -u)" = 0 ] && exit 126; '
        f"wp core version {path} {WP_CLI_OPTIONS} 2>/dev/null || exit 125; "
        "echo MAMORI-WP-PLUGINS; "
        f"wp plugin list --format=json --fields=name,status,version {path} {WP_CLI_OPTIONS} "
        "2>/dev/null || exit 125"
    )
    if status != 0:
        return None  # 127: no wp-cli; 126: root; 125 or other: wp-cli failed
    core, marker, plugins = output.partition("MAMORI-WP-PLUGINS")
    if not marker:
        return None
    try:
        version = parse.wp_cli_core_version(core)
        listed = parse.wp_cli_plugins(plugins)
    except parse.ParseError:
        return None
    plugins_dir = posixpath.join(root, "wp-content/plugins")
    return [ComponentFound("cms", "wordpress", version, root)] + [
        ComponentFound("plugin", slug, plugin_version, posixpath.join(plugins_dir, slug))
        for slug, plugin_version in listed
    ]


def _wordpress_files(reader: Reader, root: str, found: Found) -> list[ComponentFound]:
    text = reader.read(posixpath.join(root, "wp-includes/version.php"), 64 * 1024)
    if text is None:
        found.problem(f"wordpress {root}", "wp-includes/version.php does not exist")
        return []
    result = [ComponentFound("cms", "wordpress", parse.wordpress_version(text), root)]
    plugins_dir = posixpath.join(root, "wp-content/plugins")
    entries = reader.listdir(plugins_dir) or []
    for name, is_dir in entries:
        if name.startswith("."):
            continue
        path = posixpath.join(plugins_dir, name)
        if is_dir:
            files = [f for f, d in (reader.listdir(path) or []) if not d and f.endswith(".php")]
            candidates = [posixpath.join(path, f) for f in files[:MAX_PLUGIN_FILES]]
        elif name.endswith(".php"):
            candidates = [path]
        else:
            continue
        header = None
        for candidate in candidates:
            text = reader.read(candidate, HEADER_BYTES)
            header = parse.plugin_header(text or "")
            if header:
                break
        if header is None:
            if is_dir:
                found.problem(f"plugin {path}", "no plugin header found")
            continue
        slug = name[: -len(".php")] if not is_dir else name
        result.append(ComponentFound("plugin", slug, header[1], path))
    return result


def _accounts(reader: Reader, setup: CollectionSetup, found: Found) -> None:
    text = reader.read(setup.passwd_path)
    if text is None:
        found.problem("accounts", f"{setup.passwd_path} does not exist")
        return
    entries = parse.passwd(text)
    group_text = reader.read(setup.group_path) or ""
    group_map = parse.groups(group_text)
    sudo_users, sudo_groups, readable = _sudo_rules(reader, setup, found)

    accounts: list[AccountFound] = []
    keys: dict[str, list[parse.KeyLine]] = {}
    gid_names = {gid: name for name, (gid, _) in group_map.items()}
    for entry in entries:
        member_of = {name for name, (_, members) in group_map.items() if entry.username in members}
        if entry.gid in gid_names:
            member_of.add(gid_names[entry.gid])
        reasons = []
        if entry.username in sudo_users:
            reasons.append("sudoers")
        reasons += [f"group {g}" for g in sorted(member_of & sudo_groups)]
        sudo = ", ".join(reasons) if readable else (", ".join(reasons) or None)
        user_keys: list[parse.KeyLine] = []
        if entry.home.startswith("/") and (entry.can_log_in or entry.uid == 0 or reasons):
            path = posixpath.join(entry.home, ".ssh/authorized_keys")
            try:
                key_text = reader.read(path)
            except Exception as exc:
                from mamori.lifecycle import ssh

                if not isinstance(exc, ssh.SSHError):
                    raise
                found.problem(f"keys {entry.username}", str(exc))
                key_text = None
            if key_text is not None:
                user_keys, bad = parse.authorized_keys(key_text)
                if bad:
                    found.problem(f"keys {entry.username}", f"{bad} lines of {path} hold no key")
        if entry.can_log_in or entry.uid == 0 or reasons or user_keys:
            accounts.append(AccountFound(entry.username, entry.uid, entry.home, entry.shell, sudo))
            if user_keys:
                keys[entry.username] = user_keys
    found.accounts = accounts
    found.keys = keys


def _sudo_rules(
    reader: Reader, setup: CollectionSetup, found: Found
) -> tuple[set[str], set[str], bool]:
    """Users and groups with sudo rights in the sudoers file and its .d directory; whether the
    main file could be read."""
    from mamori.lifecycle import ssh

    users: set[str] = set()
    group_names: set[str] = set()
    try:
        text = reader.read(setup.sudoers_path)
    except ssh.SSHError as exc:
        found.problem("sudoers", str(exc))
        return users, group_names, False
    if text is None:
        return users, group_names, True  # no sudo installed: nobody has sudo rights
    u, g = parse.sudoers(text)
    users |= u
    group_names |= g
    directory = setup.sudoers_path + ".d"
    try:
        entries = reader.listdir(directory) or []
    except ssh.SSHError as exc:
        found.problem("sudoers", str(exc))
        entries = []
    for name, is_dir in entries:
        # sudo skips names ending in "~" or containing ".", as its manual says.
        if is_dir or name.endswith("~") or "." in name:
            continue
        try:
            part = reader.read(posixpath.join(directory, name)) or ""
        except ssh.SSHError as exc:
            found.problem("sudoers", str(exc))
            continue
        u, g = parse.sudoers(part)
        users |= u
        group_names |= g
    return users, group_names, True
