"""Who may set up deployment targets, where they may write and what they may run (issue 13).

The attacks of the security review, each through the path that was used: a client administrator
importing a local target whose reload command copies the vault's master key; a subcontractor
creating one through the API; relative paths and NUL bytes in the import; a target saved before
these rules (or a directory or command taken out of the configuration since) reaching a
deployment. Each must be refused with a precise message, nothing written, nothing run.
"""

from __future__ import annotations

import os
import shlex

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.inventory.transfer import import_file
from mamori.lifecycle import deploy
from mamori.lifecycle.models import (
    Deployment,
    DeploymentState,
    DeploymentTarget,
    IssuerKind,
    ManagedCertificate,
    TargetKind,
)
from mamori.vault import services as vault
from mamori.vault.models import SecretKind
from tests.lifecycle.deploy.conftest import new_certificate

pytestmark = pytest.mark.django_db(databases=["default", "keystore"])

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq1suDgoNHZpEmiKGGx1MTMhD9kNockETisdI3s5C4o"


@pytest.fixture
def roots(tmp_path, settings):
    """The Mamori host lets targets write under ``tls/`` only, and run one reload command."""
    allowed = tmp_path / "tls"
    allowed.mkdir()
    settings.MAMORI_DEPLOY_ROOTS = [str(allowed)]
    settings.MAMORI_DEPLOY_COMMANDS = ["systemctl reload nginx"]
    return allowed


@pytest.fixture
def managed(acme) -> ManagedCertificate:
    return ManagedCertificate.objects.create(
        client=acme, name="www", names=["www.acme.example"], issuer=IssuerKind.MANUAL
    )


@pytest.fixture
def loot(tmp_path) -> str:
    """Where the attacker's command would copy the master key to."""
    return str(tmp_path / "loot")


def stealing_command(loot: str) -> str:
    return shlex.join(["cp", os.environ["MAMORI_MASTER_KEY_FILE"], loot])


def import_yaml(text: str, actor):
    return import_file(text.encode(), filename="targets.yaml", actor=actor)


def local_target_yaml(roots, command: str, *, key_path: str | None = None) -> str:
    return f"""\
clients:
  - code: acme
    managed_certificates:
      - name: www
        deployment_targets:
          - name: pwn
            kind: local
            fullchain_path: {roots}/www.pem
            key_path: {key_path or f"{roots}/www.key"}
            reload_command: {command!r}
"""


# --- the import ---------------------------------------------------------------------------------


@pytest.mark.req("CERT-09")
@pytest.mark.parametrize("role", ["owner", "subcontractor", "operator"])
def test_only_provider_admins_import_a_local_target(role, request, managed, roots, loot):
    actor = request.getfixturevalue(role)

    report = import_yaml(local_target_yaml(roots, stealing_command(loot)), actor)

    assert not report.ok
    expected = (
        "Only the provider's staff set up deployment targets."
        if role == "owner"
        else "Only the provider's administrators set up or change targets on the Mamori host"
    )
    assert any(expected in str(e) for e in report.errors), [str(e) for e in report.errors]
    assert not DeploymentTarget.objects.exists()


@pytest.mark.req("CERT-09")
def test_an_imported_command_must_be_one_the_host_allows(managed, roots, provider_admin, loot):
    report = import_yaml(local_target_yaml(roots, stealing_command(loot)), provider_admin)

    assert [str(e) for e in report.errors] == [
        "targets.yaml:10: clients[0].managed_certificates[0].deployment_targets[0]"
        f".reload_command: {show(stealing_command(loot))}: Not one of the reload commands "
        "allowed on this Mamori host (MAMORI_DEPLOY_COMMANDS): systemctl reload nginx."
    ]
    assert not DeploymentTarget.objects.exists()

    report = import_yaml(local_target_yaml(roots, "systemctl reload nginx"), provider_admin)
    assert report.ok, [str(e) for e in report.errors]
    assert DeploymentTarget.objects.get().reload_command == "systemctl reload nginx"


def show(value: str) -> str:
    from mamori.inventory.transfer.schema import show as show_value

    return show_value(value)


@pytest.mark.req("CERT-09")
def test_a_client_admin_cannot_change_the_command_of_a_target_staff_made(
    managed, roots, provider_admin, owner, settings
):
    settings.MAMORI_DEPLOY_COMMANDS = ["systemctl reload nginx", "nginx -s reload"]
    assert import_yaml(local_target_yaml(roots, "systemctl reload nginx"), provider_admin).ok

    report = import_yaml(local_target_yaml(roots, "nginx -s reload"), owner)

    assert [str(e).split(": ", 2)[2] for e in report.errors] == [
        "Only the provider's staff set up deployment targets."
    ]
    assert DeploymentTarget.objects.get().reload_command == "systemctl reload nginx"
    # The same file unchanged is no change, whoever imports it (an exported file round-trips).
    assert import_yaml(local_target_yaml(roots, "systemctl reload nginx"), owner).ok


@pytest.mark.req("CERT-09")
@pytest.mark.parametrize(
    ("key_path", "message"),
    [
        ("relative/www.key", "Give an absolute path (starting with /)."),
        ("{roots}/../../etc/www.key", "A path cannot contain '.' or '..' parts"),
        ("{roots}/www\\t.key", "A path cannot contain control characters (line breaks, NUL)."),
        ("{roots}/www\\0.key", "Control character U+0000 is not allowed in YAML."),
        ("/etc/ssl/www.key", "Not under a directory Mamori may write to (MAMORI_DEPLOY_ROOTS:"),
    ],
)
def test_the_import_refuses_the_paths_the_form_refuses(
    key_path, message, managed, roots, provider_admin
):
    path = key_path.format(roots=roots)
    text = local_target_yaml(roots, "systemctl reload nginx", key_path=f'"{path}"')

    report = import_yaml(text, provider_admin)

    assert len(report.errors) == 1 and message in str(report.errors[0]), report.errors
    if "YAML" not in message:  # a NUL is refused by the reader, before any field
        assert ".key_path:" in str(report.errors[0])
    assert not DeploymentTarget.objects.exists()


@pytest.mark.req("CERT-09")
def test_the_web_import_page_applies_the_same_rule_to_a_client_admin(
    managed, roots, owner, client, loot
):
    client.force_login(owner)
    text = local_target_yaml(roots, stealing_command(loot))
    file = SimpleUploadedFile("pwn.yaml", text.encode(), content_type="application/yaml")

    page = client.post(reverse("inventory_import"), {"file": file}).content.decode()

    assert "Only the provider&#x27;s staff set up deployment targets." in page
    assert 'name="digest"' not in page  # nothing to apply
    assert not DeploymentTarget.objects.exists()


# --- API and pages ------------------------------------------------------------------------------


def api_target(managed, roots, **extra) -> dict:
    return {
        "managed_certificate": managed.pk,
        "name": "pwn",
        "kind": "local",
        "fullchain_path": f"{roots}/www.pem",
        "key_path": f"{roots}/www.key",
        "reload_command": "systemctl reload nginx",
        **extra,
    }


def post_api(client, user, payload):
    token = create_token(user, "t")[1]
    return client.post(
        "/api/v1/deployment-targets",
        payload,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.req("CERT-09")
@pytest.mark.parametrize("role", ["subcontractor", "operator"])
def test_staff_other_than_administrators_cannot_create_a_local_target_by_api(
    role, request, managed, roots, client, loot
):
    user = request.getfixturevalue(role)

    response = post_api(
        client, user, api_target(managed, roots, reload_command=stealing_command(loot))
    )

    assert response.status_code == 403
    assert "administrators" in response.json()["detail"]
    assert not DeploymentTarget.objects.exists()


@pytest.mark.req("CERT-09")
def test_a_client_admin_cannot_create_any_target_by_api(managed, roots, owner, client):
    response = post_api(client, owner, api_target(managed, roots, kind="ssh"))

    assert response.status_code == 403
    assert not DeploymentTarget.objects.exists()


@pytest.mark.req("CERT-09")
def test_an_administrator_gets_precise_errors_for_paths_and_commands_by_api(
    managed, roots, provider_admin, client, loot, settings
):
    os.symlink(settings.DATA_DIR, roots / "data")  # a link from an allowed place into Mamori's
    response = post_api(
        client,
        provider_admin,
        api_target(
            managed,
            roots,
            fullchain_path=f"{roots}/data/mamori.sqlite3",
            key_path="/etc/ssl/private/www.key",
            reload_command=stealing_command(loot),
        ),
    )

    assert response.status_code == 422
    errors = {e["loc"][-1]: e["msg"] for e in response.json()["detail"]}
    assert "Mamori keeps its own data there" in errors["fullchain_path"]
    assert "(a symbolic link)" in errors["fullchain_path"]
    assert "Not under a directory Mamori may write to" in errors["key_path"]
    assert "Not one of the reload commands allowed" in errors["reload_command"]
    assert not DeploymentTarget.objects.exists()

    response = post_api(client, provider_admin, api_target(managed, roots))
    assert response.status_code == 201, response.content


@pytest.mark.req("CERT-09")
def test_with_no_deploy_roots_there_are_no_local_targets(
    managed, provider_admin, client, settings, tmp_path
):
    settings.MAMORI_DEPLOY_ROOTS = []
    settings.MAMORI_DEPLOY_COMMANDS = ["systemctl reload nginx"]

    response = post_api(client, provider_admin, api_target(managed, tmp_path))

    assert response.status_code == 422
    assert "MAMORI_DEPLOY_ROOTS names no directory" in str(response.json())
    client.force_login(provider_admin)
    form = client.get(reverse("deployment_target_add", args=[managed.pk])).context["form"]
    assert [value for value, _label in form.fields["kind"].widget.choices] == [TargetKind.SSH]


@pytest.mark.req("CERT-09")
def test_the_form_offers_local_targets_and_commands_as_the_host_allows(
    managed, roots, operator, provider_admin, client, acme
):
    add = reverse("deployment_target_add", args=[managed.pk])
    client.force_login(operator)
    form = client.get(add).context["form"]
    assert [value for value, _label in form.fields["kind"].widget.choices] == [TargetKind.SSH]
    assert [value for value, _label in form.fields["reload_command"].choices] == [
        "",
        "systemctl reload nginx",
    ]
    response = client.post(
        add,
        {
            "name": "pwn",
            "kind": "local",
            "fullchain_path": f"{roots}/www.pem",
            "key_path": f"{roots}/www.key",
            "cert_mode": "0644",
            "key_mode": "0600",
            "ssh_port": "22",
        },
    )
    assert response.status_code == 200
    assert "kind" in response.context["form"].errors
    assert not DeploymentTarget.objects.exists()

    secret = vault.store_secret(acme, kind=SecretKind.SSH_KEY, name="k", value=b"k", actor=None)
    response = client.post(
        add,
        {
            "name": "web01",
            "kind": "ssh",
            "ssh_host": "web01.acme.example",
            "ssh_port": "22",
            "ssh_username": "deploy",
            "ssh_secret": secret.pk,
            "ssh_host_key": HOST_KEY,
            "fullchain_path": "/etc/nginx/tls/www.pem",
            "key_path": "/etc/nginx/tls/www.key",
            "cert_mode": "0644",
            "key_mode": "4755",
            "reload_command": "rm -rf /",
        },
    )
    errors = response.context["form"].errors
    assert "Not one of the reload commands allowed" in errors["reload_command"][0]
    assert "0000 to 0777" in errors["key_mode"][0]  # no set-user-ID file

    target = DeploymentTarget.objects.create(
        managed=managed,
        name="local",
        kind=TargetKind.LOCAL,
        fullchain_path=f"{roots}/a.pem",
        key_path=f"{roots}/a.key",
    )
    assert client.get(reverse("deployment_target_edit", args=[target.pk])).status_code == 403
    assert client.post(reverse("deployment_target_delete", args=[target.pk])).status_code == 403
    client.force_login(provider_admin)
    assert client.get(reverse("deployment_target_edit", args=[target.pk])).status_code == 200


# --- at deployment time -------------------------------------------------------------------------


@pytest.mark.req("CERT-09")
def test_a_stored_target_with_a_command_not_allowed_never_runs_it(site, deploy_ca, tmp_path):
    marker = tmp_path / "ran"
    before = site.cert_file.read_bytes()
    # Saved before the rules existed (no validation on create()).
    target = site.target(reload_command=shlex.join(["touch", str(marker)]))
    new_certificate(site.managed, deploy_ca)
    [queued] = Deployment.objects.filter(target=target)

    done = deploy.run_deployment(queued.pk)

    assert done.state == DeploymentState.FAILED
    assert "Not one of the reload commands allowed" in done.error
    assert not marker.exists()
    assert site.cert_file.read_bytes() == before  # nothing written either
    assert [step["step"] for step in done.log] == ["queued", "start", "failed", "gave up"]


@pytest.mark.req("CERT-09")
def test_a_target_whose_directory_was_taken_out_of_the_roots_writes_nothing(
    site, deploy_ca, settings, tmp_path
):
    before = site.cert_file.read_bytes()
    target = site.target()
    new_certificate(site.managed, deploy_ca)
    settings.MAMORI_DEPLOY_ROOTS = [str(tmp_path / "elsewhere")]
    [queued] = Deployment.objects.filter(target=target)

    done = deploy.run_deployment(queued.pk)

    assert done.state == DeploymentState.FAILED
    assert "Not under a directory Mamori may write to" in done.error
    assert site.cert_file.read_bytes() == before
    assert not list(site.cert_file.parent.glob("*.bak"))


@pytest.mark.req("CERT-09")
def test_a_symbolic_link_swapped_in_after_saving_is_not_followed(
    site, deploy_ca, settings, tmp_path
):
    """The key file becomes a link to the master key after the target was checked: the
    deployment neither copies the master key into a backup nor overwrites it."""
    master = os.environ["MAMORI_MASTER_KEY_FILE"]
    with open(master, "rb") as f:
        secret = f.read()
    target = site.target()
    new_certificate(site.managed, deploy_ca)
    site.key_file.unlink()
    site.key_file.symlink_to(master)
    [queued] = Deployment.objects.filter(target=target)

    done = deploy.run_deployment(queued.pk)

    assert done.state == DeploymentState.FAILED
    assert "Mamori keeps its own data there" in done.error
    with open(master, "rb") as f:
        assert f.read() == secret
    for kept in site.key_file.parent.iterdir():
        assert kept.is_symlink() or kept.read_bytes() != secret


@pytest.mark.req("CERT-09")
def test_every_deployment_is_on_the_audit_trail_automatic_or_not(site, deploy_ca):
    target = site.target()
    renewed = new_certificate(site.managed, deploy_ca)  # queued by the lifecycle, not a person

    assert deploy.drive_due() == 1

    deployment = Deployment.objects.get(target=target)
    assert deployment.state == DeploymentState.SUCCEEDED, deployment.error
    events = AuditEvent.objects.filter(
        object_type="lifecycle.Deployment", object_id=str(deployment.pk)
    ).order_by("sequence")
    assert [(e.action, e.actor_label) for e in events] == [
        ("deployment.create", "mamori"),
        ("deployment.succeeded", "mamori"),
    ]
    done = events.last().changes
    assert done["kind"] == "local" and done["certificate"] == renewed.fingerprint_sha256
    assert done["files"] == [str(site.cert_file), str(site.key_file)]
    assert done["reload_command"] == target.reload_command


# --- certificates handed over by a person -------------------------------------------------------


@pytest.mark.req("CERT-09")
def test_an_uploaded_certificate_must_chain_to_a_trusted_root(
    managed, subcontractor, client, deploy_ca, settings, tmp_path
):
    """A subcontractor's own CA signs a certificate for the order's key: refused, by the API
    and by the page, and nothing is queued for deployment."""
    from mamori.certificates import services
    from mamori.lifecycle import manual
    from tests.lifecycle.deploy.conftest import issue_for_order

    services._base_trust_store.cache_clear()
    order = manual.create_manual_order(managed, actor=None)
    pem = issue_for_order(deploy_ca, order)  # the test CA: nobody's trusted root
    token = create_token(subcontractor, "t")[1]

    response = client.post(
        f"/api/v1/orders/{order.pk}/certificate",
        {"pem": pem},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 422, response.content
    assert "does not chain to a trusted root certificate" in str(response.json())
    client.force_login(subcontractor)
    page = client.post(reverse("order_upload", args=[order.pk]), {"pem": pem}).content.decode()
    assert "does not chain to a trusted root certificate" in page
    managed.refresh_from_db()
    assert managed.certificate_id is None and not Deployment.objects.exists()

    # The provider trusts its private CA explicitly: then it is accepted.
    bundle = tmp_path / "roots.pem"
    bundle.write_text(root_pem(deploy_ca))
    settings.MAMORI_CA_BUNDLE = str(bundle)
    services._base_trust_store.cache_clear()
    try:
        manual.upload_certificate(order, pem, actor=subcontractor)
    finally:
        services._base_trust_store.cache_clear()
    managed.refresh_from_db()
    assert managed.certificate_id is not None


def root_pem(ca) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return ca.root.public_bytes(Encoding.PEM).decode()


# --- HTTP-01 webroots on the Mamori host --------------------------------------------------------


@pytest.mark.req("CERT-06")
@pytest.mark.parametrize(
    ("webroot", "message"),
    [
        ("../../../etc", "Give an absolute path (starting with /)."),
        ("/var/www/../../etc", "A path cannot contain '.' or '..' parts"),
        ("/etc", "Not under a directory Mamori may write to"),
    ],
)
def test_a_webroot_on_the_mamori_host_lies_under_the_deploy_roots(
    webroot, message, acme, roots, provider_admin
):
    text = f"""\
clients:
  - code: acme
    managed_certificates:
      - name: www
        names: [www.acme.example]
        issuer: manual
        challenge: http-webroot
        challenge_settings: {{webroot: "{webroot}"}}
"""
    report = import_yaml(text, provider_admin)

    assert len(report.errors) == 1 and message in str(report.errors[0]), report.errors
    assert ".challenge_settings: webroot:" in str(report.errors[0])
    assert not ManagedCertificate.objects.exists()
