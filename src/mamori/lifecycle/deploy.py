"""Deployment: installing a certificate where it is served, and proving it is served (CERT-09).

Every deployment is a :class:`Deployment` row recorded before anything is touched; its state says
how far it got, so a worker that dies mid-way leaves a row the next pass resumes (exactly once):

``pending`` → ``installing`` (previous files kept, new files written atomically, reload command)
→ ``verifying`` (handshake with the endpoint until it serves the new certificate) → ``succeeded``.

If a step fails or the endpoint does not serve the new certificate, the previous files are
restored, the server is reloaded again and the deployment is ``rolled_back`` (``failed`` if even
the restore failed). The failure is recorded through :mod:`mamori.lifecycle.failures` (operators
are alerted once per failure) and the deployment is retried on a back-off by :func:`drive_due`.

The previous version of each file is copied to ``<path>.mamori-<deployment id>.bak`` and the copy
is recorded in ``Deployment.backup`` *before* the new file is written: a resumed run sees the
backup on record and never overwrites it with the new file. Backups are kept after success (the
previous files are kept, CERT-09).

The private key is read from the vault only to be written to the target; it never appears in the
deployment's log, its error or an exception message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from mamori.certificates import services as watch
from mamori.certificates.models import Certificate
from mamori.core import audit
from mamori.lifecycle import failures, targets
from mamori.lifecycle.models import (
    OPEN_DEPLOYMENT_STATES,
    Deployment,
    DeploymentState,
    DeploymentTarget,
    FailureKind,
    ManagedCertificate,
    Order,
    OrderState,
    TargetKind,
)

log = logging.getLogger(__name__)

# While a worker runs a deployment nobody else does; a crashed worker's lease runs out and the
# deployment is resumed by the next pass.
LEASE = timedelta(minutes=5)
# Reload commands and file operations that take longer than this count as failed.
COMMAND_TIMEOUT = 120
# Pauses before each handshake that looks for the new certificate: reloads are asynchronous.
VERIFY_DELAYS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5)
VERIFY_TIMEOUT = 10.0
FILE_KINDS = ("cert", "chain", "fullchain", "key")
RETRYABLE_STATES = [DeploymentState.ROLLED_BACK, DeploymentState.FAILED]


class DeploymentError(Exception):
    """A step of a deployment failed; the message is safe to show (no secrets)."""


def failure_subject(target: DeploymentTarget) -> str:
    return f"target:{target.pk}"


# --- queueing ---------------------------------------------------------------------------------


def queue_deployments(
    managed: ManagedCertificate,
    certificate: Certificate,
    *,
    order: Order | None = None,
    now: datetime | None = None,
    actor=None,
) -> list[Deployment]:
    """Record one pending Deployment per enabled target of ``managed`` for ``certificate``.

    A target that already has an open or succeeded deployment of this certificate gets none
    (exactly once). An open deployment of an older certificate that has not started yet is
    superseded: only the newest certificate is installed."""
    now = now or timezone.now()
    created = []
    for target in managed.targets.filter(enabled=True).order_by("pk"):
        done = Deployment.objects.filter(
            target=target,
            certificate=certificate,
            state__in=[*OPEN_DEPLOYMENT_STATES, DeploymentState.SUCCEEDED],
        )
        if done.exists():
            continue
        Deployment.objects.filter(target=target, state=DeploymentState.PENDING).exclude(
            certificate=certificate
        ).update(
            state=DeploymentState.FAILED,
            error="Superseded by a newer certificate before it started.",
            finished_at=now,
        )
        try:
            with transaction.atomic():
                deployment = Deployment.objects.create(
                    target=target,
                    certificate=certificate,
                    order=order,
                    created_by=actor,
                    created_at=now,
                    next_attempt_at=now,
                    log=[_entry(now, "queued", f"certificate {certificate.fingerprint_sha256}")],
                )
                audit.record(
                    "deployment.create",
                    deployment,
                    actor=actor,
                    changes={"target": target.pk, "certificate": certificate.pk, "queued": "new"},
                    client_id=managed.client_id,
                )
        except IntegrityError:
            # Another deployment to this target is running; drive_due queues this one after it.
            log.info("target %s is busy; certificate %s waits", target.pk, certificate.pk)
            continue
        created.append(deployment)
    return created


def queue_missing(now: datetime | None = None) -> list[Deployment]:
    """Queue deployments of current certificates to enabled targets that never got them (a new
    target, or a certificate that arrived while the target was busy)."""
    now = now or timezone.now()
    created = []
    targets = DeploymentTarget.objects.filter(
        enabled=True, managed__certificate__isnull=False
    ).select_related("managed")
    for target in targets:
        managed = target.managed
        if Deployment.objects.filter(target=target, certificate_id=managed.certificate_id).exists():
            continue
        if Deployment.objects.filter(target=target, state__in=OPEN_DEPLOYMENT_STATES).exists():
            continue
        created += [
            d
            for d in queue_deployments(managed, managed.certificate, now=now)
            if d.target_id == target.pk
        ]
    return created


# --- what is installed ------------------------------------------------------------------------


@dataclass
class Material:
    """What a deployment writes: PEM texts and the key (bytes, from the vault)."""

    cert_pem: str
    chain_pem: str
    key_pem: bytes

    def content(self, kind: str) -> bytes:
        cert = self.cert_pem if self.cert_pem.endswith("\n") else self.cert_pem + "\n"
        if kind == "cert":
            return cert.encode()
        if kind == "chain":
            return self.chain_pem.encode()
        if kind == "fullchain":
            return (cert + self.chain_pem).encode()
        return self.key_pem


def _material(deployment: Deployment) -> Material:
    """The certificate, its chain and its key: from the order that issued it, else from the
    managed certificate (whose current certificate it must then be)."""
    from mamori.vault import services as vault

    cert = deployment.certificate
    managed = deployment.target.managed
    order = deployment.order
    if order is None or order.certificate_id != cert.pk:
        order = (
            Order.objects.filter(managed=managed, certificate=cert, state=OrderState.ISSUED)
            .order_by("-pk")
            .first()
        )
    if order is not None and order.key_secret_id:
        key_secret, chain = order.key_secret, order.chain_pem
    elif managed.certificate_id == cert.pk and managed.key_secret_id:
        key_secret, chain = managed.key_secret, managed.chain_pem
    else:
        raise DeploymentError("the private key of this certificate is not in the vault")
    try:
        key_pem = vault.decrypt_for_export(key_secret)
    except Exception as exc:  # destroyed, or no master key: say which without the value
        raise DeploymentError(
            f"the private key cannot be read from the vault ({type(exc).__name__})"
        ) from None
    return Material(cert_pem=cert.pem, chain_pem=chain, key_pem=key_pem)


def planned_files(target: DeploymentTarget) -> list[tuple[str, str, int]]:
    """``(kind, path, mode)`` for every file the target names."""
    files = []
    for kind in FILE_KINDS:
        path = getattr(target, f"{kind}_path").strip()
        if not path:
            continue
        mode = target.key_mode if kind == "key" else target.cert_mode
        files.append((kind, path, parse_mode(mode, default=0o600 if kind == "key" else 0o644)))
    return files


def parse_mode(text: str, *, default: int) -> int:
    text = (text or "").strip()
    if not text:
        return default
    try:
        mode = int(text, 8)
    except ValueError:
        raise DeploymentError(f"{text!r} is not an octal file mode (e.g. 0600)") from None
    if not 0 <= mode <= 0o7777:
        raise DeploymentError(f"{text!r} is not a file mode")
    return mode


def backup_path(path: str, deployment: Deployment) -> str:
    return f"{path}.mamori-{deployment.pk}.bak"


# --- file access: local or over SSH --------------------------------------------------------------


class LocalFiles:
    """Files and commands on the Mamori host. Every path is checked, symbolic links resolved,
    against the directories local targets may use (:func:`targets.local_path_problem`) right
    before it is read, written or removed."""

    label = "local"

    @staticmethod
    def _check(path: str) -> None:
        problem = targets.local_path_problem(path)
        if problem:
            raise DeploymentError(f"{path}: {problem}")

    def read_file(self, path: str) -> bytes | None:
        self._check(path)
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DeploymentError(f"cannot read {path}: {exc.strerror}") from None

    def stat(self, path: str) -> tuple[int, int, int] | None:
        """(mode, uid, gid), or None if missing."""
        self._check(path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DeploymentError(f"cannot inspect {path}: {exc.strerror}") from None
        return st.st_mode & 0o7777, st.st_uid, st.st_gid

    def write_file(
        self,
        path: str,
        data: bytes,
        mode: int = 0o644,
        owner: str | None = None,
        group: str | None = None,
    ) -> None:
        self._check(path)
        directory, name = os.path.split(path)
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{name}.mamori-", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise DeploymentError(f"cannot write in {directory}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fchmod(f.fileno(), mode)
                if owner or group:
                    os.fchown(f.fileno(), _uid(owner), _gid(group))
                os.fsync(f.fileno())
            os.replace(temp, path)
        except (OSError, LookupError) as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise DeploymentError(f"cannot write {path}: {reason}") from None

    def remove(self, path: str) -> None:
        self._check(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def run(self, argv: list[str], timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """Run ``argv`` (no shell) with nothing on its standard input."""
        if not argv:
            return 0, ""
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return -1, f"(timed out after {timeout:g} s)"
        except OSError as exc:
            return -1, f"cannot run {argv[0]}: {exc.strerror}"
        return done.returncode, done.stdout.decode(errors="replace")


def _uid(owner: str | None) -> int:
    if not owner:
        return -1
    if owner.isdigit():
        return int(owner)
    import pwd

    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise LookupError(f"no user {owner!r}") from None


def _gid(group: str | None) -> int:
    if not group:
        return -1
    if group.isdigit():
        return int(group)
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise LookupError(f"no group {group!r}") from None


class RemoteFiles:
    """The same operations over SSH (:mod:`mamori.lifecycle.ssh`)."""

    def __init__(self, remote):
        self.remote = remote
        self.label = remote.label

    def read_file(self, path: str) -> bytes | None:
        return self.remote.read_file(path)

    def stat(self, path: str) -> tuple[int, int, int] | None:
        attrs = self.remote.stat(path)
        if attrs is None:
            return None
        return (attrs.permissions or 0) & 0o7777, attrs.uid, attrs.gid

    def write_file(self, path, data, mode=0o644, owner=None, group=None) -> None:
        self.remote.write_file(path, data, mode=mode, owner=owner, group=group)

    def remove(self, path: str) -> None:
        self.remote.remove(path)

    def run(self, argv: list[str], timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        """SSH always hands a command line to the remote login shell: quoted word by word, the
        shell runs exactly ``argv`` (no expansion, no second command)."""
        return self.remote.run(shlex.join(argv), timeout=timeout)


@contextlib.contextmanager
def open_files(target: DeploymentTarget) -> Iterator[Any]:
    """File access for ``target``; raises DeploymentError if it cannot be had."""
    if target.kind != TargetKind.SSH:
        yield LocalFiles()
        return
    from mamori.lifecycle import ssh

    if not target.ssh_host or not target.ssh_username:
        raise DeploymentError("the SSH host and user are not configured")
    if not target.ssh_host_key.strip():
        raise DeploymentError("the server's SSH host key is not configured")
    try:
        with ssh.sync_session(
            target.ssh_host,
            target.ssh_port,
            target.ssh_username,
            target.ssh_secret,
            target.ssh_host_key,
        ) as remote:
            yield RemoteFiles(remote)
    except ssh.SSHError as exc:
        raise DeploymentError(str(exc)) from None


# --- running a deployment ---------------------------------------------------------------------


def _entry(now: datetime, step: str, detail: str = "") -> dict:
    return {"at": now.isoformat(), "step": step, "detail": detail[:2000]}


class _Run:
    """One run of one deployment (holds the row and appends to its log)."""

    def __init__(self, deployment: Deployment):
        self.d = deployment
        self.target = deployment.target

    def step(self, step: str, detail: str = "", **fields: Any) -> None:
        self.d.log = [*self.d.log, _entry(timezone.now(), step, detail)]
        for name, value in fields.items():
            setattr(self.d, name, value)
        Deployment.objects.filter(pk=self.d.pk).update(log=self.d.log, **fields)

    # -- installing ------------------------------------------------------------------------------

    def install(self, files, material: Material) -> None:
        target = self.target
        planned = planned_files(target)
        backup = dict(self.d.backup)
        new_backups = False
        for _kind, path, _mode in planned:
            if path in backup:
                continue  # kept by an earlier run of this deployment: never overwritten
            previous = files.stat(path)
            if previous is None:
                backup[path] = None  # restoring means removing the new file
            else:
                mode, uid, gid = previous
                data = files.read_file(path)
                if data is None:
                    backup[path] = None
                else:
                    kept = backup_path(path, self.d)
                    files.write_file(kept, data, mode=mode, owner=str(uid), group=str(gid))
                    backup[path] = kept
            new_backups = True
        if new_backups:
            self.step(
                "backup",
                ", ".join(f"{p} → {b}" if b else f"{p} (new)" for p, b in backup.items()),
                backup=backup,
            )
        for kind, path, mode in planned:
            files.write_file(
                path,
                material.content(kind),
                mode=mode,
                owner=target.owner or None,
                group=target.group or None,
            )
            self.step("write", f"{path} ({kind}, mode {mode:04o})")
        self.reload(files)

    def reload(self, files) -> None:
        command = self.target.reload_command.strip()
        if not command:
            self.step("reload", "no reload command")
            return
        problem = targets.command_problem(command)
        if problem:  # taken out of MAMORI_DEPLOY_COMMANDS since the target was saved
            raise DeploymentError(problem)
        status, output = files.run(targets.command_argv(command), timeout=COMMAND_TIMEOUT)
        detail = f"{command}: exit status {status}" + (
            f"\n{output.strip()[-1000:]}" if output.strip() else ""
        )
        self.step("reload", detail)
        if status != 0:
            raise DeploymentError(f"the reload command failed ({detail})")

    # -- verifying -------------------------------------------------------------------------------

    def verify(self) -> None:
        endpoint = self.target.endpoint
        if endpoint is None:
            self.step("verify", "no endpoint to verify: not proven to be served")
            return
        from mamori.certificates.services import target_for, trust_store_for
        from mamori.probe import probe_tls

        expected = self.d.certificate.fingerprint_sha256
        order = self.d.order
        chain_pem = order.chain_pem if order is not None else self.target.managed.chain_pem
        chain = self.d.certificate.pem + "\n" + chain_pem
        trust = trust_store_for(endpoint)
        with contextlib.suppress(Exception):
            trust = trust.with_extra(chain.encode())
        probe_target = target_for(endpoint)
        served = "nothing"
        for delay in VERIFY_DELAYS:
            time.sleep(delay)
            result = asyncio.run(
                probe_tls(
                    probe_target,
                    trust=trust,
                    timeout=VERIFY_TIMEOUT,
                    check_legacy_protocols=False,
                    fetch_aia=False,
                )
            )
            if result.certificate is not None:
                if result.certificate.fingerprint_sha256 == expected:
                    self.step("verify", f"{endpoint} serves the new certificate")
                    return
                served = f"certificate {result.certificate.fingerprint_sha256[:16]}…"
            else:
                served = f"no certificate ({result.error or 'connection failed'})"
        raise DeploymentError(
            f"{endpoint} does not serve the new certificate after the reload (it serves {served})"
        )

    # -- rolling back ----------------------------------------------------------------------------

    def rollback(self, files) -> bool:
        """Put the previous files back and reload; True if all of it worked. Nothing was
        written when no previous file was recorded: then there is nothing to restore or reload."""
        if not self.d.backup:
            return True
        ok = True
        for path, kept in self.d.backup.items():
            try:
                if kept is None:
                    files.remove(path)
                    self.step("restore", f"{path} removed (it did not exist before)")
                    continue
                previous = files.stat(kept)
                data = files.read_file(kept)
                if previous is None or data is None:
                    raise DeploymentError(f"the kept copy {kept} is missing")
                mode, uid, gid = previous
                files.write_file(path, data, mode=mode, owner=str(uid), group=str(gid))
                self.step("restore", f"{path} ← {kept}")
            except Exception as exc:
                ok = False
                self.step("restore failed", f"{path}: {_safe(exc)}")
        try:
            self.reload(files)
        except Exception as exc:
            ok = False
            self.step("reload failed", _safe(exc))
        return ok


def _safe(exc: BaseException) -> str:
    """A message for an exception that is safe to store (our own errors carry no secrets)."""
    from mamori.lifecycle.ssh import SSHError

    if isinstance(exc, DeploymentError | SSHError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    # Unexpected: the traceback goes to the log (no values of variables), the row gets the type.
    log.error("deployment step failed unexpectedly", exc_info=exc)
    return f"internal error ({type(exc).__name__}); see the server log"


def _claim(deployment_id: int, now: datetime) -> tuple[Deployment | None, str]:
    """Lease the deployment; returns it with the state it resumes from, or None if it is not
    runnable (finished, or leased by a live worker)."""
    lease = now + LEASE
    qs = Deployment.objects.filter(pk=deployment_id)
    resumable = Q(state__in=[DeploymentState.INSTALLING, DeploymentState.VERIFYING]) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    row = qs.filter(resumable).first()
    if row is not None:
        if qs.filter(resumable).update(lease_until=lease, attempts=F("attempts") + 1):
            return Deployment.objects.get(pk=deployment_id), row.state
        return None, ""
    try:
        with transaction.atomic():
            claimed = qs.filter(state__in=[DeploymentState.PENDING, *RETRYABLE_STATES]).update(
                state=DeploymentState.INSTALLING,
                lease_until=lease,
                started_at=now,
                finished_at=None,
                attempts=F("attempts") + 1,
            )
            if claimed:
                # The watch must know the certificate about to appear is Mamori's (CERT-14).
                endpoint_id, certificate_id = qs.values_list(
                    "target__endpoint_id", "certificate_id"
                ).get()
                if endpoint_id:
                    watch.expect(endpoint_id, certificate_id, now=now)
    except IntegrityError:  # another deployment to the target is open
        return None, ""
    if not claimed:
        return None, ""
    return Deployment.objects.get(pk=deployment_id), ""


def run_deployment(deployment_id: int, *, now: datetime | None = None) -> Deployment:
    """Run (or resume) one deployment to the end; returns it in its final state. A deployment
    leased by another live worker, or already finished, is returned unchanged."""
    now = now or timezone.now()
    deployment, resumed_from = _claim(deployment_id, now)
    if deployment is None:
        return Deployment.objects.get(pk=deployment_id)
    deployment = Deployment.objects.select_related(
        "target__managed__client", "target__endpoint", "certificate", "order"
    ).get(pk=deployment.pk)
    run = _Run(deployment)
    target = deployment.target
    if resumed_from:
        run.step("resume", f"resumed after an interrupted run (was {resumed_from})")
    else:
        run.step("start", f"attempt {deployment.attempts} on {target.get_kind_display()}")
    problem = targets.runtime_problem(target)
    if problem:  # nothing is opened, written or run for a target that breaks the rules
        return _fail(run, problem, None, refused=True)
    try:
        with open_files(target) as files:
            try:
                if resumed_from != DeploymentState.VERIFYING:
                    material = _material(deployment)
                    run.install(files, material)
                    del material
                    run.step("installed", "", state=DeploymentState.VERIFYING)
                run.verify()
            except Exception as exc:
                return _fail(run, _safe(exc), files)
    except Exception as exc:  # could not even connect: nothing was written
        return _fail(run, _safe(exc), None)
    return _succeed(run)


def _audit_outcome(run: _Run, state: str, error: str = "") -> None:
    """Every deployment's outcome is on the audit trail, whoever or whatever started it: what
    was written where, and which command ran."""
    d, target = run.d, run.target
    changes = {
        "target": target.pk,
        "kind": target.kind,
        "host": target.ssh_host if target.kind == TargetKind.SSH else "local",
        "certificate": d.certificate.fingerprint_sha256,
        "files": [path for _kind, path, _mode in _planned_or_none(target)],
        "reload_command": target.reload_command,
        "attempt": d.attempts,
        "state": state,
    }
    if error:
        changes["error"] = error[:500]
    audit.record(
        f"deployment.{state}",
        d,
        changes=changes,
        client_id=target.managed.client_id,
    )


def _planned_or_none(target: DeploymentTarget) -> list[tuple[str, str, int]]:
    try:
        return planned_files(target)
    except DeploymentError:
        return []


def _succeed(run: _Run) -> Deployment:
    d, target = run.d, run.target
    finished = timezone.now()
    with transaction.atomic():
        run.step(
            "done",
            "",
            state=DeploymentState.SUCCEEDED,
            error="",
            finished_at=finished,
            lease_until=None,
        )
        _audit_outcome(run, DeploymentState.SUCCEEDED)
    failures.resolve_failures(failure_subject(target), FailureKind.DEPLOYMENT, now=finished)
    if target.endpoint_id:
        try:
            watch.check_endpoint(target.endpoint, now=finished)
        except Exception:  # the watch records it on its next pass
            log.exception("recording the check of endpoint %s failed", target.endpoint_id)
    d.refresh_from_db()
    return d


#: The states of a deployment whose certificate the watch takes for Mamori's own.
MARKED_STATES = [DeploymentState.INSTALLING, DeploymentState.VERIFYING, DeploymentState.SUCCEEDED]


def _unmark(d: Deployment) -> None:
    """The deployment failed: unless another one installed the same certificate behind the
    same endpoint, its appearance there is no longer Mamori's doing."""
    endpoint_id = d.target.endpoint_id
    if endpoint_id is None:
        return
    others = Deployment.objects.filter(
        target__endpoint_id=endpoint_id, certificate_id=d.certificate_id, state__in=MARKED_STATES
    )
    if not others.exists():
        watch.unexpect(endpoint_id, d.certificate_id)


def _fail(run: _Run, message: str, files, *, refused: bool = False) -> Deployment:
    d, target = run.d, run.target
    run.step("failed", message)
    if refused:  # the target breaks the rules: nothing was opened, written or run
        state = DeploymentState.FAILED
    elif files is None:
        state = DeploymentState.FAILED if d.backup else DeploymentState.ROLLED_BACK
        if d.backup:
            message += " (the previous files could not be restored: no connection)"
    else:
        state = DeploymentState.ROLLED_BACK if run.rollback(files) else DeploymentState.FAILED
        if state == DeploymentState.FAILED:
            message += " (restoring the previous files failed too: see the steps)"
    now = timezone.now()
    retry_at = now + failures.backoff(d.attempts)
    with transaction.atomic():
        run.step(
            "rolled back" if state == DeploymentState.ROLLED_BACK else "gave up",
            "",
            state=state,
            error=message,
            finished_at=now,
            lease_until=None,
            next_attempt_at=retry_at,
        )
        _audit_outcome(run, state, message)
        _unmark(d)
        managed = target.managed
        failures.open_failure(
            managed.client,
            FailureKind.DEPLOYMENT,
            failure_subject(target),
            f"{target}: {message}",
            managed=managed,
            certificate=d.certificate,
            next_retry_at=retry_at,
            now=now,
        )
    d.refresh_from_db()
    return d


# --- the loop -----------------------------------------------------------------------------------


def _retry_wanted(d: Deployment) -> bool:
    """A failed deployment is retried while its certificate is still the one to install and
    nothing newer was queued for its target."""
    if d.certificate_id != d.target.managed.certificate_id or not d.target.enabled:
        return False
    return not Deployment.objects.filter(target_id=d.target_id, pk__gt=d.pk).exists()


def due(now: datetime) -> list[Deployment]:
    qs = (
        Deployment.objects.filter(
            Q(state=DeploymentState.PENDING, next_attempt_at__lte=now)
            | Q(
                state__in=[DeploymentState.INSTALLING, DeploymentState.VERIFYING],
                lease_until__lt=now,
            )
            | Q(state__in=RETRYABLE_STATES, next_attempt_at__lte=now)
        )
        .select_related("target__managed")
        .order_by("next_attempt_at", "pk")
    )
    return [d for d in qs if d.state not in RETRYABLE_STATES or _retry_wanted(d)]


def drive_due(now: datetime | None = None) -> int:
    """Run pending deployments, resume interrupted ones and retry failed ones that are due;
    returns how many were run."""
    now = now or timezone.now()
    queue_missing(now)
    count = 0
    for deployment in due(now):
        before = deployment.state
        after = run_deployment(deployment.pk, now=now)
        count += after.state != before or after.attempts != deployment.attempts
    return count


def deploy_now(
    managed: ManagedCertificate,
    *,
    target: DeploymentTarget | None = None,
    actor=None,
    request=None,
) -> list[Deployment]:
    """Install the managed certificate's current certificate now (on ``target``, or on all its
    enabled targets), including on targets where it already succeeded; audited."""
    if managed.certificate_id is None:
        raise DeploymentError("this certificate has not been issued yet: nothing to deploy")
    targets = [target] if target is not None else list(managed.targets.filter(enabled=True))
    now = timezone.now()
    deployments = []
    for t in targets:
        if t.managed_id != managed.pk:
            raise DeploymentError(f"{t} is not a target of {managed}")
        existing = Deployment.objects.filter(target=t, state__in=OPEN_DEPLOYMENT_STATES).first()
        if existing is not None:  # already queued or under way: run (or resume) that one
            audit.record(
                "deployment.run",
                existing,
                actor=actor,
                request=request,
                changes={"target": t.pk, "state": existing.state},
                client_id=managed.client_id,
            )
            deployments.append(existing)
            continue
        try:
            with transaction.atomic():
                d = Deployment.objects.create(
                    target=t,
                    certificate=managed.certificate,
                    created_by=actor,
                    created_at=now,
                    next_attempt_at=now,
                    log=[_entry(now, "queued", "deploy now")],
                )
                audit.record(
                    "deployment.create",
                    d,
                    actor=actor,
                    request=request,
                    changes={"target": t.pk, "certificate": managed.certificate_id},
                    client_id=managed.client_id,
                )
        except IntegrityError:
            d = Deployment.objects.filter(target=t, state__in=OPEN_DEPLOYMENT_STATES).first()
            if d is None:
                raise
        deployments.append(d)
    return [run_deployment(d.pk) for d in deployments]


__all__ = [
    "DeploymentError",
    "deploy_now",
    "drive_due",
    "queue_deployments",
    "run_deployment",
]
