"""Deployment targets: what a valid one is, who may set one up, and saving one (CERT-09).

A target receives a private key and runs a command, so its rules are strict (docs/access.md):

- A **local** target writes on the Mamori host. Only provider administrators set one up, change
  it or remove it; its files lie under a directory of ``MAMORI_DEPLOY_ROOTS`` (none configured:
  no local targets at all) and never where Mamori keeps its own secrets (the data directory, the
  master key, the databases), symbolic links followed.
- A target **over SSH** writes on the client's server: provider staff who may manage the client
  (its assigned subcontractors too) set one up.
- Every target's reload command is one of ``MAMORI_DEPLOY_COMMANDS``, run without a shell.
- Client users never set up targets, whichever way they try (page, API or import file).

The rules of a valid target are :func:`problems`, called by ``DeploymentTarget.clean()`` and so by
the form, the API and the import alike; who may change what is :func:`permission_problem`, also
called by all three. The same checks run again when a deployment starts
(:func:`runtime_problem`), so a target saved before a rule existed, or a directory or command
taken out of the configuration since, stops the deployment before anything is written or run.
"""

from __future__ import annotations

import copy
import os
import shlex
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext as _

from mamori.core.models import Role
from mamori.core.permissions import may_change

if TYPE_CHECKING:
    from mamori.clients.models import Client
    from mamori.core.models import User
    from mamori.lifecycle.models import DeploymentTarget

PATH_FIELDS = ("cert_path", "chain_path", "fullchain_path", "key_path")


# --- paths --------------------------------------------------------------------------------------


def path_syntax_problem(value: str, *, directory: bool = False) -> str | None:
    """Why ``value`` is not a usable absolute path ('' is fine: not given), else ``None``.

    No relative paths, no ``.`` or ``..`` parts and no control characters: what is shown to
    people and checked against the allowed directories is exactly where the file goes."""
    if not value:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        return _("A path cannot contain control characters (line breaks, NUL).")
    if not value.startswith("/"):
        return _("Give an absolute path (starting with /).")
    parts = value.rstrip("/").split("/")[1:]
    if any(part in (".", "..") for part in parts):
        return _("A path cannot contain '.' or '..' parts: write it out in full.")
    if not directory and value.endswith("/"):
        return _("Name a file, not a directory.")
    return None


def deploy_roots() -> list[str]:
    """The directories local targets may write under, symbolic links resolved."""
    return [os.path.realpath(root) for root in settings.MAMORI_DEPLOY_ROOTS]


def protected_paths() -> list[str]:
    """Where Mamori keeps its own secrets: nothing is ever written or read there for a target.
    Each entry also covers the files that start with it and a dash (SQLite's -wal, -shm)."""
    paths = [str(settings.DATA_DIR)]
    for name in ("MAMORI_MASTER_KEY_FILE", "MAMORI_SECRET_KEY_FILE"):
        if os.environ.get(name):
            paths.append(os.environ[name])
    for database in settings.DATABASES.values():
        if "sqlite" in database.get("ENGINE", "") and str(database.get("NAME", "")).startswith("/"):
            paths.append(str(database["NAME"]))
    return [os.path.realpath(p) for p in paths]


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def local_path_problem(value: str, *, directory: bool = False) -> str | None:
    """Why Mamori may not write ``value`` on its own host for a target, else ``None``."""
    problem = path_syntax_problem(value, directory=directory)
    if problem or not value:
        return problem
    roots = deploy_roots()
    if not roots:
        return _(
            "Nothing may be written on the Mamori host: MAMORI_DEPLOY_ROOTS names no "
            "directory (see docs/access.md)."
        )
    real = os.path.realpath(value)
    via = (
        _("It leads to %(path)s (a symbolic link). ") % {"path": real}
        if real.rstrip("/") != value.rstrip("/")
        else ""
    )
    for protected in protected_paths():
        if _within(real, protected) or real.startswith(protected + "-"):
            return via + _("Mamori keeps its own data there: nothing is ever written there.")
    if not any(_within(real, root) for root in roots):
        return via + _(
            "Not under a directory Mamori may write to (MAMORI_DEPLOY_ROOTS: %(roots)s)."
        ) % {"roots": ", ".join(settings.MAMORI_DEPLOY_ROOTS)}
    return None


# --- commands, modes ----------------------------------------------------------------------------


def allowed_commands() -> list[str]:
    return list(settings.MAMORI_DEPLOY_COMMANDS)


def command_argv(command: str) -> list[str]:
    """The command's words, split like a shell command line (raises ValueError)."""
    return shlex.split(command)


def command_problem(command: str) -> str | None:
    """Why ``command`` may not be a target's reload command ('' is fine: none), else ``None``."""
    command = command.strip()
    if not command:
        return None
    try:
        argv = command_argv(command)
    except ValueError as exc:
        return _("This command cannot be read: %(error)s") % {"error": exc}
    allowed = allowed_commands()
    if not allowed:
        return _(
            "No reload command may be run: MAMORI_DEPLOY_COMMANDS allows none on this Mamori "
            "host (see docs/access.md)."
        )
    if all(argv != command_argv(candidate) for candidate in allowed):
        return _(
            "Not one of the reload commands allowed on this Mamori host "
            "(MAMORI_DEPLOY_COMMANDS): %(commands)s."
        ) % {"commands": "; ".join(allowed)}
    return None


def normal_mode(text: str) -> str | None:
    """A file mode as four octal digits, or ``None`` if it is not one a target may set (no
    set-user-ID, set-group-ID or sticky bits)."""
    text = (text or "").strip()
    try:
        mode = int(text, 8)
    except ValueError:
        return None
    if not 0 <= mode <= 0o777:
        return None
    return f"{mode:04o}"


# --- a valid target -----------------------------------------------------------------------------


def problems(target: DeploymentTarget) -> dict[str, list[str]]:
    """Everything wrong with ``target`` as it stands, by field; modes are normalised in place.
    Called by ``DeploymentTarget.clean()``."""
    from mamori.lifecycle.models import TargetKind

    found: dict[str, list[str]] = {}

    def add(field: str, message: str | None) -> None:
        if message:
            found.setdefault(field, []).append(message)

    local = target.kind == TargetKind.LOCAL
    for field in PATH_FIELDS:
        value = getattr(target, field) or ""
        if value != value.strip():
            value = value.strip()
            setattr(target, field, value)
        add(field, local_path_problem(value) if local else path_syntax_problem(value))
    if not (target.cert_path or target.fullchain_path):
        add("fullchain_path", _("Name the certificate file, the certificate + chain, or both."))
    paths = [getattr(target, f) for f in PATH_FIELDS if getattr(target, f)]
    if len(paths) != len(set(paths)):
        add("key_path", _("Each file needs a path of its own."))
    for field in ("cert_mode", "key_mode"):
        mode = normal_mode(getattr(target, field))
        if mode is None:
            add(field, _("Give an octal file mode from 0000 to 0777, e.g. 0600."))
        else:
            setattr(target, field, mode)
    target.reload_command = (target.reload_command or "").strip()
    add("reload_command", command_problem(target.reload_command))
    if target.kind == TargetKind.SSH:
        for field in ("ssh_host", "ssh_username", "ssh_host_key"):
            if not (getattr(target, field) or "").strip():
                add(field, _("Required for a target over SSH."))
        if target.ssh_secret_id is None:
            add("ssh_secret", _("Required for a target over SSH."))
        if (target.ssh_host_key or "").strip():
            from mamori.lifecycle.ssh import parse_host_key

            try:
                parse_host_key(target.ssh_host_key)
            except ValueError:
                add(
                    "ssh_host_key",
                    _(
                        'This is not an SSH public host key (e.g. "ssh-ed25519 AAAA...", '
                        "from ssh-keyscan or /etc/ssh/ssh_host_ed25519_key.pub)."
                    ),
                )
    managed = target.managed if target.managed_id else None
    if managed is not None:
        if target.ssh_secret_id and target.ssh_secret.client_id != managed.client_id:
            add("ssh_secret", _("Not one of this client's."))
        if target.endpoint_id and target.endpoint.client_id != managed.client_id:
            add("endpoint", _("Not one of this client's."))
    return found


def runtime_problem(target: DeploymentTarget) -> str | None:
    """Why a deployment to ``target`` may not run now: the first of :func:`problems` under the
    configuration of now (a path is named with its message), else ``None``."""
    for field, messages in problems(copy.copy(target)).items():
        path = getattr(target, field) if field in PATH_FIELDS else ""
        return f"{path}: {messages[0]}" if path else messages[0]
    return None


# --- who may do what ----------------------------------------------------------------------------


def may_manage_local(user: User | None) -> bool:
    """Only provider administrators set up, change or remove targets on the Mamori host."""
    return bool(
        user is not None
        and user.is_active
        and (user.role == Role.PROVIDER_ADMIN or user.is_superuser)
    )


def permission_problem(
    user: User | None,
    client: Client,
    targets: Iterable[DeploymentTarget | None],
) -> str | None:
    """Why ``user`` may not create, change or remove a target (``targets``: the target before
    and after the change, ``None`` for a side that does not exist), else ``None``. ``user`` None
    is Mamori itself."""
    from mamori.lifecycle.models import DeploymentTarget, TargetKind

    if user is None:
        return None
    if not may_change(user, client, DeploymentTarget.change_rule):
        return _("Only the provider's staff set up deployment targets.")
    if any(t is not None and t.kind == TargetKind.LOCAL for t in targets) and not (
        may_manage_local(user)
    ):
        return _(
            "Only the provider's administrators set up or change targets on the Mamori host "
            "(local)."
        )
    return None


def audit_values(target: DeploymentTarget) -> dict:
    """The target's settings as the audit trail records them (ids for related records)."""
    from mamori.lifecycle.models import DeploymentTarget

    names = [f.name for f in DeploymentTarget._meta.concrete_fields]
    values = {}
    for name in names:
        if name in ("id", "managed"):
            continue
        field = DeploymentTarget._meta.get_field(name)
        values[name] = getattr(target, field.attname)
    return values


def save_target(
    target: DeploymentTarget,
    *,
    before: DeploymentTarget | None,
    actor: User | None,
    request=None,
) -> DeploymentTarget:
    """Validate, check who acts, save and audit a target, in one transaction: the one write of
    pages and API. Raises ``PermissionDenied`` (with the reason) or ``ValidationError``."""
    from django.core.exceptions import PermissionDenied
    from django.db import transaction

    from mamori.core import audit

    client = target.managed.client
    problem = permission_problem(actor, client, [before, target])
    if problem:
        raise PermissionDenied(problem)
    target.full_clean()
    with transaction.atomic():
        target.save()
        audit.record(
            "deployment_target.create" if before is None else "deployment_target.update",
            target,
            actor=actor,
            request=request,
            changes=audit_values(target),
            client_id=client.pk,
        )
    return target


def delete_target(target: DeploymentTarget, *, actor: User | None, request=None) -> None:
    """Remove a target (its deployments go with it), audited. Raises ``PermissionDenied``."""
    from django.core.exceptions import PermissionDenied
    from django.db import transaction

    from mamori.core import audit

    client = target.managed.client
    problem = permission_problem(actor, client, [target, None])
    if problem:
        raise PermissionDenied(problem)
    with transaction.atomic():
        audit.record(
            "deployment_target.delete",
            target,
            actor=actor,
            request=request,
            changes=audit_values(target),
            client_id=client.pk,
        )
        target.delete()


__all__ = [
    "command_problem",
    "delete_target",
    "local_path_problem",
    "path_syntax_problem",
    "permission_problem",
    "problems",
    "runtime_problem",
    "save_target",
]
