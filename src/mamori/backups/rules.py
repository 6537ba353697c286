"""What a valid backup job is: one place for the form, the API and the CLI (``full_clean``)."""

from __future__ import annotations

import posixpath
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

#: ``sftp:user@host:/path`` or ``sftp://user@host[:port]//path`` (restic's two spellings).
SFTP_SHORT = re.compile(r"^sftp:(?P<user>[^@/:\s]+)@(?P<host>[^:/\s]+):(?P<path>\S+)$")
SFTP_URL = re.compile(
    r"^sftp://(?P<user>[^@/:\s]+)@(?P<host>[^:/\s]+)(?::(?P<port>\d{1,5}))?/(?P<path>\S+)$"
)


#: ``s3:http(s)://host[:port]/bucket[/prefix]`` (restic's spelling for an S3-compatible server).
S3_URL = re.compile(
    r"^s3:(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?"
    r"/(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>[^\s]*))?$"
)


def s3_parts(repository: str) -> dict | None:
    """(endpoint, bucket, prefix) of an S3 repository, or None."""
    found = S3_URL.match(repository)
    if found is None:
        return None
    parts = found.groupdict()
    if parts["port"] is not None and not 0 < int(parts["port"]) < 65536:
        return None
    port = f":{parts['port']}" if parts["port"] else ""
    return {
        "endpoint": f"{parts['scheme']}://{parts['host']}{port}",
        "bucket": parts["bucket"],
        "prefix": (parts["prefix"] or "").strip("/"),
    }


def sftp_parts(repository: str) -> dict | None:
    """(user, host, port, path) of an SFTP repository, or None for a local path."""
    for pattern in (SFTP_URL, SFTP_SHORT):
        found = pattern.match(repository)
        if found:
            parts = found.groupdict()
            return {
                "user": parts["user"],
                "host": parts["host"],
                "port": int(parts.get("port") or 22),
                "path": parts["path"],
            }
    return None


def problems(job) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        found.setdefault(field, []).append(message)

    client_id = job.client_id
    for field in ("contract", "site", "server"):
        related = getattr(job, field, None) if getattr(job, f"{field}_id") else None
        if related is not None and related.client_id != client_id:
            add(field, _("It belongs to another client."))
    for field in job.SECRET_FIELDS:
        secret = getattr(job, field, None) if getattr(job, f"{field}_id") else None
        if secret is not None and secret.client_id != client_id:
            add(field, _("The secret belongs to another client."))
    paths = job.path_list
    if not paths and not job.dump_command.strip():
        add("paths", _("Give at least one path or a database dump command."))
    for path in paths:
        if not posixpath.isabs(path):
            add("paths", _("Not an absolute path: %(path)s") % {"path": path[:200]})
    if job.dump_command.strip():
        name = job.dump_filename.strip()
        if not name or "/" in name or name in {".", ".."}:
            add("dump_filename", _("Give a plain file name for the dump."))
    if job.dump_load:
        if not job.dump_command.strip():
            add("dump_load", _("Only a job with a database dump command can load its dump."))
        try:
            connection_env(job.dump_load_connection)
        except ValueError as e:
            add("dump_load_connection", str(e))
    repository = job.repository.strip()
    sftp = sftp_parts(repository)
    if repository.startswith("s3:"):
        if s3_parts(repository) is None:
            add(
                "repository",
                _("Write an S3 repository as s3:https://host[:port]/bucket/prefix."),
            )
        if not job.repository_access_key_id_id:
            add(
                "repository_access_key_id",
                _("An S3 repository needs its access key id from the vault."),
            )
        if not job.repository_secret_access_key_id:
            add(
                "repository_secret_access_key",
                _("An S3 repository needs its secret access key from the vault."),
            )
    elif repository.startswith("sftp"):
        if sftp is None:
            add("repository", _("Write an SFTP repository as sftp:user@host:/path."))
        else:
            if not job.repository_key_id:
                add("repository_key", _("An SFTP repository needs an SSH key from the vault."))
            if not job.repository_host_key.strip():
                add("repository_host_key", _("An SFTP repository needs its host key."))
    elif ":" in repository.split("/")[0]:
        add("repository", _("Only local paths, SFTP and S3 repositories are supported."))
    elif not posixpath.isabs(repository):
        add("repository", _("A local repository must be an absolute path."))
    if job.run_on == "server":
        if not job.ssh_host.strip():
            add("ssh_host", _("Running on the server needs its SSH host."))
        if not job.ssh_username.strip():
            add("ssh_username", _("Running on the server needs an SSH user."))
        if not job.ssh_secret_id:
            add("ssh_secret", _("Running on the server needs an SSH credential from the vault."))
        if not job.ssh_host_key.strip():
            add("ssh_host_key", _("Running on the server needs its host key."))
    for field in ("ssh_host_key", "repository_host_key"):
        value = getattr(job, field).strip()
        if value:
            from mamori.lifecycle.ssh import parse_host_key

            try:
                parse_host_key(value)
            except ValueError:
                add(field, _("No SSH public host key found (expected e.g. 'ssh-ed25519 AAAA...')."))
    if job.run_on == "mamori":
        local = list(paths)
        if repository and sftp is None and posixpath.isabs(repository):
            local.append(repository)
        for path in local:
            if posixpath.isabs(path) and not under_roots(path):
                add(
                    "repository" if path == repository else "paths",
                    _(
                        "%(path)s is outside the directories Mamori may use for backups "
                        "(MAMORI_BACKUP_ROOTS)."
                    )
                    % {"path": path[:200]},
                )
        if job.dump_command.strip():
            add("dump_command", _("A database dump runs on the managed server, not on Mamori."))
    if not (job.keep_daily or job.keep_weekly or job.keep_monthly):
        add("keep_daily", _("Keep at least one daily, weekly or monthly snapshot."))
    return found


#: The libpq settings a scratch database server is given by, and their environment variables.
CONNECTION_KEYS = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "sslmode": "PGSSLMODE",
}
CONNECTION_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+-]{1,253}$")


def connection_env(text: str) -> dict[str, str]:
    """``host=… port=… user=… sslmode=…`` as libpq's environment variables; raises
    ``ValueError`` with a message for the operator (a password belongs in the vault)."""
    env: dict[str, str] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if not sep or key not in CONNECTION_KEYS:
            raise ValueError(
                _("Write the scratch database server as host=… port=… user=… (sslmode=…).")
            )
        if not CONNECTION_VALUE.match(value):
            raise ValueError(_("Not a valid value for %(key)s.") % {"key": key})
        env[CONNECTION_KEYS[key]] = value
    return env


def check(job) -> None:
    found = problems(job)
    if found:
        raise ValidationError(found)


def under_roots(path: str) -> bool:
    """Whether ``path`` lies under one of ``MAMORI_BACKUP_ROOTS`` (after normalising)."""
    from django.conf import settings

    clean = posixpath.normpath(path)
    for root in settings.MAMORI_BACKUP_ROOTS:
        root = posixpath.normpath(root)
        if clean == root or clean.startswith(root.rstrip("/") + "/"):
            return True
    return False


SNAPSHOT = re.compile(r"^(latest|[0-9a-f]{8,64})$")


def restore_problems(job, *, path: str, target: str, snapshot: str) -> dict[str, list[str]]:
    """What is wrong with a restore request (a path, a snapshot, a target directory)."""
    found: dict[str, list[str]] = {}
    if not path or not posixpath.isabs(path) or "\x00" in path:
        found["path"] = [_("Give the absolute path to restore, as it was backed up.")]
    if not target or not posixpath.isabs(target) or "\x00" in target:
        found["target"] = [_("Give an absolute directory to restore into.")]
    elif posixpath.normpath(target) == "/":
        found["target"] = [_("Restoring over / is refused; restore into a directory.")]
    elif job.run_on == "mamori" and not under_roots(target):
        found["target"] = [
            _(
                "%(path)s is outside the directories Mamori may use for backups "
                "(MAMORI_BACKUP_ROOTS)."
            )
            % {"path": target[:200]}
        ]
    if not SNAPSHOT.match(snapshot or ""):
        found["snapshot"] = [_("A snapshot is 'latest' or its id (8 to 64 hex digits).")]
    return found
