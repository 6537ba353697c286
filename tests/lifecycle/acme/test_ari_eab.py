"""Renewal information (RFC 9773) from a CA's directory, external account binding (CERT-06)."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509

from mamori.demo.pki import CertificateAuthority
from mamori.lifecycle import acme as engine
from mamori.lifecycle import orders
from mamori.lifecycle.models import AcmeAccount
from mamori.vault import services as vault
from tests.support.pebble import Pebble

DB = ["default", "keystore"]
WINDOW_START = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
WINDOW_END = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


class _AriCA(BaseHTTPRequestHandler):
    """What a CA with ARI serves: a directory naming renewalInfo, and the window per cert."""

    requested: list[str] = []

    def log_message(self, *args):
        return None

    def do_GET(self):
        base = f"http://127.0.0.1:{self.server.server_port}"
        if self.path == "/dir":
            body = {
                "newNonce": f"{base}/nonce",
                "newAccount": f"{base}/account",
                "newOrder": f"{base}/order",
                "revokeCert": f"{base}/revoke",
                "keyChange": f"{base}/key-change",
                "renewalInfo": f"{base}/renewal-info",
            }
            headers = {}
        elif self.path.startswith("/renewal-info/"):
            self.requested.append(self.path.rsplit("/", 1)[1])
            body = {
                "suggestedWindow": {
                    "start": WINDOW_START.isoformat().replace("+00:00", "Z"),
                    "end": WINDOW_END.isoformat().replace("+00:00", "Z"),
                }
            }
            headers = {"Retry-After": "3600"}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def ari_ca():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AriCA)
    _AriCA.requested = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.req("CERT-06")
@pytest.mark.django_db(databases=DB)
def test_renewal_info_reads_the_window(acme, ari_ca, make_managed):
    account = AcmeAccount.objects.create(
        client=acme, name="ari", directory_url=f"http://127.0.0.1:{ari_ca.server_port}/dir"
    )
    issued = CertificateAuthority.create("ARI Test Root").issue(["www.ari.example"], days=30)
    managed = make_managed(["www.ari.example"], acme_account=account, name="ari")
    managed.certificate = orders.certificate_from_pem(issued.cert_pem)
    managed.save()
    before = datetime.now(UTC)
    info = engine.renewal_info(managed)
    assert info["window_start"] == WINDOW_START and info["window_end"] == WINDOW_END
    assert WINDOW_START <= info["renew_at"] <= WINDOW_END
    assert timedelta(minutes=59) < info["next_check_at"] - before < timedelta(minutes=61)
    # The certificate is named as RFC 9773 §4.1 says: AKI key identifier "." serial.
    cert = x509.load_pem_x509_certificate(issued.cert_pem.encode())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    expected_aki = base64.urlsafe_b64encode(aki.key_identifier).rstrip(b"=").decode()
    assert _AriCA.requested == [engine.ari_cert_id(cert)]
    assert _AriCA.requested[0].split(".")[0] == expected_aki


@pytest.mark.req("CERT-06")
@pytest.mark.django_db(databases=DB)
def test_renewal_info_none_without_ari(make_managed, pebble):
    issued = CertificateAuthority.create("No ARI Root").issue(["www.noari.example"], days=30)
    managed = make_managed(["www.noari.example"])
    managed.certificate = orders.certificate_from_pem(issued.cert_pem)
    managed.save()
    assert engine.renewal_info(managed) is None  # Debian's Pebble offers no renewalInfo


@pytest.fixture
def eab_pebble(tmp_path, pdns):
    hmac_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    server = Pebble(
        tmp_path / "pebble-eab", dns_server=pdns.dns_address, eab_keys={"kid-1": hmac_key}
    ).start()
    server.hmac_key = hmac_key
    yield server
    server.stop()


@pytest.mark.req("CERT-06")
@pytest.mark.django_db(databases=DB)
def test_external_account_binding(acme, eab_pebble):
    def account(name, kid="", hmac=None):
        secret = None
        if hmac is not None:
            secret = vault.store_secret(
                acme, kind="api_token", name=f"EAB {name}", value=hmac, actor=None
            )
        return AcmeAccount.objects.create(
            client=acme,
            name=name,
            directory_url=eab_pebble.directory_url,
            ca_bundle=eab_pebble.ca_bundle_pem,
            eab_kid=kid,
            eab_hmac_secret=secret,
        )

    without = account("without")
    with pytest.raises(engine.AcmeProblem) as refused:
        engine.register_account(without)
    assert refused.value.problem_type.endswith("externalAccountRequired")
    wrong = account("wrong", "kid-1", base64.urlsafe_b64encode(b"x" * 32).decode())
    with pytest.raises(engine.AcmeProblem):
        engine.register_account(wrong)
    bound = account("bound", "kid-1", eab_pebble.hmac_key)
    engine.register_account(bound)
    bound.refresh_from_db()
    assert bound.account_url and bound.registered_at
    assert eab_pebble.hmac_key not in str(refused.value)
