"""Fixtures for deployment tests: a test PKI, a real nginx serving the endpoint, a real sshd on
loopback, and a managed certificate whose certificates are issued for the keys Mamori generates
(by the test CA, through ``orders.create_order`` + ``orders.complete_order`` with the "manual"
issuer, as a commercial CA would)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mamori.demo.pki import CertificateAuthority
from mamori.inventory.models import Endpoint
from mamori.lifecycle import orders
from mamori.lifecycle.models import (
    DeploymentTarget,
    IssuerKind,
    ManagedCertificate,
    RenewalInstruction,
    TargetKind,
)
from tests.support.env import require_binary
from tests.support.nginx import Nginx, find_nginx

NAME = "www.acme.example"


@pytest.fixture(scope="session")
def deploy_root() -> CertificateAuthority:
    return CertificateAuthority.create("Mamori Deploy Test Root")


@pytest.fixture(scope="session")
def deploy_ca(deploy_root) -> CertificateAuthority:
    return deploy_root.intermediate("Mamori Deploy Test Issuing CA")


@pytest.fixture
def nginx(tmp_path):
    require_binary("nginx", find_nginx() or "/usr/sbin/nginx")
    server = Nginx(tmp_path / "nginx")
    yield server
    server.stop()


def issue_for_order(ca: CertificateAuthority, order, *, days: float = 90) -> str:
    """What a CA returns for ``order``: a certificate for the CSR's key and names, then the
    chain (PEM)."""
    csr = x509.load_pem_x509_csr(order.csr_pem.encode())
    now = dt.datetime.now(dt.UTC)
    names = [x509.DNSName(n) for n in order.names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, order.names[0])]))
        .issuer_name(ca.cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    leaf = cert.public_bytes(Encoding.PEM).decode()
    return leaf + ca.cert.public_bytes(Encoding.PEM).decode()


def new_certificate(managed: ManagedCertificate, ca: CertificateAuthority):
    """Order and receive a new certificate for ``managed`` (queues its deployments)."""
    order = orders.create_order(managed)
    cert = orders.complete_order(order, issue_for_order(ca, order))
    managed.refresh_from_db()
    return cert


@dataclass
class Site:
    """A managed certificate installed on an nginx site, and its endpoint."""

    nginx: Nginx
    managed: ManagedCertificate
    endpoint: Endpoint
    first: object  # the certificate served at the start
    cert_file: Path
    key_file: Path
    port: int

    def target(self, **fields) -> DeploymentTarget:
        values = {
            "name": "web",
            "kind": TargetKind.LOCAL,
            "endpoint": self.endpoint,
            "fullchain_path": str(self.cert_file),
            "key_path": str(self.key_file),
            "cert_mode": "0640",
            "key_mode": "0600",
            "reload_command": f"kill -HUP {self.nginx.pid}",
        }
        values.update(fields)
        return DeploymentTarget.objects.create(managed=self.managed, **values)

    def served_fingerprint(self) -> str | None:
        import asyncio

        from mamori.certificates.services import target_for, trust_store_for
        from mamori.probe import probe_tls

        result = asyncio.run(
            probe_tls(
                target_for(self.endpoint),
                trust=trust_store_for(self.endpoint),
                check_legacy_protocols=False,
                fetch_aia=False,
            )
        )
        return result.certificate.fingerprint_sha256 if result.certificate else None


@pytest.fixture
def site(nginx, deploy_root, deploy_ca, acme, settings) -> Site:
    """nginx serving the managed certificate's current certificate (first issued by hand) on
    127.0.0.1, and the endpoint that watches it. The reload command that tells this nginx to
    reload (and ``true``) are the commands the Mamori host allows (MAMORI_DEPLOY_COMMANDS)."""
    # A standing instruction: these tests renew the certificate again and again to deploy it.
    managed = ManagedCertificate.objects.create(
        client=acme,
        name="www",
        names=[NAME],
        issuer=IssuerKind.MANUAL,
        renewal_instruction=RenewalInstruction.STANDING,
    )
    first = new_certificate(managed, deploy_ca)
    from mamori.vault import services as vault

    key_pem = vault.decrypt_for_export(managed.key_secret).decode()
    port = nginx.add_site("www", cert=(first.pem, key_pem, managed.chain_pem))
    nginx.start()
    settings.MAMORI_DEPLOY_COMMANDS = [f"kill -HUP {nginx.pid}", "true"]
    endpoint = Endpoint.objects.create(
        client=acme, host="127.0.0.1", port=port, sni=NAME, trust_bundle=deploy_root.cert_pem
    )
    return Site(
        nginx=nginx,
        managed=managed,
        endpoint=endpoint,
        first=first,
        cert_file=nginx.prefix / "certs" / "www.crt",
        key_file=nginx.prefix / "certs" / "www.key",
        port=port,
    )


@pytest.fixture
def fast_verify(monkeypatch):
    """Give up on a certificate that is not served after about a second (not seven)."""
    from mamori.lifecycle import deploy

    monkeypatch.setattr(deploy, "VERIFY_DELAYS", (0.1, 0.2, 0.3, 0.4))
