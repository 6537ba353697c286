"""Backups into an S3-compatible repository (BKP-01, BKP-02): real restic against a real S3 HTTP
server on loopback (tests/support/s3.py) that checks every request's signature."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from mamori.backups import services
from mamori.backups.models import RunState
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.support.env import IN_CI
from tests.support.s3 import S3Error, S3Server

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(scope="module")
def s3():
    try:
        with S3Server() as server:
            yield server
    except S3Error as exc:
        if IN_CI:
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def s3_job(make_job, acme, s3):
    def make(secret: str | None = None, prefix: str = "", **fields):
        key_id = vault.store_secret(
            acme,
            kind=SecretKind.API_TOKEN,
            name=f"s3 key id {os.urandom(3).hex()}",
            value=s3.access_key_id,
            actor=None,
        )
        key = vault.store_secret(
            acme,
            kind=SecretKind.API_TOKEN,
            name=f"s3 secret {os.urandom(3).hex()}",
            value=secret or s3.secret_access_key,
            actor=None,
        )
        prefix = prefix or f"acme/{os.urandom(4).hex()}"
        return make_job(
            repository=f"s3:{s3.endpoint}/{s3.bucket}/{prefix}",
            repository_access_key_id=key_id,
            repository_secret_access_key=key,
            **fields,
        )

    return make


@pytest.mark.req("BKP-01")
@pytest.mark.req("BKP-02")
def test_a_backup_to_s3_restores_byte_for_byte(s3_job, s3, source, roots, provider_admin):
    job = s3_job(prefix="acme/www")
    run = services.run_backup(job)
    assert run.state == RunState.SUCCEEDED, run.error
    assert run.details["initialised"] is True and run.files_new == 3
    # The repository is in the bucket, under the prefix: restic's config, keys and packs.
    stored = s3.objects("acme/www/")
    assert "acme/www/config" in stored
    assert any(k.startswith("acme/www/data/") for k in stored)

    original = (source / "html" / "img" / "logo.bin").read_bytes()
    (source / "html" / "img" / "logo.bin").write_bytes(b"defaced")
    target = roots / "restored"
    restored = services.restore(
        job,
        provider_admin,
        path=str(source / "html"),
        target=str(target),
        snapshot=run.snapshot_id,
    )
    assert restored.state == RunState.SUCCEEDED, restored.error
    back = target / str(source / "html").lstrip("/")
    assert (back / "img" / "logo.bin").read_bytes() == original
    assert (back / "index.html").read_text(encoding="utf-8") == "<h1>アクメ</h1>\n"

    drill = services.drill(job)
    assert drill.state == RunState.SUCCEEDED, drill.error
    # logo.bin was changed since (defaced): restored but not compared.
    assert (drill.details["compared"], drill.details["changed_since"]) == (2, 1)


@pytest.mark.req("BKP-02")
def test_a_wrong_s3_secret_is_a_failed_run_that_never_shows_the_secret(s3_job, s3, source, acme):
    wrong = "Wr0ng" + s3.secret_access_key[5:]
    job = s3_job(secret=wrong)
    run = services.run_backup(job)
    assert run.state == RunState.FAILED
    assert run.failure == "exit" and run.exit_code != 0
    assert run.details["step"] == "cat config"  # refused before anything was written
    assert "signature" in run.error and "does not match" in run.error
    assert wrong not in run.error and s3.access_key_id not in run.error
    assert s3.objects(job.repository.split(f"{s3.bucket}/", 1)[1]) == []  # no init on a refusal
    job.refresh_from_db()
    assert job.incident is not None and job.failures == 1


def test_an_s3_repository_is_validated_like_any_other(make_job, acme, globex, s3):
    def secret(client, name):
        return vault.store_secret(
            client, kind=SecretKind.API_TOKEN, name=name, value="x" * 20, actor=None
        )

    with translation.override("en"):
        with pytest.raises(ValidationError) as refused:
            make_job(name="no keys", repository=f"s3:{s3.endpoint}/{s3.bucket}/x")
        errors = refused.value.message_dict
        assert errors["repository_access_key_id"] == [
            "An S3 repository needs its access key id from the vault."
        ]
        assert errors["repository_secret_access_key"] == [
            "An S3 repository needs its secret access key from the vault."
        ]
        with pytest.raises(ValidationError) as refused:
            make_job(
                name="bad url",
                repository="s3:ftp://host/Bucket",
                repository_access_key_id=secret(acme, "id"),
                repository_secret_access_key=secret(globex, "elsewhere"),
            )
        errors = refused.value.message_dict
        assert errors["repository"] == [
            "Write an S3 repository as s3:https://host[:port]/bucket/prefix."
        ]
        assert errors["repository_secret_access_key"] == ["The secret belongs to another client."]
        assert "repository_access_key_id" not in errors


def test_an_s3_job_through_the_api_names_its_vault_secrets(acme, operator, client, s3):
    import json

    from mamori.core.tokens import create_token

    def secret(name, value):
        return vault.store_secret(
            acme, kind=SecretKind.API_TOKEN, name=name, value=value, actor=None
        )

    password = secret("restic", "restic-password-1234")
    key_id = secret("s3 id", s3.access_key_id)
    token = create_token(operator, "test")[1]
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    body = {
        "client": "acme",
        "name": "offsite",
        "paths": ["/var/www"],
        "repository": f"s3:{s3.endpoint}/{s3.bucket}/acme/offsite",
        "repository_password": password.pk,
        "repository_access_key_id": key_id.pk,
        "run_on": "server",
        "ssh_host": "web01.acme.example",
        "ssh_username": "backup",
        "ssh_secret": password.pk,
        "ssh_host_key": __import__("asyncssh")
        .generate_private_key("ssh-ed25519")
        .export_public_key()
        .decode(),
    }
    refused = client.post("/api/v1/backup-jobs", json.dumps(body), "application/json")
    assert refused.status_code == 422
    # The job's one rule, at its field (in the operator's language).
    [problem] = refused.json()["detail"]
    assert problem["loc"][-1] == "repository_secret_access_key"
    with translation.override(operator.preferred_language()):
        from django.utils.translation import gettext

        assert problem["msg"] == gettext(
            "An S3 repository needs its secret access key from the vault."
        )

    body["repository_secret_access_key"] = secret("s3 secret", s3.secret_access_key).pk
    created = client.post("/api/v1/backup-jobs", json.dumps(body), "application/json")
    assert created.status_code == 201, created.content
    answer = created.json()
    assert answer["repository_access_key_id"] == key_id.pk
    assert answer["repository_secret_access_key"] == body["repository_secret_access_key"]
    assert s3.secret_access_key not in created.content.decode()


@pytest.mark.req("BKP-01")
def test_a_job_on_the_managed_server_reads_its_s3_keys_from_a_private_file(
    s3_job, s3, source, acme, sshd
):
    from pathlib import Path

    login = vault.store_secret(
        acme, kind=SecretKind.SSH_KEY, name="s3 login", value=sshd.client_key_pem, actor=None
    )
    job = s3_job(
        prefix="acme/on-server",
        run_on="server",
        ssh_host=sshd.host,
        ssh_port=sshd.port,
        ssh_username=sshd.username,
        ssh_secret=login,
        ssh_host_key=sshd.known_hosts_line,
    )
    before = set(Path("/tmp").glob("mamori-restic.*"))
    run = services.run_backup(job)
    assert run.state == RunState.SUCCEEDED, run.error
    assert "acme/on-server/config" in s3.objects("acme/on-server/")
    # The file that held the keys went with the private directory.
    assert set(Path("/tmp").glob("mamori-restic.*")) <= before
