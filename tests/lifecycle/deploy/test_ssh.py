"""The SSH transport (mamori.lifecycle.ssh) against a real sshd: pinned host key, atomic file
writes over SFTP, commands with their exit status (CERT-09; HTTP-01 over SSH uses it too)."""

from __future__ import annotations

import asyncio
import stat

import asyncssh
import pytest

from mamori.lifecycle import ssh


def run(coro):
    return asyncio.run(coro)


@pytest.mark.req("CERT-09")
def test_files_and_commands_over_ssh(sshd, tmp_path):
    tmp_path = tmp_path / "remote"
    tmp_path.mkdir()
    path = tmp_path / "site.pem"
    path.write_bytes(b"old")

    async def scenario():
        async with ssh.session(
            sshd.host, sshd.port, sshd.username, sshd.client_key_pem, sshd.known_hosts_line
        ) as remote:
            await remote.write_file(str(path), b"new", mode=0o640, owner="root", group="root")
            assert await remote.read_file(str(path)) == b"new"
            assert await remote.read_file(str(tmp_path / "missing")) is None
            assert await remote.exists(str(path))
            await remote.remove(str(tmp_path / "missing"))  # missing is fine
            await remote.rename(str(path), str(tmp_path / "moved.pem"))
            assert not await remote.exists(str(path))
            assert await remote.run("echo out; echo err >&2; exit 3") == (3, "out\nerr\n")
            status, output = await remote.run("sleep 5", timeout=0.3)
            assert status != 0 and "timed out" in output

    run(scenario())
    moved = tmp_path / "moved.pem"
    assert moved.read_bytes() == b"new"
    assert stat.S_IMODE(moved.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["moved.pem"]  # no temporary file left


@pytest.mark.req("CERT-09")
def test_a_server_with_another_host_key_is_refused_before_anything_is_sent(sshd, tmp_path):
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    before = sshd.log_path.read_text()

    async def scenario():
        async with ssh.session(
            sshd.host, sshd.port, sshd.username, sshd.client_key_pem, impostor
        ) as remote:
            await remote.write_file(str(tmp_path / "x"), b"x")

    with pytest.raises(ssh.HostKeyMismatch, match="did not present the pinned host key"):
        run(scenario())
    assert not (tmp_path / "x").exists()
    assert "Accepted publickey" not in sshd.log_path.read_text()[len(before) :]


@pytest.mark.req("CERT-09")
def test_bad_settings_give_precise_errors_without_the_credential(sshd):
    with pytest.raises(ssh.SSHError, match="no SSH public host key"):
        run(ssh.session(sshd.host, sshd.port, "root", sshd.client_key_pem, "junk").__aenter__())
    secret_looking = b"-----BEGIN OPENSSH PRIVATE KEY-----\nnot really\n"
    with pytest.raises(ssh.SSHError) as refused:
        run(ssh.session(sshd.host, sshd.port, "root", secret_looking, sshd.host_key).__aenter__())
    assert "not really" not in str(refused.value)
    other_key = asyncssh.generate_private_key("ssh-ed25519").export_private_key()
    with (
        pytest.raises(ssh.SSHError, match="refused the login"),
        ssh.sync_session(sshd.host, sshd.port, "root", other_key, sshd.host_key),
    ):
        pass
