"""The lifecycle in the inventory file: ACME accounts, managed certificates and their deployment
targets (docs/import-format.md), with vault secrets referred to by name, never by value."""

from __future__ import annotations

import pytest
from django.utils import translation

from mamori.core.models import AuditEvent
from mamori.inventory.models import Endpoint, Server
from mamori.inventory.transfer import export_inventory, import_file
from mamori.lifecycle.models import AcmeAccount, DeploymentTarget, ManagedCertificate
from mamori.vault.models import SecretKind
from mamori.vault.services import destroy_secret, store_secret

pytestmark = pytest.mark.django_db(databases=["default", "keystore"])

EAB_VALUE = "eab-hmac-Zm9vYmFyYmF6cXV4"
PDNS_VALUE = "pdns-api-key-s3cr3t-value"
SSH_VALUE = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n"
)

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq1suDgoNHZpEmiKGGx1MTMhD9kNockETisdI3s5C4o"
LIFECYCLE = """\
version: 1
clients:
  - code: acme
    servers:
      - {name: web01, kind: vps}
    endpoints:
      - {host: www.acme.example, port: 443, server: web01}
      - {host: 127.0.0.1, port: 8443, sni: api.acme.example}
    acme_accounts:
      - name: pebble
        directory_url: https://acme.example.net/directory
        contact_email: ops@provider.example
        key_type: ec256
        eab_kid: kid-1
        eab_hmac_secret: "eab key"
    managed_certificates:
      - name: www
        names: [www.acme.example, ACME.example.]
        key_type: EC384
        key_policy: reuse
        issuer: acme
        acme_account: pebble
        acme_profile: shortlived
        challenge: dns
        challenge_settings: {provider: powerdns, zone: acme.example, propagation_timeout: 60}
        challenge_credential: "pdns api key"
        renewal_instruction: standing
        contract: ssl_management
        deployment_targets:
          - name: web01 nginx
            kind: ssh
            endpoint: "www.acme.example:443"
            server: web01
            ssh_host: 127.0.0.1
            ssh_port: 2222
            ssh_username: deploy
            ssh_credential: "web01 deploy key"
            ssh_host_key: "[127.0.0.1]:2222 HOST_KEY"
            fullchain_path: /etc/nginx/tls/www.pem
            key_path: /etc/nginx/tls/www.key
            key_mode: "0640"
            group: www-data
            reload_command: systemctl reload nginx
          - name: api local
            kind: local
            endpoint: "127.0.0.1:8443/api.acme.example"
            cert_path: /srv/tls/api.crt
            chain_path: /srv/tls/api-chain.crt
            key_path: /srv/tls/api.key
            enabled: false
      - name: shop
        names: ["*.shop.acme.example"]
        issuer: manual
        ca_name: Example CA via Reseller
        product: OV SSL
        renewal_instruction: approval
""".replace("HOST_KEY", HOST_KEY)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def deploy_settings(settings):
    """The Mamori host of these files lets local targets and webroots write under /srv/tls and
    /srv/www, and allows the reload commands they name (docs/access.md); nothing is written or
    run here."""
    settings.MAMORI_DEPLOY_ROOTS = ["/srv/tls", "/srv/www"]
    settings.MAMORI_DEPLOY_COMMANDS = [
        "systemctl reload nginx",
        "nginx -s reload",
        "sudo systemctl reload nginx",
    ]


@pytest.fixture
def secrets(acme):
    """The client's vault secrets that the file names (values never appear in the file)."""
    return {
        "eab": store_secret(
            acme, kind=SecretKind.API_TOKEN, name="eab key", value=EAB_VALUE, actor=None
        ),
        "pdns": store_secret(
            acme, kind=SecretKind.API_TOKEN, name="pdns api key", value=PDNS_VALUE, actor=None
        ),
        "ssh": store_secret(
            acme, kind=SecretKind.SSH_KEY, name="web01 deploy key", value=SSH_VALUE, actor=None
        ),
    }


def load(text: str, **kwargs):
    return import_file(text.encode("utf-8"), filename="lifecycle.yaml", **kwargs)


def messages(report) -> list[str]:
    return [str(e) for e in report.errors]


def snapshot() -> dict[str, list]:
    return {
        model.__name__: sorted(map(str, model.objects.values_list()))
        for model in (
            AcmeAccount,
            ManagedCertificate,
            DeploymentTarget,
            Endpoint,
            Server,
            AuditEvent,
        )
    }


@pytest.mark.req("CERT-06")
@pytest.mark.req("CERT-09")
def test_it_imports_accounts_certificates_and_targets_with_secrets_by_name(acme, secrets):
    report = load(LIFECYCLE)

    assert report.ok, messages(report)
    created = {k: c["created"] for k, c in report.counts.items() if c["created"]}
    assert created == {
        "servers": 1,
        "endpoints": 2,
        "acme_accounts": 1,
        "managed_certificates": 2,
        "deployment_targets": 2,
    }
    account = AcmeAccount.objects.get(client=acme, name="pebble")
    assert (account.directory_url, account.contact_email, account.key_type) == (
        "https://acme.example.net/directory",
        "ops@provider.example",
        "ec256",
    )
    assert (account.eab_kid, account.eab_hmac_secret) == ("kid-1", secrets["eab"])
    assert account.account_url == "" and account.key_secret is None  # registered by Mamori

    www = ManagedCertificate.objects.get(client=acme, name="www")
    assert www.names == ["www.acme.example", "acme.example"]  # normalised, order kept
    assert (www.key_type, www.key_policy, www.issuer) == ("ec384", "reuse", "acme")
    assert (www.acme_account, www.acme_profile, www.challenge) == (account, "shortlived", "dns")
    assert www.challenge_settings == {
        "propagation_timeout": 60,
        "provider": "powerdns",
        "zone": "acme.example",
    }
    assert www.challenge_secret == secrets["pdns"]
    assert www.renewal_instruction == "standing"
    assert www.contract == acme.contracts.get(type="ssl_management")

    ssh = www.targets.get(name="web01 nginx")
    assert ssh.endpoint == Endpoint.objects.get(host="www.acme.example", port=443)
    assert ssh.server == Server.objects.get(client=acme, name="web01")
    assert (ssh.kind, ssh.ssh_host, ssh.ssh_port, ssh.ssh_username) == (
        "ssh",
        "127.0.0.1",
        2222,
        "deploy",
    )
    assert ssh.ssh_secret == secrets["ssh"]
    assert (ssh.fullchain_path, ssh.key_path, ssh.key_mode, ssh.cert_mode, ssh.group) == (
        "/etc/nginx/tls/www.pem",
        "/etc/nginx/tls/www.key",
        "0640",
        "0644",  # the model's default
        "www-data",
    )
    local = www.targets.get(name="api local")
    assert local.endpoint == Endpoint.objects.get(host="127.0.0.1", port=8443)
    assert (local.kind, local.enabled, local.chain_path) == (
        "local",
        False,
        "/srv/tls/api-chain.crt",
    )

    shop = ManagedCertificate.objects.get(client=acme, name="shop")
    assert (shop.names, shop.issuer, shop.ca_name, shop.acme_account) == (
        ["*.shop.acme.example"],
        "manual",
        "Example CA via Reseller",
        None,
    )

    # Audited, under the client, with secret references by name only.
    events = AuditEvent.objects.filter(action="import.create")
    target_event = events.get(object_type="lifecycle.DeploymentTarget", object_id=str(ssh.pk))
    assert target_event.client_id == acme.pk
    assert target_event.changes["ssh_port"] == 2222
    logged = str(list(AuditEvent.objects.values_list("changes", flat=True)))
    for value in (EAB_VALUE, PDNS_VALUE, "not-a-real-key"):
        assert value not in logged
    changes = {str(c) for c in report.changes}
    assert "create deployment_targets acme/www/web01 nginx" in changes


@pytest.mark.req("CERT-09")
def test_importing_twice_changes_nothing_and_one_field_updates_one_record(acme, secrets):
    assert load(LIFECYCLE).ok
    events = AuditEvent.objects.count()

    again = load(LIFECYCLE)

    assert again.ok, messages(again)
    assert again.total("created") == again.total("updated") == 0
    assert again.counts["deployment_targets"]["unchanged"] == 2
    assert AuditEvent.objects.count() == events

    changed = LIFECYCLE.replace(
        "reload_command: systemctl reload nginx", "reload_command: nginx -s reload"
    )
    third = load(changed)

    assert third.ok, messages(third)
    assert third.total("updated") == 1
    assert [str(c) for c in third.changes] == [
        "update deployment_targets acme/www/web01 nginx (reload_command)"
    ]
    event = AuditEvent.objects.get(action="import.update")
    assert event.changes == {"reload_command": ["systemctl reload nginx", "nginx -s reload"]}
    assert DeploymentTarget.objects.get(name="web01 nginx").reload_command == "nginx -s reload"


@pytest.mark.req("CERT-06")
def test_export_writes_the_same_fields_with_secret_names_and_round_trips(acme, secrets):
    assert load(LIFECYCLE).ok

    text = export_inventory(clients=["acme"])

    for value in (EAB_VALUE, PDNS_VALUE, "not-a-real-key"):
        assert value not in text
    assert "eab_hmac_secret: eab key" in text
    assert "challenge_credential: pdns api key" in text
    assert "ssh_credential: web01 deploy key" in text
    assert "endpoint: 127.0.0.1:8443/api.acme.example" in text
    assert "endpoint: www.acme.example:443" in text
    assert (
        "challenge_settings: {propagation_timeout: 60, provider: powerdns, zone: acme.example}"
        in text
    )
    assert "account_url" not in text and "key_secret" not in text

    # Into an empty lifecycle (the secrets stay in the vault): the same records, the same file.
    ManagedCertificate.objects.all().delete()
    AcmeAccount.objects.all().delete()
    report = import_file(text.encode(), filename="export.yaml")
    assert report.ok, messages(report)
    assert report.counts["deployment_targets"]["created"] == 2
    assert export_inventory(clients=["acme"]) == text
    assert import_file(text.encode(), filename="export.yaml").total("updated") == 0


@pytest.mark.req("CERT-06")
@pytest.mark.req("CERT-09")
def test_every_problem_is_reported_with_line_and_field_and_nothing_is_written(acme, secrets):
    before = snapshot()
    bad = """\
version: 1
clients:
  - code: acme
    acme_accounts:
      - name: le
        directory_url: https://acme.example.net/directory
        eab_hmac_secret: "no such key"
        key_typ: ec256
    managed_certificates:
      - name: www
        names: [www.acme.example, "bad name!"]
        acme_account: missing
        challenge: http-webroot
        challenge_settings: {webroot: /var/www, api_token: abc}
        challenge_credential: "pdns api key"
        deployment_targets:
          - name: t1
            kind: local
            key_path: /k
            endpoint: "www.acme.example:99999"
            ssh_credential: "unknown key"
          - name: t2
            kind: floppy
            key_path: /k
            endpoint: "nowhere.acme.example:443"
            reload_comand: x
          - name: t2
            kind: local
            key_path: /k
      - name: api
        names: [api.acme.example]
        acme_account: le
        challenge_credential: "pdns api key"
        deployment_targets:
          - {name: t1, kind: local, key_path: /k, ssh_credential: "also unknown"}
"""
    report = load(bad)

    assert not report.ok
    assert messages(report) == [
        "lifecycle.yaml:7: clients[0].acme_accounts[0].eab_hmac_secret: "
        "No secret named 'no such key' in this client's vault.",
        "lifecycle.yaml:8: clients[0].acme_accounts[0].key_typ: Unknown field 'key_typ'. "
        "Did you mean 'key_type'?",
        "lifecycle.yaml:11: clients[0].managed_certificates[0].names: 'bad name!': "
        "'bad name!' may contain only letters, digits and '-'.",
        "lifecycle.yaml:12: clients[0].managed_certificates[0].acme_account: "
        "No ACME account named 'missing' for this client.",
        "lifecycle.yaml:14: clients[0].managed_certificates[0].challenge_settings: 'api_token' "
        "looks like a secret: keep it in the vault and name it with challenge_credential.",
        "lifecycle.yaml:17: clients[0].managed_certificates[0].deployment_targets[0]"
        ".fullchain_path: Name the certificate file, the certificate + chain, or both.",
        "lifecycle.yaml:19: clients[0].managed_certificates[0].deployment_targets[0].key_path: "
        "'/k': Not under a directory Mamori may write to "
        "(MAMORI_DEPLOY_ROOTS: /srv/tls, /srv/www).",
        "lifecycle.yaml:20: clients[0].managed_certificates[0].deployment_targets[0].endpoint: "
        "'www.acme.example:99999': the port must be a whole number from 1 to 65535.",
        "lifecycle.yaml:21: clients[0].managed_certificates[0].deployment_targets[0]"
        ".ssh_credential: No secret named 'unknown key' in this client's vault.",
        "lifecycle.yaml:22: clients[0].managed_certificates[0].deployment_targets[1]"
        ".fullchain_path: Name the certificate file, the certificate + chain, or both.",
        "lifecycle.yaml:23: clients[0].managed_certificates[0].deployment_targets[1].kind: "
        "'floppy' is not one of: local, ssh.",
        "lifecycle.yaml:25: clients[0].managed_certificates[0].deployment_targets[1].endpoint: "
        "No endpoint 'nowhere.acme.example:443' for this client "
        "(write it as host:port, or host:port/sni).",
        "lifecycle.yaml:26: clients[0].managed_certificates[0].deployment_targets[1]"
        ".reload_comand: Unknown field 'reload_comand'. Did you mean 'reload_command'?",
        "lifecycle.yaml:27: clients[0].managed_certificates[0].deployment_targets[2]: "
        "The same record as on line 22 (same name).",
        "lifecycle.yaml:27: clients[0].managed_certificates[0].deployment_targets[2]"
        ".fullchain_path: Name the certificate file, the certificate + chain, or both.",
        "lifecycle.yaml:29: clients[0].managed_certificates[0].deployment_targets[2].key_path: "
        "'/k': Not under a directory Mamori may write to "
        "(MAMORI_DEPLOY_ROOTS: /srv/tls, /srv/www).",
        "lifecycle.yaml:35: clients[0].managed_certificates[1].deployment_targets[0]"
        ".ssh_credential: No secret named 'also unknown' in this client's vault.",
    ]
    assert snapshot() == before


def test_a_dry_run_reports_the_changes_and_writes_nothing(acme, secrets):
    before = snapshot()

    report = load(LIFECYCLE, dry_run=True)

    assert report.ok, messages(report)
    assert report.counts["managed_certificates"]["created"] == 2
    assert report.counts["deployment_targets"]["created"] == 2
    assert snapshot() == before


def test_secret_names_must_name_one_live_secret(acme, secrets):
    destroy_secret(secrets["ssh"], actor=None, reason="rotated")
    store_secret(acme, kind=SecretKind.API_TOKEN, name="pdns api key", value="x", actor=None)

    report = load(LIFECYCLE)

    assert messages(report) == [
        "lifecycle.yaml:26: clients[0].managed_certificates[0].challenge_credential: "
        "'pdns api key': The client's vault has several secrets with this name; "
        "rename one of them.",
        "lifecycle.yaml:37: clients[0].managed_certificates[0].deployment_targets[0]"
        ".ssh_credential: No secret named 'web01 deploy key' in this client's vault.",
    ]


def test_a_client_admin_may_neither_link_vault_secrets_nor_set_up_certificates(
    acme, secrets, owner
):
    report = load(LIFECYCLE, actor=owner)

    assert [str(e).split(": ", 1)[1] for e in report.errors] == [
        "clients[0].acme_accounts[0].eab_hmac_secret: "
        "Only the provider's staff may link the client's vault secrets.",
        "clients[0].managed_certificates[0].challenge_credential: "
        "Only the provider's staff may link the client's vault secrets.",
        "clients[0].managed_certificates[0].deployment_targets[0].ssh_credential: "
        "Only the provider's staff may link the client's vault secrets.",
        "clients[0].managed_certificates[1]: "
        "Only the provider's staff set up ACME accounts and managed certificates.",
    ]
    assert not ManagedCertificate.objects.exists()

    assert load(LIFECYCLE).ok  # the command line may
    assert load(LIFECYCLE, actor=owner).ok  # and a client admin may import it unchanged
    changed = LIFECYCLE.replace("acme_profile: shortlived", "acme_profile: classic")
    report = load(changed, actor=owner)
    assert [str(e).split(": ", 1)[1] for e in report.errors] == [
        "clients[0].managed_certificates[0]: "
        "Only the provider's staff set up ACME accounts and managed certificates.",
    ]
    assert ManagedCertificate.objects.get(name="www").acme_profile == "shortlived"


def test_a_target_key_is_its_name_within_its_certificate(acme, secrets):
    text = """\
version: 1
clients:
  - code: acme
    managed_certificates:
      - name: a
        names: [a.acme.example]
        issuer: manual
        deployment_targets:
          [{name: main, kind: local, fullchain_path: /srv/tls/a.pem, key_path: /srv/tls/a.key}]
      - name: b
        names: [b.acme.example]
        issuer: manual
        deployment_targets:
          [{name: main, kind: local, fullchain_path: /srv/tls/b.pem, key_path: /srv/tls/b.key}]
"""
    report = load(text)

    assert report.ok, messages(report)
    assert sorted(DeploymentTarget.objects.values_list("managed__name", "key_path")) == [
        ("a", "/srv/tls/a.key"),
        ("b", "/srv/tls/b.key"),
    ]
    assert load(text).total("unchanged") == 5  # client, 2 certificates, 2 targets


def test_challenge_settings_are_the_known_ones_of_the_method_and_hold_no_secret(acme, secrets):
    text = """\
version: 1
clients:
  - code: acme
    managed_certificates:
      - {name: a, names: [a.acme.example], challenge: http-webroot,
         challenge_settings: {webroot: /srv/www, zone: acme.example}}
      - {name: b, names: [b.acme.example], challenge: dns,
         challenge_settings: {provider: powerdns, zoen: acme.example}}
      - {name: c, names: [c.acme.example], challenge: dns,
         challenge_settings: {provider: powerdns, zone: acme.example,
                              options: {auth_token: s3cr3t}}}
      - {name: d, names: [d.acme.example], challenge: dns, challenge_credential: pdns api key,
         challenge_settings: {provider: powerdns, zone: acme.example,
                              credential_option: auth_token,
                              options: {pdns_server: "http://127.0.0.1:8081"}}}
"""
    report = load(text)

    assert messages(report) == [
        "lifecycle.yaml:6: clients[0].managed_certificates[0].challenge_settings: 'zone': "
        "not a setting of http-webroot (its settings: webroot).",
        "lifecycle.yaml:8: clients[0].managed_certificates[1].challenge_settings: "
        "Unknown field 'zoen'. Did you mean 'zone'?",
        "lifecycle.yaml:10: clients[0].managed_certificates[2].challenge_settings: "
        "'auth_token' looks like a secret: keep it in the vault and name it with "
        "challenge_credential.",
    ]
    assert "s3cr3t" not in str(report.as_dict())
    good = (
        text.split("      - {name: a")[0] + "      - {name: d" + text.split("      - {name: d")[1]
    )
    assert load(good).ok
    assert ManagedCertificate.objects.get(name="d").challenge_settings == {
        "credential_option": "auth_token",
        "options": {"pdns_server": "http://127.0.0.1:8081"},
        "provider": "powerdns",
        "zone": "acme.example",
    }


def test_the_documented_complete_example_imports(db):
    """docs/import-format.md's complete example, with the vault secrets it names."""
    from pathlib import Path

    from mamori.clients.models import Client

    docs = (Path(__file__).parents[2] / "docs" / "import-format.md").read_text()
    example = docs.split("### Complete example")[1].split("```yaml\n")[1].split("```")[0]
    first = import_file(example.encode(), filename="example.yaml")
    assert [str(e) for e in first.errors][:1] == [
        "example.yaml:45: clients[0].acme_accounts[1].eab_hmac_secret: "
        "No secret named 'CA EAB key' in this client's vault."
    ]
    client = Client.objects.create(code="sample", name="株式会社サンプル")
    for name in ("CA EAB key", "web01 deploy key"):
        store_secret(client, kind=SecretKind.OTHER, name=name, value="v", actor=None)

    report = import_file(example.encode(), filename="example.yaml")

    assert report.ok, messages(report)
    assert report.counts["deployment_targets"]["created"] == 1
    assert ManagedCertificate.objects.get(name="www").challenge_settings["ssh_username"] == "deploy"


@pytest.mark.req("ACC-01")
@pytest.mark.parametrize("role", ["owner", "member"])
def test_a_client_user_cannot_aim_mamori_at_an_acme_server_or_dns_api_by_import(
    role, request, acme
):
    """The import is no way around the pages and the API, where ACME accounts and managed
    certificates (with their DNS provider's server) are the provider's staff's to set up."""
    text = """\
version: 1
clients:
  - code: acme
    acme_accounts:
      - {name: inside, directory_url: "http://127.0.0.1:6379/directory"}
    managed_certificates:
      - name: www
        names: [www.acme.example]
        issuer: manual
        challenge: dns
        challenge_settings: {provider: powerdns, zone: acme.example,
                             options: {pdns_server: "http://127.0.0.1:8081"}}
"""
    report = load(text, actor=request.getfixturevalue(role))

    assert not report.ok
    if role == "owner":
        assert [str(e).split(": ", 2)[2] for e in report.errors] == [
            "Only the provider's staff set up ACME accounts and managed certificates."
        ] * 2
    assert not AcmeAccount.objects.exists() and not ManagedCertificate.objects.exists()
