"""Deployment end to end (CERT-09, CERT-14): real nginx serving the endpoint, real sshd on
loopback, certificates issued for the keys Mamori keeps in the vault."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from django.utils import timezone

from mamori.certificates import services as watch
from mamori.certificates.models import CertificateEvent, EventKind, ExpectedCertificate
from mamori.inventory.models import Endpoint
from mamori.lifecycle import deploy
from mamori.lifecycle.models import (
    Deployment,
    DeploymentState,
    Failure,
    FailureKind,
    TargetKind,
)
from mamori.notices.models import Notice, NoticeKind
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.lifecycle.deploy.conftest import new_certificate

pytestmark = pytest.mark.django_db(databases=["default", "keystore"])


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def replaced_events():
    return CertificateEvent.objects.filter(kind=EventKind.REPLACED).order_by("pk")


def assert_no_key_material(deployment: Deployment) -> None:
    text = json.dumps(deployment.log) + deployment.error + json.dumps(deployment.backup)
    assert "PRIVATE KEY" not in text


@pytest.mark.req("CERT-09")
@pytest.mark.req("CERT-14")
def test_local_deployment_replaces_files_keeps_the_old_ones_and_proves_the_new_one_is_served(
    site, deploy_ca, operator
):
    watch.check_endpoint(site.endpoint)  # the watch knows the first certificate
    old_fullchain = site.cert_file.read_bytes()
    old_key = site.key_file.read_bytes()
    target = site.target()

    renewed = new_certificate(site.managed, deploy_ca)

    [queued] = Deployment.objects.filter(target=target)
    assert queued.state == DeploymentState.PENDING and queued.certificate == renewed
    # Exactly once: the same certificate is not queued twice for the target.
    assert deploy.queue_deployments(site.managed, renewed) == []

    done = deploy.run_deployment(queued.pk)

    assert done.state == DeploymentState.SUCCEEDED, done.error
    assert site.served_fingerprint() == renewed.fingerprint_sha256
    key_pem = vault.decrypt_for_export(site.managed.key_secret)
    assert site.cert_file.read_text() == renewed.pem + site.managed.chain_pem
    assert site.key_file.read_bytes() == key_pem
    assert mode_of(site.cert_file) == 0o640
    assert mode_of(site.key_file) == 0o600
    # The previous files are kept, recorded on the deployment.
    kept_cert = done.backup[str(site.cert_file)]
    kept_key = done.backup[str(site.key_file)]
    assert kept_cert.endswith(f".mamori-{done.pk}.bak")
    assert Path(kept_cert).read_bytes() == old_fullchain
    assert Path(kept_key).read_bytes() == old_key
    # No temporary files left behind.
    assert not [p for p in site.cert_file.parent.iterdir() if p.name.endswith(".tmp")]
    assert [e["step"] for e in done.log][-1] == "done"
    assert_no_key_material(done)

    # CERT-14: Mamori's own change is recorded, not flagged, and nobody is told about it.
    [event] = replaced_events()
    assert event.certificate == renewed and event.previous_certificate == site.first
    assert event.unmanaged is False
    assert not Notice.objects.filter(kind=NoticeKind.CERT_REPLACED).exists()
    assert Endpoint.objects.get(pk=site.endpoint.pk).current_certificate == renewed

    # Someone changes the certificate by hand: that replacement is still flagged.
    stranger = deploy_ca.issue([site.endpoint.sni])
    site.nginx.replace_cert("www", stranger)
    site.nginx.reload()
    Endpoint.objects.filter(pk=site.endpoint.pk).update(next_check_at=timezone.now())
    watch.check_due()
    hand_made = replaced_events().last()
    assert hand_made.certificate.fingerprint_sha256 == stranger.fingerprint_sha256
    assert hand_made.unmanaged is True
    assert Notice.objects.filter(kind=NoticeKind.CERT_REPLACED).exists()


@pytest.mark.req("CERT-09")
def test_deployment_over_ssh_writes_by_sftp_and_reloads_over_ssh(site, deploy_ca, sshd):
    credential = vault.store_secret(
        site.managed.client,
        kind=SecretKind.SSH_KEY,
        name="deploy key",
        value=sshd.client_key_pem,
        actor=None,
    )
    target = site.target(
        kind=TargetKind.SSH,
        ssh_host=sshd.host,
        ssh_port=sshd.port,
        ssh_username=sshd.username,
        ssh_secret=credential,
        ssh_host_key=sshd.known_hosts_line,
        owner="root",
        group="root",
        cert_mode="0644",
        key_mode="0600",
        chain_path=str(site.cert_file.parent / "chain.pem"),
    )
    old_fullchain = site.cert_file.read_bytes()
    log_before = sshd.log_path.stat().st_size
    renewed = new_certificate(site.managed, deploy_ca)
    [queued] = Deployment.objects.filter(target=target)

    done = deploy.run_deployment(queued.pk)

    assert done.state == DeploymentState.SUCCEEDED, done.error
    assert site.served_fingerprint() == renewed.fingerprint_sha256
    assert site.cert_file.read_text() == renewed.pem + site.managed.chain_pem
    assert (site.cert_file.parent / "chain.pem").read_text() == site.managed.chain_pem
    assert site.key_file.read_bytes() == vault.decrypt_for_export(site.managed.key_secret)
    assert mode_of(site.cert_file) == 0o644 and mode_of(site.key_file) == 0o600
    assert Path(done.backup[str(site.cert_file)]).read_bytes() == old_fullchain
    # A file that did not exist before is recorded as new (restoring it means removing it).
    assert done.backup[str(site.cert_file.parent / "chain.pem")] is None
    # It really went through the SSH server: a key login and an SFTP session.
    sshd_log = sshd.log_path.read_bytes()[log_before:].decode(errors="replace")
    assert "Accepted publickey" in sshd_log
    assert "subsystem 'sftp'" in sshd_log and "Starting session: command" in sshd_log
    assert_no_key_material(done)


@pytest.mark.req("CERT-09")
def test_a_wrong_ssh_host_key_is_refused_and_nothing_is_written(site, deploy_ca, sshd):
    import asyncssh

    credential = vault.store_secret(
        site.managed.client,
        kind=SecretKind.SSH_KEY,
        name="deploy key",
        value=sshd.client_key_pem,
        actor=None,
    )
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    target = site.target(
        kind=TargetKind.SSH,
        ssh_host=sshd.host,
        ssh_port=sshd.port,
        ssh_username=sshd.username,
        ssh_secret=credential,
        ssh_host_key=impostor,
    )
    before = {p.name: p.read_bytes() for p in site.cert_file.parent.iterdir()}
    new_certificate(site.managed, deploy_ca)
    [queued] = Deployment.objects.filter(target=target)

    done = deploy.run_deployment(queued.pk)

    assert done.state != DeploymentState.SUCCEEDED
    assert "did not present the pinned host key" in done.error
    assert {p.name: p.read_bytes() for p in site.cert_file.parent.iterdir()} == before
    assert done.backup == {}
    assert site.served_fingerprint() == site.first.fingerprint_sha256
    assert Failure.objects.open().filter(subject=f"target:{target.pk}").count() == 1


def expected(site, certificate) -> bool:
    """Whether the watch takes ``certificate`` behind the site's endpoint for Mamori's own."""
    marks = ExpectedCertificate.objects.filter(endpoint=site.endpoint, certificate=certificate)
    return marks.exists()


@pytest.mark.req("CERT-09")
@pytest.mark.req("CERT-14")
def test_a_bad_deploy_is_rolled_back_alerted_once_and_retried(
    site, deploy_ca, operator, fast_verify
):
    old_fullchain = site.cert_file.read_bytes()
    old_key = site.key_file.read_bytes()
    # The reload command does not make nginx load the new files: the handshake must notice.
    target = site.target(reload_command="true")
    renewed = new_certificate(site.managed, deploy_ca)
    [queued] = Deployment.objects.filter(target=target)

    done = deploy.run_deployment(queued.pk)

    assert done.state == DeploymentState.ROLLED_BACK
    assert "does not serve the new certificate" in done.error
    # CERT-14: the deployment failed, so the certificate turning up there would not be Mamori's.
    assert not expected(site, renewed)
    assert site.cert_file.read_bytes() == old_fullchain
    assert site.key_file.read_bytes() == old_key
    assert site.served_fingerprint() == site.first.fingerprint_sha256
    steps = [e["step"] for e in done.log]
    assert "restore" in steps and steps[-1] == "rolled back"
    [failure] = Failure.objects.open().filter(kind=FailureKind.DEPLOYMENT)
    assert failure.subject == f"target:{target.pk}" and failure.certificate == renewed
    alerts = Notice.objects.filter(kind=NoticeKind.LIFECYCLE_FAILURE)
    assert alerts.count() >= 1
    alerted = alerts.count()
    assert_no_key_material(done)

    # Not retried before its back-off; retried after it, failing the same way: no new alert.
    assert deploy.drive_due(now=timezone.now()) == 0
    later = done.next_attempt_at + timezone.timedelta(seconds=1)
    assert deploy.drive_due(now=later) == 1
    again = Deployment.objects.get(pk=done.pk)
    assert again.state == DeploymentState.ROLLED_BACK and again.attempts == 2
    assert Notice.objects.filter(kind=NoticeKind.LIFECYCLE_FAILURE).count() == alerted
    assert Failure.objects.get(pk=failure.pk).count == 2
    # The kept copies are still the original files, not the new ones.
    assert Path(again.backup[str(site.cert_file)]).read_bytes() == old_fullchain

    # Fixed: the next retry succeeds and closes the failure.
    target.reload_command = f"kill -HUP {site.nginx.pid}"
    target.save()
    assert deploy.drive_due(now=again.next_attempt_at + timezone.timedelta(seconds=1)) == 1
    assert Deployment.objects.get(pk=done.pk).state == DeploymentState.SUCCEEDED
    assert site.served_fingerprint() == renewed.fingerprint_sha256
    assert expected(site, renewed)
    assert not Failure.objects.open().filter(kind=FailureKind.DEPLOYMENT).exists()


@pytest.mark.req("CERT-09")
def test_a_failing_reload_command_restores_the_previous_files(
    site, deploy_ca, fast_verify, settings
):
    old_fullchain = site.cert_file.read_bytes()
    failing = "sh -c 'echo config test failed >&2; exit 1'"
    settings.MAMORI_DEPLOY_COMMANDS = [*settings.MAMORI_DEPLOY_COMMANDS, failing]
    target = site.target(reload_command=failing)
    new_certificate(site.managed, deploy_ca)
    [queued] = Deployment.objects.filter(target=target)

    done = deploy.run_deployment(queued.pk)

    assert done.state == DeploymentState.FAILED  # the restore's reload failed too
    assert "reload command failed" in done.error and "config test failed" in done.error
    assert site.cert_file.read_bytes() == old_fullchain
    assert site.served_fingerprint() == site.first.fingerprint_sha256


@pytest.mark.req("CERT-09")
@pytest.mark.req("CERT-14")
def test_deploy_now_installs_the_current_certificate_and_the_watch_does_not_flag_it(
    site, deploy_ca, operator, monkeypatch
):
    from mamori.core.models import AuditEvent

    watch.check_endpoint(site.endpoint)
    target = site.target(enabled=False)  # not deployed automatically
    renewed = new_certificate(site.managed, deploy_ca)
    assert not Deployment.objects.filter(target=target).exists()
    # The deployment does not record the check itself here: the watch's next pass sees it.
    monkeypatch.setattr(watch, "check_endpoint", lambda *a, **k: None)

    [done] = deploy.deploy_now(site.managed, target=target, actor=operator)

    assert done.state == DeploymentState.SUCCEEDED, done.error
    assert done.created_by == operator
    assert site.served_fingerprint() == renewed.fingerprint_sha256
    assert AuditEvent.objects.filter(action="deployment.create", actor=operator).exists()
    assert not replaced_events().exists()
    Endpoint.objects.filter(pk=site.endpoint.pk).update(next_check_at=timezone.now())
    assert watch.check_due().checked == 1
    [event] = replaced_events()
    assert event.certificate == renewed and event.unmanaged is False
    assert not Notice.objects.filter(kind=NoticeKind.CERT_REPLACED).exists()
