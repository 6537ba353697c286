"""The record of updates and repairs (MNT-02, 004 §8.3): one service function per write, used by
the pages, the API and the CLI; an update run over SSH as a recorded job with its output.

The client is told afterwards through the outbox, once per record (event key
``update-record:<pk>``), unless the operator decides not to (004 §8.3 allows neither prior nor
later notice for urgent repairs).
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.advisories.models import UpdateKind, UpdateMethod, UpdateRecord, UpdateState
from mamori.clients.models import Client, NoticeTopic
from mamori.core import audit
from mamori.core.permissions import require_change
from mamori.inventory.models import Server, Site
from mamori.notices import services as notices
from mamori.notices.models import NoticeKind

#: A package, plugin or slug name as the update commands take it (no shell, no options).
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._:@/-]{0,199}$")
RUN_TIMEOUT = 900.0
OUTPUT_LIMIT = 200_000


class UpdateError(ValueError):
    """Input a record cannot take; the message is for the user."""


def _text(values: dict[str, Any], name: str, limit: int) -> str:
    value = values.get(name) or ""
    if not isinstance(value, str):
        raise UpdateError(_("%(field)s must be text.") % {"field": name})
    value = value.strip()
    if len(value) > limit:
        raise UpdateError(
            _("%(field)s is longer than %(limit)d characters.") % {"field": name, "limit": limit}
        )
    return value


def _clean(client: Client, values: dict[str, Any]) -> dict[str, Any]:
    server = values.get("server")
    site = values.get("site")
    if server is not None and server.client_id != client.pk:
        raise UpdateError(_("The server belongs to another client."))
    if site is not None and site.client_id != client.pk:
        raise UpdateError(_("The site belongs to another client."))
    if server is None and site is None:
        raise UpdateError(_("Name the server or the site that was updated."))
    package = _text(values, "package", 200)
    if not package:
        raise UpdateError(_("Say what was updated (a package, plugin or component)."))
    kind = values.get("kind") or UpdateKind.PLANNED
    if kind not in UpdateKind.values:
        raise UpdateError(
            _("Unknown kind %(kind)s (use %(valid)s).")
            % {"kind": kind, "valid": ", ".join(UpdateKind.values)}
        )
    method = values.get("method") or UpdateMethod.MANUAL
    if method not in UpdateMethod.values:
        raise UpdateError(
            _("Unknown method %(method)s (use %(valid)s).")
            % {"method": method, "valid": ", ".join(UpdateMethod.values)}
        )
    performed_at = values.get("performed_at") or timezone.now()
    if not isinstance(performed_at, dt.datetime):
        raise UpdateError(_("The time of the update is not a date and time."))
    if timezone.is_naive(performed_at):
        performed_at = timezone.make_aware(performed_at)
    if performed_at > timezone.now() + dt.timedelta(minutes=5):
        raise UpdateError(_("An update is recorded when it is done: the time is in the future."))
    advisories = values.get("advisories") or []
    if isinstance(advisories, str):
        advisories = [a for a in re.split(r"[\s,]+", advisories) if a]
    if not all(isinstance(a, str) and len(a) <= 100 for a in advisories) or len(advisories) > 50:
        raise UpdateError(_("Advisories: up to 50 ids such as CVE-2024-1234."))
    return {
        "server": server,
        "site": site,
        "package": package,
        "from_version": _text(values, "from_version", 200),
        "to_version": _text(values, "to_version", 200),
        "kind": kind,
        "method": method,
        "reason": _text(values, "reason", 5000),
        "advisories": advisories,
        "performed_at": performed_at,
        "notify_client": bool(values.get("notify_client", True)),
        "wp_path": _text(values, "wp_path", 500),
    }


def record_update(actor, client: Client, values: dict[str, Any], *, request=None) -> UpdateRecord:
    """Record an update or repair done by hand; the client is told afterwards if asked."""
    require_change(actor, client, UpdateRecord.change_rule)
    cleaned = _clean(client, values)
    with transaction.atomic():
        record = UpdateRecord.objects.create(
            client=client,
            performed_by=actor,
            performed_by_label=(actor.get_username() if actor else "system")[:150],
            state=UpdateState.DONE,
            **cleaned,
        )
        audit.record(
            "update.record",
            record,
            actor=actor,
            request=request,
            changes=_changes(record),
        )
        if record.notify_client:
            notify_client(record)
    return record


def _changes(record: UpdateRecord) -> dict[str, Any]:
    return {
        "package": record.package,
        "from_version": record.from_version,
        "to_version": record.to_version,
        "kind": record.kind,
        "method": record.method,
        "server": record.server_id,
        "site": record.site_id,
        "state": record.state,
        "notify_client": record.notify_client,
    }


def notify_client(record: UpdateRecord) -> int:
    """Tell the client's contacts (topic: maintenance) about ``record``, once. Returns how many
    notices were put in the outbox now."""
    client = record.client
    result = notices.enqueue(
        NoticeKind.UPDATE_PERFORMED,
        f"update-record:{record.pk}",
        notices.contact_recipients(client, NoticeTopic.MAINTENANCE),
        {"client": client, "record": record, "target_name": record.target_name},
        client=client,
    )
    if result.created and record.notified_at is None:
        record.notified_at = timezone.now()
        UpdateRecord.objects.filter(pk=record.pk).update(notified_at=record.notified_at)
    return len(result.created)


# --- an update run over SSH ------------------------------------------------------------------


@dataclass
class Access:
    """How to reach a server over SSH (the login read from the vault when used)."""

    host: str
    port: int
    username: str
    credential: Any  # a vault Secret, or key bytes in tests
    host_key: str


def ssh_access_for(server: Server) -> Access | None:
    """The server's SSH access: that of a deployment target on it (host, user, key in the vault,
    pinned host key), the one SSH login Mamori keeps per server today."""
    from mamori.lifecycle.models import DeploymentTarget, TargetKind

    target = (
        DeploymentTarget.objects.filter(server=server, kind=TargetKind.SSH)
        .exclude(ssh_host="")
        .exclude(ssh_host_key="")
        .order_by("pk")
        .first()
    )
    if target is None:
        return None
    return Access(
        target.ssh_host,
        target.ssh_port,
        target.ssh_username,
        target.ssh_secret,
        target.ssh_host_key,
    )


def commands_for(record: UpdateRecord, sudo: bool) -> tuple[list[str], list[str]]:
    """(the update command, the command that reads the installed version afterwards)."""
    name = record.package
    prefix = ["sudo", "-n"] if sudo else []
    if record.method == UpdateMethod.APT:
        return (
            [
                *prefix,
                "env",
                "DEBIAN_FRONTEND=noninteractive",
                "apt-get",
                "install",
                "-y",
                "--only-upgrade",
                name,
            ],
            ["dpkg-query", "-W", "-f=${Version}", name],
        )
    if record.method == UpdateMethod.DNF:
        return [*prefix, "dnf", "upgrade", "-y", name], [
            "rpm",
            "-q",
            "--qf",
            "%{VERSION}-%{RELEASE}",
            name,
        ]
    path = f"--path={record.wp_path}"
    if record.method == UpdateMethod.WP_PLUGIN:
        return (
            ["wp", "plugin", "update", name, path],
            ["wp", "plugin", "get", name, "--field=version", path],
        )
    if record.method == UpdateMethod.WP_CORE:
        return ["wp", "core", "update", path], ["wp", "core", "version", path]
    raise UpdateError(_("A manual update is recorded, not run."))


def start_update(actor, client: Client, values: dict[str, Any], *, request=None) -> UpdateRecord:
    """Record an update to be run over SSH (state queued); :func:`run_update` runs it."""
    require_change(actor, client, UpdateRecord.change_rule)
    cleaned = _clean(client, values)
    if cleaned["method"] == UpdateMethod.MANUAL:
        raise UpdateError(_("Choose how to run it: apt, dnf, wp_plugin or wp_core."))
    if cleaned["server"] is None:
        raise UpdateError(_("An update runs on a server: name it."))
    if cleaned["method"] != UpdateMethod.WP_CORE and not PACKAGE_NAME.match(cleaned["package"]):
        raise UpdateError(
            _("Not a package or plugin name: %(name)s") % {"name": cleaned["package"]}
        )
    if cleaned["method"] in (UpdateMethod.WP_PLUGIN, UpdateMethod.WP_CORE) and not cleaned[
        "wp_path"
    ].startswith("/"):
        raise UpdateError(_("A WordPress update needs the site's directory (an absolute path)."))
    cleaned["performed_at"] = timezone.now()
    with transaction.atomic():
        record = UpdateRecord.objects.create(
            client=client,
            performed_by=actor,
            performed_by_label=(actor.get_username() if actor else "system")[:150],
            state=UpdateState.QUEUED,
            **cleaned,
        )
        audit.record("update.start", record, actor=actor, request=request, changes=_changes(record))
    return record


def run_update(record: UpdateRecord, access: Access | None = None) -> UpdateRecord:
    """Run a queued update over SSH: claim it (only one runner does), run the command, read the
    version now installed, record output, exit status and result; tell the client afterwards
    if the record asks for it and the update succeeded."""
    from mamori.lifecycle import ssh

    claimed = UpdateRecord.objects.filter(pk=record.pk, state=UpdateState.QUEUED).update(
        state=UpdateState.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        raise UpdateError(_("This update is not waiting to run (it ran or is running)."))
    record.refresh_from_db()
    access = access or (ssh_access_for(record.server) if record.server else None)
    output, status, to_version = "", None, ""
    if access is None:
        output = _("No SSH access for this server: add an SSH deployment target with its host key.")
    else:
        command, query = commands_for(record, sudo=access.username != "root")
        record.command = shlex.join(command)[:1000]
        try:
            with ssh.sync_session(
                access.host, access.port, access.username, access.credential, access.host_key
            ) as remote:
                status, output = remote.run(record.command, timeout=RUN_TIMEOUT)
                if status == 0:
                    code, version = remote.run(shlex.join(query), timeout=60)
                    to_version = version.strip() if code == 0 else ""
                    if not to_version:
                        status = 1
                        output += "\n" + _("Not installed after the update: %(name)s") % {
                            "name": record.package
                        }
        except ssh.SSHError as exc:
            output = str(exc)
    succeeded = status == 0
    with transaction.atomic():
        record.output = output[-OUTPUT_LIMIT:]
        record.exit_status = status
        record.finished_at = timezone.now()
        record.performed_at = record.finished_at
        record.state = UpdateState.SUCCEEDED if succeeded else UpdateState.FAILED
        if succeeded:
            record.to_version = to_version[:200]
        record.save()
        audit.record(
            "update.run",
            record,
            actor_label="update run",
            changes={**_changes(record), "exit_status": status},
        )
        if succeeded and record.notify_client:
            notify_client(record)
    return record


def resolve_target(client: Client, server_name: str | None, site_name: str | None):
    """The server and site of a client by name (CLI, API); raises UpdateError."""
    server = site = None
    if server_name:
        server = Server.objects.filter(client=client, name=server_name).first()
        if server is None:
            raise UpdateError(_("No such server of this client: %(name)s") % {"name": server_name})
    if site_name:
        site = Site.objects.filter(client=client, name=site_name).first()
        if site is None:
            raise UpdateError(_("No such site of this client: %(name)s") % {"name": site_name})
    return server, site


def validation_message(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def run_due(limit: int = 10) -> int:
    """The periodic job: run the queued updates (each claimed by one runner). Returns how many
    ran."""
    ran = 0
    for pk in (
        UpdateRecord.objects.filter(state=UpdateState.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    ):
        record = UpdateRecord.objects.select_related("server", "client").get(pk=pk)
        try:
            run_update(record)
        except UpdateError:
            continue  # another runner took it
        ran += 1
    return ran
