"""Running restic: on the Mamori host (a subprocess) or on the managed server (over SSH, with
:mod:`mamori.lifecycle.ssh`). No Django models in here, only what a run needs.

Secrets never reach a command line, a log or an error message: on the Mamori host the
repository password is passed in the environment (``RESTIC_PASSWORD``); on a server it is
written to a file in a private temporary directory (``mktemp -d``, mode 0700, the file 0600)
named by ``RESTIC_PASSWORD_FILE`` and removed when the run ends. An SFTP repository's SSH key
and host key go to files in the same directory, and restic's ``sftp.command`` names them, so
the login uses the pinned host key only (``StrictHostKeyChecking yes``). An S3 repository's
access key id and secret reach restic in its environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``): on the Mamori host directly, on a server from a file in the private
directory that the shell reads (``. file``) before starting restic, never on a command line.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mamori.backups.rules import s3_parts, sftp_parts

#: Words of an S3 server refusing the credentials (restic then also asks "Is there a repository").
REFUSED = (
    "signature we calculated does not match",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "Access Denied",
    "AccessDenied",
    "access key Id you provided does not exist",
)

#: Error output kept on a run: the tail, where restic says what went wrong.
ERROR_LIMIT = 4000


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass
class Repository:
    """Where the snapshots go, and what opens it (values read from the vault)."""

    url: str
    password: bytes
    ssh_key: bytes | None = None
    host_key: str = ""
    s3_access_key_id: bytes | None = None
    s3_secret_access_key: bytes | None = None

    def __repr__(self) -> str:
        return f"Repository({self.url!r}, <secrets hidden>)"


class ResticError(Exception):
    """restic failed; ``result`` has its exit status and output."""

    def __init__(self, step: str, result: Result, secrets: list[bytes]):
        self.step = step
        self.result = result
        self.output = redact(result.stderr.strip() or result.stdout.strip(), secrets)
        super().__init__(f"restic {step} failed (exit status {result.status})")


def redact(text: str, secrets: list[bytes]) -> str:
    """``text`` trimmed to its tail, with any secret value replaced (belt and braces: restic
    does not print them, but a dump command or a shell might)."""
    for secret in secrets:
        value = secret.decode(errors="replace").strip()
        if len(value) >= 4:
            text = text.replace(value, "[hidden]")
    if len(text) > ERROR_LIMIT:
        text = "…" + text[-ERROR_LIMIT:]
    return text


def _die_with_parent() -> None:  # pragma: no cover (runs in the child)
    """restic started on the Mamori host dies with the process that started it (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Executor:
    """Where restic runs. ``private`` is a directory only this run can read."""

    label: str
    private: str

    def write_private(self, name: str, data: bytes) -> str:
        raise NotImplementedError

    def run(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        timeout: float,
        feed_from: str | None = None,
        secret_env: dict[str, str] | None = None,
    ) -> Result:
        """Run ``argv`` with ``env``; ``secret_env`` is added to restic's environment without
        ever being written on a command line."""
        raise NotImplementedError

    def sha256(self, paths: list[str]) -> dict[str, str | None]:
        raise NotImplementedError

    def make_scratch(self) -> str:
        raise NotImplementedError

    def remove_tree(self, path: str) -> None:
        raise NotImplementedError


class LocalExecutor(Executor):
    """The Mamori host."""

    def __init__(self) -> None:
        self.label = "Mamori host"
        self.private = tempfile.mkdtemp(prefix="mamori-restic-")
        self.binary = shutil.which("restic") or "restic"

    def write_private(self, name: str, data: bytes) -> str:
        path = os.path.join(self.private, name)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
        return path

    def run(self, argv, *, env, timeout, feed_from=None, secret_env=None) -> Result:
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.private}
        full_env.update(env)
        full_env.update(secret_env or {})
        argv = [self.binary if argv[0] == "restic" else argv[0], *argv[1:]]
        feeder = None
        if feed_from is not None:
            feeder = subprocess.Popen(
                ["/bin/sh", "-c", feed_from],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={"PATH": full_env["PATH"], "HOME": self.private},
                preexec_fn=_die_with_parent,
            )
        process = subprocess.Popen(
            argv,
            stdin=feeder.stdout if feeder else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            preexec_fn=_die_with_parent,
        )
        if feeder is not None:
            feeder.stdout.close()  # restic holds it now
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            if feeder is not None:
                feeder.kill()
                feeder.wait()
            return Result(
                -1,
                stdout.decode(errors="replace"),
                stderr.decode(errors="replace") + f"\n(timed out after {timeout:g} s)",
            )
        status = process.returncode
        stderr_text = stderr.decode(errors="replace")
        if feeder is not None:
            feeder_err = feeder.stderr.read().decode(errors="replace")
            feeder.stderr.close()
            feeder_status = feeder.wait()
            if feeder_status != 0:
                status = 100 + min(feeder_status, 100)
                stderr_text = (
                    f"{feeder_err.strip()}\nthe dump command failed (exit status {feeder_status})"
                ).strip()
        return Result(status, stdout.decode(errors="replace"), stderr_text)

    def sha256(self, paths):
        found: dict[str, str | None] = {}
        for path in paths:
            try:
                digest = hashlib.sha256()
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                found[path] = digest.hexdigest()
            except OSError:
                found[path] = None
        return found

    def make_scratch(self) -> str:
        return tempfile.mkdtemp(prefix="mamori-drill-")

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)


class RemoteExecutor(Executor):
    """A managed server, through an open :class:`mamori.lifecycle.ssh.SyncSession`."""

    def __init__(self, remote) -> None:
        self.remote = remote
        self.label = remote.label
        status, out, err = remote.execute("umask 077 && mktemp -d -t mamori-restic.XXXXXXXX")
        if status != 0:
            raise OSError(f"cannot make a private directory on {self.label}: {err.strip()[:300]}")
        self.private = out.strip()
        self.created = {self.private}

    def write_private(self, name: str, data: bytes) -> str:
        path = f"{self.private}/{name}"
        self.remote.write_file(path, data, mode=0o600)
        return path

    def run(self, argv, *, env, timeout, feed_from=None, secret_env=None) -> Result:
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        restic = f"{assignments} {shlex.join(argv)}"
        if secret_env:
            lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in secret_env.items())
            sourced = self.write_private("environment", lines.encode())
            restic = f"( . {shlex.quote(sourced)} && {restic} )"
        command = f"cd / && {restic} < /dev/null"
        if feed_from is not None:
            status_file = f"{self.private}/dump.status"
            command = (
                f"cd / && {{ /bin/sh -c {shlex.quote(feed_from)} < /dev/null; "
                f"echo $? > {status_file}; }} | {restic}; status=$?; dump=$(cat {status_file}); "
                f'if [ "$dump" != 0 ]; then '
                f'echo "the dump command failed (exit status $dump)" >&2; '
                "exit $((100 + dump)); fi; "
                "exit $status"
            )
        status, out, err = self.remote.execute(command, timeout=timeout)
        return Result(status, out, err)

    def sha256(self, paths):
        found: dict[str, str | None] = dict.fromkeys(paths)
        if not paths:
            return found
        _, out, _ = self.remote.execute("sha256sum -- " + shlex.join(paths), timeout=3600)
        for line in out.splitlines():
            digest, _, name = line.partition("  ")
            if name in found:
                found[name] = digest
        return found

    def make_scratch(self) -> str:
        status, out, err = self.remote.execute("umask 077 && mktemp -d -t mamori-drill.XXXXXXXX")
        if status != 0:
            raise OSError(f"cannot make a scratch directory on {self.label}: {err.strip()[:300]}")
        self.created.add(out.strip())
        return out.strip()

    def remove_tree(self, path: str) -> None:
        if path in self.created:  # only what this run made with mktemp
            self.remote.execute(f"rm -rf -- {shlex.quote(path)}")
            self.created.discard(path)

    def close(self) -> None:
        self.remove_tree(self.private)


@dataclass
class Restic:
    """restic against one repository, through one executor."""

    executor: Executor
    repository: Repository
    timeout: float = 6 * 3600
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)
    base: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        ex, repo = self.executor, self.repository
        if isinstance(ex, LocalExecutor):
            self.env["RESTIC_PASSWORD"] = repo.password.decode(errors="strict").strip("\n")
        else:
            self.env["RESTIC_PASSWORD_FILE"] = ex.write_private("password", repo.password)
        self.env["RESTIC_CACHE_DIR"] = f"{ex.private}/cache"
        self.base = ["restic", "--repo", repo.url, "--no-cache"]
        if s3_parts(repo.url) is not None:
            self.secret_env = {
                "AWS_ACCESS_KEY_ID": (repo.s3_access_key_id or b"").decode().strip(),
                "AWS_SECRET_ACCESS_KEY": (repo.s3_secret_access_key or b"").decode().strip(),
            }
        sftp = sftp_parts(repo.url)
        if sftp is not None:
            key = ex.write_private("id_repository", repo.ssh_key or b"")
            host = sftp["host"] if sftp["port"] == 22 else f"[{sftp['host']}]:{sftp['port']}"
            from mamori.lifecycle.ssh import parse_host_key

            public = parse_host_key(repo.host_key).export_public_key().decode().strip()
            known = ex.write_private("known_hosts", f"{host} {public}\n".encode())
            ssh = [
                "ssh",
                "-p",
                str(sftp["port"]),
                "-i",
                key,
                "-F",
                "/dev/null",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                f"UserKnownHostsFile={known}",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "ConnectTimeout=20",
                f"{sftp['user']}@{sftp['host']}",
                "-s",
                "sftp",
            ]
            self.base += ["--option", "sftp.command=" + shlex.join(ssh)]

    @property
    def secrets(self) -> list[bytes]:
        repo = self.repository
        return [
            s
            for s in (
                repo.password,
                repo.ssh_key,
                repo.s3_access_key_id,
                repo.s3_secret_access_key,
            )
            if s
        ]

    def call(
        self,
        step: str,
        args: list[str],
        *,
        feed_from: str | None = None,
        check: bool = True,
        timeout: float | None = None,
    ) -> Result:
        result = self.executor.run(
            [*self.base, *args],
            env=self.env,
            timeout=timeout or self.timeout,
            feed_from=feed_from,
            secret_env=self.secret_env,
        )
        if check and not result.ok:
            raise ResticError(step, result, self.secrets)
        return result

    def ensure_initialised(self) -> bool:
        """Create the repository unless it exists; True if it was created."""
        probe = self.call("cat config", ["cat", "config"], check=False, timeout=300)
        if probe.ok:
            return False
        missing = "Is there a repository" in probe.stderr or "does not exist" in probe.stderr
        if not missing or any(word in probe.stderr for word in REFUSED):
            # An S3 server that refuses the credentials is not an empty repository.
            raise ResticError("cat config", probe, self.secrets)
        self.call("init", ["init"], timeout=300)
        return True

    def unlock(self) -> None:
        """Remove stale locks a killed run left behind (live locks stay)."""
        self.call("unlock", ["unlock"], check=False, timeout=300)

    def backup(self, paths: list[str], tags: list[str], host: str) -> dict:
        tag_args = [a for t in tags for a in ("--tag", t)]
        result = self.call("backup", ["backup", "--json", "--host", host, *tag_args, "--", *paths])
        return summary(result.stdout)

    def backup_stdin(self, command: str, filename: str, tags: list[str], host: str) -> dict:
        tag_args = [a for t in tags for a in ("--tag", t)]
        args = ["backup", "--json", "--host", host, "--stdin", "--stdin-filename", filename]
        result = self.call("backup", [*args, *tag_args], feed_from=command)
        return summary(result.stdout)

    def forget(self, tag: str, daily: int, weekly: int, monthly: int) -> None:
        args = ["forget", "--prune", "--tag", tag]
        for name, value in (("daily", daily), ("weekly", weekly), ("monthly", monthly)):
            if value:
                args += [f"--keep-{name}", str(value)]
        self.call("forget", args)

    def snapshots(self, tag: str) -> list[dict]:
        result = self.call("snapshots", ["snapshots", "--json", "--tag", tag], timeout=600)
        return json.loads(result.stdout or "[]")

    def check(self, read_percent: int) -> Result:
        return self.call("check", ["check", f"--read-data-subset={read_percent}%"], check=False)

    def ls(self, snapshot: str) -> list[dict]:
        result = self.call("ls", ["ls", "--json", snapshot], timeout=3600)
        nodes = []
        for line in result.stdout.splitlines():
            with contextlib.suppress(ValueError):
                node = json.loads(line)
                if node.get("struct_type") == "node":
                    nodes.append(node)
        return nodes

    def restore(self, snapshot: str, target: str, includes: list[str]) -> Result:
        args = ["restore", snapshot, "--target", target]
        for path in includes:
            args += ["--include", path]
        return self.call("restore", args)


def summary(stdout: str) -> dict:
    """The ``summary`` message of ``restic backup --json`` (its last line)."""
    for line in reversed(stdout.splitlines()):
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("message_type") == "summary":
                return message
    raise ValueError("restic printed no summary")


def scratch_path(scratch: str, original: str) -> str:
    """Where ``restic restore --target scratch`` puts ``original`` (an absolute path)."""
    return str(Path(scratch) / original.lstrip("/"))
