"""Backups through SSH (BKP-01, BKP-02), against the real sshd fixture: an SFTP repository
written from the Mamori host, and a job run on the managed server itself (restic over SSH)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.backups import restic, services
from mamori.backups.models import RunState
from mamori.vault import services as vault
from mamori.vault.models import SecretKind

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def ssh_key(acme, sshd):
    return vault.store_secret(
        acme, kind=SecretKind.SSH_KEY, name="backup login", value=sshd.client_key_pem, actor=None
    )


@pytest.mark.req("BKP-01")
@pytest.mark.req("BKP-02")
def test_a_backup_into_an_sftp_repository(make_job, source, roots, sshd, ssh_key):
    repo = roots / "sftp-repo"
    job = make_job(
        repository=f"sftp://{sshd.username}@{sshd.host}:{sshd.port}/{repo}",
        repository_key=ssh_key,
        repository_host_key=sshd.host_key,
    )
    run = services.run_backup(job)
    assert run.state == RunState.SUCCEEDED, run.error
    assert run.files_new == 3
    assert (repo / "config").exists()  # restic init over SFTP
    drill = services.drill(job)
    assert drill.state == RunState.SUCCEEDED, drill.error
    assert drill.details["compared"] == 3


def test_an_sftp_repository_presenting_another_host_key_is_refused(
    make_job, source, roots, sshd, ssh_key
):
    import asyncssh

    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    job = make_job(
        repository=f"sftp://{sshd.username}@{sshd.host}:{sshd.port}/{roots / 'r2'}",
        repository_key=ssh_key,
        repository_host_key=impostor,
    )
    run = services.run_backup(job)
    assert run.state == RunState.FAILED
    # ssh refuses the server (its words reach restic's output in part, depending on timing).
    assert "Host key verification failed" in run.error or "unable to open repository" in run.error
    assert not (roots / "r2").exists()
    assert "PRIVATE KEY" not in run.error


@pytest.mark.req("BKP-01")
@pytest.mark.req("BKP-02")
def test_a_job_run_on_the_managed_server_over_ssh(
    make_job, source, tmp_path, sshd, ssh_key, provider_admin, monkeypatch
):
    # The "server" is the sshd fixture's host: its paths are not limited by MAMORI_BACKUP_ROOTS.
    server_repo = tmp_path / "on-server-repo"
    job = make_job(
        run_on="server",
        ssh_host=sshd.host,
        ssh_port=sshd.port,
        ssh_username=sshd.username,
        ssh_secret=ssh_key,
        ssh_host_key=sshd.known_hosts_line,
        repository=str(server_repo),
        dump_command="printf 'CREATE TABLE orders (id int);\\n'",
        dump_filename="shop.sql",
    )
    made = []  # the private directories this test's runs make on the server (others may run)
    real_init = restic.RemoteExecutor.__init__

    def noting_init(self, remote):
        real_init(self, remote)
        made.append(Path(self.private))

    monkeypatch.setattr(restic.RemoteExecutor, "__init__", noting_init)
    run = services.run_backup(job)
    assert run.state == RunState.SUCCEEDED, run.error
    assert len(run.details["snapshots"]) == 2  # the paths and the dump
    assert run.files_new == 4  # three files and the dump
    # The password went in a private file that is gone after the run.
    assert len(made) == 1 and made[0].name.startswith("mamori-restic.")
    assert not made[0].exists()

    drill = services.drill(job)
    assert drill.state == RunState.SUCCEEDED, drill.error
    assert drill.details["compared"] == 3

    target = tmp_path / "restored-on-server"
    restored = services.restore(
        job, provider_admin, path=str(source / "wp-config.php"), target=str(target)
    )
    assert restored.state == RunState.SUCCEEDED, restored.error
    copy = target / str(source / "wp-config.php").lstrip("/")
    assert copy.read_bytes() == (source / "wp-config.php").read_bytes()


def test_a_failing_dump_fails_the_run(make_job, source, tmp_path, sshd, ssh_key):
    job = make_job(
        run_on="server",
        ssh_host=sshd.host,
        ssh_port=sshd.port,
        ssh_username=sshd.username,
        ssh_secret=ssh_key,
        ssh_host_key=sshd.known_hosts_line,
        repository=str(tmp_path / "repo-dump"),
        dump_command="echo 'access denied for user shop' >&2; exit 3",
    )
    run = services.run_backup(job)
    assert run.state == RunState.FAILED
    assert "dump command failed (exit status 3)" in run.error
    assert PASSWORD not in run.error
