"""A test CA with a real OCSP responder and CRL server on loopback (http.server in a thread),
and helpers to put its certificates on acme's endpoints."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.utils import timezone

from mamori.certificates.models import CertificateSighting
from mamori.demo.pki import CertificateAuthority, IssuedCert
from mamori.inventory.models import Endpoint
from mamori.lifecycle import orders


@dataclass
class RevocationServer:
    """Serves ``/crl`` (DER, signed by ``ca``) and ``/ocsp`` (answers signed by ``ca``)."""

    ca: CertificateAuthority
    revoked: dict[int, dt.datetime] = field(default_factory=dict)
    issued: dict[int, x509.Certificate] = field(default_factory=dict)
    mode: str = "normal"  # or "garbage", "ocsp_down"; stop() takes the server down
    crl_signer: CertificateAuthority | None = None
    requests: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issue(self, names: list[str], *, ocsp_url: bool = True, crl_url: bool = True) -> IssuedCert:
        issued = self.ca.issue(
            names,
            ocsp_url=f"{self.base}/ocsp" if ocsp_url else None,
            crl_url=f"{self.base}/crl" if crl_url else None,
        )
        self.issued[issued.cert.serial_number] = issued.cert
        return issued

    def revoke(self, issued: IssuedCert) -> None:
        self.revoked[issued.cert.serial_number] = timezone.now().replace(microsecond=0)

    def crl(self) -> bytes:
        signer = self.crl_signer or self.ca
        now = timezone.now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.cert.subject)
            .last_update(now - dt.timedelta(minutes=1))
            .next_update(now + dt.timedelta(days=1))
        )
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(when)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
        return builder.sign(signer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp(self, body: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(body)
        cert = self.issued[request.serial_number]
        now = timezone.now()
        revoked_at = self.revoked.get(request.serial_number)
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=cert,
                issuer=self.ca.cert,
                algorithm=hashes.SHA1(),
                cert_status=ocsp.OCSPCertStatus.REVOKED if revoked_at else ocsp.OCSPCertStatus.GOOD,
                this_update=now - dt.timedelta(minutes=1),
                next_update=now + dt.timedelta(hours=12),
                revocation_time=revoked_at,
                revocation_reason=x509.ReasonFlags.key_compromise if revoked_at else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca.cert)
            .sign(self.ca.key, hashes.SHA256())
        )
        return response.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def revocation_server():
    ca = CertificateAuthority.create("Revocation Test Root").intermediate("Revocation Test CA")
    state = RevocationServer(ca)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            state.requests.append(f"GET {self.path}")
            if state.mode == "garbage":
                return self._send(b"<html>not a CRL</html>", "text/html")
            if self.path == "/crl":
                return self._send(state.crl(), "application/pkix-crl")
            self.send_error(404)

        def do_POST(self):
            state.requests.append(f"POST {self.path}")
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state.mode == "garbage":
                return self._send(b"<html>Service Unavailable</html>", "text/html")
            if state.mode == "ocsp_down":
                return self.send_error(503)
            return self._send(state.ocsp(body), "application/ocsp-response")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    state.stop = stop
    yield state
    if thread.is_alive():
        stop()


def serve_on(client, host: str, issued: IssuedCert, site=None) -> Endpoint:
    """An endpoint of ``client`` serving ``issued`` now, with its chain as served."""
    cert = orders.certificate_from_pem(issued.cert_pem)
    endpoint = Endpoint.objects.create(client=client, host=host, site=site)
    now = timezone.now()
    CertificateSighting.objects.create(
        certificate=cert,
        endpoint=endpoint,
        chain_pem=issued.chain_pem,
        first_seen_at=now,
        last_seen_at=now,
    )
    endpoint.current_certificate = cert
    endpoint.save(update_fields=["current_certificate"])
    return endpoint
