"""A small, realistic inventory for the page, API and browser tests.

``scene`` gives ``acme`` an endpoint with problems, one serving a certificate inside its notice
window, one not checked yet, a replaced certificate, events and notices (one to a contact, one
failed internal one); ``globex`` gets one broken endpoint and a notice of its own. Certificates are
real X.509 certificates from the test PKI, so the pages parse them like production data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from mamori.certificates.models import (
    Certificate,
    CertificateEvent,
    CertificateSighting,
    EventKind,
)
from mamori.clients.models import Client
from mamori.demo.pki import CertificateAuthority, IssuedCert
from mamori.inventory.models import Endpoint, EndpointState, Server, ServerKind, Site
from mamori.notices.models import Channel, Notice, NoticeKind, NoticeState, RecipientKind
from mamori.probe.x509info import CertInfo


@dataclass
class Issued:
    certificate: Certificate
    issued: IssuedCert


def make_certificate(
    ca: CertificateAuthority, names: list[str], *, days_left: float, lifetime: float = 365
) -> Issued:
    """A real certificate for ``names`` expiring in ``days_left`` days, stored in the inventory."""
    now = timezone.now()
    issued = ca.issue(
        names,
        not_before=now - dt.timedelta(days=lifetime - days_left),
        not_after=now + dt.timedelta(days=days_left),
    )
    info = CertInfo.from_pem(issued.cert_pem)
    cert = Certificate.objects.create(
        fingerprint_sha256=info.fingerprint_sha256,
        subject=info.subject,
        subject_cn=info.subject_cn or "",
        sans=info.sans,
        issuer=info.issuer,
        issuer_cn=info.issuer_cn or "",
        serial=info.serial,
        not_before=info.not_before,
        not_after=info.not_after,
        key_type=info.key_type,
        key_bits=info.key_bits,
        signature_algorithm=info.signature_algorithm,
        self_signed=info.self_signed,
        pem=issued.cert_pem,
        first_seen_at=now - dt.timedelta(days=10),
        last_seen_at=now,
    )
    return Issued(cert, issued)


def serve(endpoint: Endpoint, issued: Issued, *, since_days: float = 10, ended_days=None):
    """Record that ``endpoint`` served the certificate (now, or until ``ended_days`` ago)."""
    now = timezone.now()
    ended = now - dt.timedelta(days=ended_days) if ended_days is not None else None
    sighting = CertificateSighting.objects.create(
        certificate=issued.certificate,
        endpoint=endpoint,
        chain_pem=issued.issued.chain_pem,
        first_seen_at=now - dt.timedelta(days=since_days),
        last_seen_at=ended or now,
        ended_at=ended,
    )
    if ended is None:
        endpoint.current_certificate = issued.certificate
        endpoint.save(update_fields=["current_certificate"])
    return sighting


@dataclass
class Scene:
    acme: Client
    globex: Client
    site: Site
    server: Server
    problem_endpoint: Endpoint
    expiring_endpoint: Endpoint
    unchecked_endpoint: Endpoint
    globex_endpoint: Endpoint
    wrong_cert: Certificate
    expiring_cert: Certificate
    old_cert: Certificate
    globex_cert: Certificate
    notice: Notice
    internal_notice: Notice
    globex_notice: Notice
    event: CertificateEvent


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The users of tests/conftest.py get real passwords; hashing them slowly buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def test_ca() -> CertificateAuthority:
    root = CertificateAuthority.create()
    return root.intermediate("Mamori Test Issuing CA")


@pytest.fixture
def scene(acme, globex, test_ca, settings, tmp_path) -> Scene:
    from cryptography.hazmat.primitives.serialization import Encoding

    from mamori.certificates import services
    from tests.web.cases_lifecycle_orders import commercial_ca

    # The provider trusts the commercial CA its orders are issued by (MAMORI_CA_BUNDLE).
    bundle = tmp_path / "provider-roots.pem"
    bundle.write_bytes(commercial_ca().root.public_bytes(Encoding.PEM))
    settings.MAMORI_CA_BUNDLE = str(bundle)
    services._base_trust_store.cache_clear()
    now = timezone.now()
    server = Server.objects.create(
        client=acme, name="web01", kind=ServerKind.VPS, os="Ubuntu 24.04"
    )
    site = Site.objects.create(
        client=acme,
        name="コーポレートサイト",
        url="https://www.acme.example/",
        server=server,
        cms="WordPress",
    )
    checked = {
        "last_checked_at": now - dt.timedelta(minutes=5),
        "next_check_at": now + dt.timedelta(hours=6),
    }

    problem_endpoint = Endpoint.objects.create(
        client=acme,
        site=site,
        server=server,
        host="shop.acme.example",
        state=EndpointState.PROBLEM,
        problems=["incomplete_chain", "hostname_mismatch"],
        last_result={"tls_version": "TLSv1.3", "error": None},
        **checked,
    )
    wrong = make_certificate(test_ca, ["legacy.acme.example"], days_left=200)
    serve(problem_endpoint, wrong)

    expiring_endpoint = Endpoint.objects.create(
        client=acme,
        site=site,
        host="www.acme.example",
        state=EndpointState.OK,
        last_result={"tls_version": "TLSv1.3"},
        **checked,
    )
    old = make_certificate(test_ca, ["www.acme.example"], days_left=-30)
    serve(expiring_endpoint, old, since_days=400, ended_days=60)
    expiring = make_certificate(test_ca, ["www.acme.example", "acme.example"], days_left=20.5)
    serve(expiring_endpoint, expiring, since_days=60)

    unchecked_endpoint = Endpoint.objects.create(client=acme, host="mail.acme.example", port=993)

    globex_endpoint = Endpoint.objects.create(
        client=globex,
        host="www.globex.example",
        state=EndpointState.PROBLEM,
        problems=["expired"],
        **checked,
    )
    globex_cert = make_certificate(test_ca, ["www.globex.example"], days_left=-3, lifetime=90)
    serve(globex_endpoint, globex_cert)

    event = CertificateEvent.objects.create(
        kind=EventKind.PROBLEM,
        endpoint=problem_endpoint,
        certificate=wrong.certificate,
        problems=["hostname_mismatch", "incomplete_chain"],
    )
    CertificateEvent.objects.create(
        kind=EventKind.REPLACED,
        endpoint=expiring_endpoint,
        certificate=expiring.certificate,
        previous_certificate=old.certificate,
        created_at=now - dt.timedelta(days=60),
    )
    notice = Notice.objects.create(
        key="test:acme:expiring:yamada",
        kind=NoticeKind.CERT_EXPIRING,
        channel=Channel.EMAIL,
        client=acme,
        recipient_kind=RecipientKind.CONTACT,
        contact=acme.contacts.get(email="yamada@acme.example"),
        recipient="yamada@acme.example",
        language="ja",
        subject="【Mamori】SSL証明書の有効期限が近づいています: www.acme.example",
        body_text="山田太郎 様\n\nwww.acme.example の SSL 証明書はあと 30 日で有効期限を迎えます。",
        endpoint=expiring_endpoint,
        certificate=expiring.certificate,
        state=NoticeState.SENT,
        attempts=1,
        sent_at=now - dt.timedelta(days=10),
        message_id="<test-1@mamori>",
    )
    internal_notice = Notice.objects.create(
        key="test:acme:problem:operator",
        kind=NoticeKind.ENDPOINT_PROBLEM,
        channel=Channel.EMAIL,
        client=acme,
        recipient_kind=RecipientKind.OPERATOR,
        recipient="ops-internal@provider.example",
        language="ja",
        subject="[operator] shop.acme.example internal alert",
        body_text="internal",
        endpoint=problem_endpoint,
        state=NoticeState.FAILED,
        attempts=5,
        last_error="550 mailbox unavailable",
    )
    globex_notice = Notice.objects.create(
        key="test:globex:problem",
        kind=NoticeKind.ENDPOINT_PROBLEM,
        channel=Channel.EMAIL,
        client=globex,
        recipient_kind=RecipientKind.CONTACT,
        recipient="it@globex.example",
        language="en",
        subject="Certificate problem on www.globex.example",
        body_text="The certificate has expired.",
        endpoint=globex_endpoint,
        certificate=globex_cert.certificate,
        state=NoticeState.SENT,
        sent_at=now,
    )
    return Scene(
        acme=acme,
        globex=globex,
        site=site,
        server=server,
        problem_endpoint=problem_endpoint,
        expiring_endpoint=expiring_endpoint,
        unchecked_endpoint=unchecked_endpoint,
        globex_endpoint=globex_endpoint,
        wrong_cert=wrong.certificate,
        expiring_cert=expiring.certificate,
        old_cert=old.certificate,
        globex_cert=globex_cert.certificate,
        notice=notice,
        internal_notice=internal_notice,
        globex_notice=globex_notice,
        event=event,
    )


@pytest.fixture
def login(client):
    """Sign a user in with the test client; returns the client."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
