"""Offboarding: list what is held, return it encrypted, destroy it, certify it (END-01,
VLT-03, VLT-04)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import pyzipper
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation

from mamori.clients import offboarding
from mamori.core.models import AuditEvent
from mamori.vault import services as vault
from mamori.vault.models import DestructionRecord, Secret, SecretKind
from tests.web.cases_offboarding import destroyed

pytestmark = pytest.mark.django_db(databases="__all__")

PASSPHRASE = "correct horse battery staple"


def private_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture
def held(acme, globex, provider_admin):
    key = private_key_pem()
    return {
        "login": vault.store_secret(
            acme,
            kind=SecretKind.SERVER_LOGIN,
            name="web01 root",
            value="s3cr3t-web01",
            actor=provider_admin,
        ),
        "wp": vault.store_secret(
            acme,
            kind=SecretKind.ADMIN_LOGIN,
            name="WordPress 管理画面",
            value="wp-パスワード",
            actor=provider_admin,
        ),
        "key": vault.store_private_key(acme, key, actor=provider_admin, name="www.acme.example"),
        "key_pem": key,
        "other_client": vault.store_secret(
            globex,
            kind=SecretKind.OTHER,
            name="globex thing",
            value="not-acme",
            actor=provider_admin,
        ),
    }


@pytest.mark.req("END-01")
def test_it_lists_everything_held_for_the_client(acme, held):
    sections = {s.key: s for s in offboarding.holdings(acme)}
    assert sections["secrets"].count == 2
    assert sections["private_keys"].count == 1
    assert sections["private_keys"].items == ["www.acme.example"]
    assert sections["contracts"].count == 1
    assert sections["contacts"].count == 3
    # Never a value, only what exists.
    text = json.dumps([s.items for s in sections.values()], ensure_ascii=False)
    assert "s3cr3t-web01" not in text and "BEGIN" not in text


@pytest.mark.req("VLT-03")
def test_its_readme_names_the_client_as_entered(acme, held, provider_admin):
    acme.name = "R&D <Tokyo>"
    acme.save()
    data = offboarding.export_for_return(acme, PASSPHRASE, actor=provider_admin)
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        archive.setpassword(PASSPHRASE.encode())
        readme = archive.read("README.txt").decode()
    assert readme.startswith("R&D <Tokyo> 様 / To R&D <Tokyo>")


@pytest.mark.req("VLT-03")
def test_it_exports_secrets_and_keys_in_an_encrypted_archive(acme, held, provider_admin):
    data = offboarding.export_for_return(acme, PASSPHRASE, actor=provider_admin)
    assert b"s3cr3t-web01" not in data and held["key_pem"] not in data
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        archive.setpassword(PASSPHRASE.encode())
        listing = json.loads(archive.read("secrets.json"))
        key_file = next(e["file"] for e in listing["secrets"] if "file" in e)
        assert archive.read(key_file) == held["key_pem"]
        assert "README.txt" in archive.namelist()
    values = sorted(e.get("value", "") for e in listing["secrets"])
    assert values == ["", "s3cr3t-web01", "wp-パスワード"]
    assert listing["client"] == "acme"
    with pyzipper.AESZipFile(io.BytesIO(data)) as archive:
        archive.setpassword(b"wrong passphrase!")
        with pytest.raises(RuntimeError):
            archive.read("secrets.json")
    event = AuditEvent.objects.get(action="offboard.export")
    assert event.actor == provider_admin and event.client_id == acme.pk
    assert "s3cr3t-web01" not in json.dumps(event.changes, ensure_ascii=False)


def test_it_refuses_a_short_passphrase(acme, held, provider_admin):
    with (
        translation.override("en"),
        pytest.raises(offboarding.OffboardingError, match="at least 12"),
    ):
        offboarding.export_for_return(acme, "short", actor=provider_admin)


@pytest.mark.req("VLT-03")
@pytest.mark.req("VLT-04")
def test_it_destroys_every_secret_and_certifies_it(acme, held, provider_admin):
    records = offboarding.destroy_all(acme, actor=provider_admin, reason="契約終了")
    assert len(records) == 3
    assert not Secret.objects.filter(client=acme, destroyed_at__isnull=True).exists()
    # Another client's secret is untouched.
    assert Secret.objects.get(pk=held["other_client"].pk).destroyed_at is None
    for secret in Secret.objects.filter(client=acme):
        with pytest.raises(Exception):  # noqa: B017 - any failure: the key is gone
            vault.decrypt_for_export(secret)
    ja = offboarding.destruction_certificate(acme, language="ja")
    en = offboarding.destruction_certificate(acme, language="en")
    assert "データ消去証明書" in ja and "株式会社アクメ 御中" in ja
    assert "Certificate of Destruction" in en
    for html in (ja, en):
        assert "web01 root" in html and "www.acme.example" in html and "契約終了" in html
        assert "s3cr3t-web01" not in html
    assert DestructionRecord.objects.filter(client=acme).count() == 3
    assert AuditEvent.objects.filter(action="offboard.destroy", client=acme).exists()


def test_it_needs_a_reason_to_destroy(acme, held, provider_admin):
    with pytest.raises(offboarding.OffboardingError):
        offboarding.destroy_all(acme, actor=provider_admin, reason=" ")
    assert Secret.objects.filter(client=acme, destroyed_at__isnull=True).count() == 3


@pytest.mark.req("END-01")
def test_the_command_lists_exports_destroys_and_certifies(acme, held, tmp_path, capsys):
    call_command("offboard", "acme", "--json")
    listing = json.loads(capsys.readouterr().out)
    assert {s["key"]: s["count"] for s in listing["holdings"]}["secrets"] == 2

    with pytest.raises(CommandError, match="passphrase-file"):
        call_command("offboard", "acme", "--export", str(tmp_path / "a.zip"))
    (tmp_path / "pass").write_text(PASSPHRASE + "\n")
    call_command(
        "offboard",
        "acme",
        "--export",
        str(tmp_path / "a.zip"),
        "--passphrase-file",
        str(tmp_path / "pass"),
    )
    assert (tmp_path / "a.zip").stat().st_mode & 0o777 == 0o600

    call_command("offboard", "acme", "--destroy", "--reason", "contract ended", "--yes")
    call_command("offboard", "acme", "--certificate", str(tmp_path / "c.html"), "--language", "en")
    assert "contract ended" in (tmp_path / "c.html").read_text()


def test_the_command_will_not_destroy_without_confirmation(tmp_path):
    env = {"MAMORI_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "mamori", "migrate", "-v", "0"], env=env, check=True)
    result = subprocess.run(
        [sys.executable, "-m", "mamori", "offboard", "nobody", "--destroy"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and "No such client" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.req("VLT-04")
def test_the_certificate_is_signed_by_the_providers_officers(acme):
    from mamori.access.models import InformationOfficer

    InformationOfficer.objects.create(
        client=None, position=1, name="佐藤花子", title="情報システム部長"
    )
    destroyed(acme)
    html = offboarding.destruction_certificate(acme, language="ja")
    assert "情報取扱責任者　情報システム部長　佐藤花子" in html


NOTHING_DESTROYED = (
    "Nothing has been destroyed for this client yet: the certificate of destruction can be "
    "issued once its secrets and keys are destroyed."
)


@pytest.mark.req("VLT-04")
@pytest.mark.req("END-01")
def test_no_certificate_is_issued_before_anything_was_destroyed(
    acme, held, provider_admin, owner, client, tmp_path
):
    with translation.override("en"):
        with pytest.raises(offboarding.OffboardingError) as excinfo:
            offboarding.destruction_certificate(acme, language="en")
        assert str(excinfo.value) == translation.gettext(NOTHING_DESTROYED)
        # The command says so in one line (exit 2) and writes no file.
        with pytest.raises(CommandError) as failed:
            call_command("offboard", "acme", "--certificate", str(tmp_path / "c.html"))
        assert failed.value.returncode == 2
    assert not (tmp_path / "c.html").exists()
    # The offboarding page disables the buttons and says why; the address sends staff back to
    # it, and the client's administrator to the client's page, with the reason.
    provider_admin.language = "en"
    provider_admin.save(update_fields=["language"])
    client.force_login(provider_admin)
    page = client.get(reverse("client_offboarding", args=["acme"])).content.decode()
    with translation.override("en"):
        reason = translation.gettext(NOTHING_DESTROYED)
    assert reason in page and 'aria-describedby="certificate-refusal"' in page
    assert reverse("client_destruction_certificate", args=["acme"]) not in page
    response = client.get(reverse("client_destruction_certificate", args=["acme"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("client_offboarding", args=["acme"])
    assert reason in client.get(response["Location"]).content.decode()
    client.force_login(owner)
    response = client.get(reverse("client_destruction_certificate", args=["acme"]))
    assert (response.status_code, response["Location"]) == (302, acme.get_absolute_url())


@pytest.mark.req("VLT-04")
@pytest.mark.req("END-01")
def test_the_certificate_says_what_was_destroyed_and_what_is_still_held(acme, held, provider_admin):
    vault.destroy_secret(held["login"], actor=provider_admin, reason="契約終了")
    ja = offboarding.destruction_certificate(acme, language="ja")
    en = offboarding.destruction_certificate(acme, language="en")
    for html in (ja, en):
        destroyed_part, _sep, not_covered = html.partition("<h2>")
        assert "web01 root" in destroyed_part and "契約終了" in destroyed_part
        # The two secrets not destroyed are named as still held, not certified.
        assert "web01 root" not in not_covered
        assert "WordPress 管理画面" in not_covered and "www.acme.example" in not_covered
    assert "消去して<strong>おりません</strong>" in ja and "本証明書の対象外" in ja
    assert "has <strong>not</strong> been destroyed" in en
    # Everything destroyed: nothing is listed as still held.
    offboarding.destroy_all(acme, actor=provider_admin, reason="契約終了")
    en = offboarding.destruction_certificate(acme, language="en")
    assert "No credentials, private keys or other secrets of yours remain with us." in en
