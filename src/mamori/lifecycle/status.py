"""Revocation status of the certificates Mamori sees served (CERT-11).

For every certificate an endpoint serves now (and that has not expired), the CA is asked by OCSP
where the certificate names a responder, else through the CRLs of its distribution points. Every
answer is checked: an OCSP response must be signed by the issuer (or a responder the issuer
delegated to), a CRL by the issuer; the issuer comes from the chain the endpoint served. A
revoked certificate alerts the client's contacts and the operators once and opens a re-issue
task. A check that cannot be made is an open failure (once), resolved by the next good check.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from mamori.certificates.models import Certificate, CertificateSighting
from mamori.core import outbound
from mamori.core.sentences import Text
from mamori.inventory.models import Endpoint
from mamori.lifecycle import failures, orders, tasks
from mamori.lifecycle.fetch import FetchError, fetch
from mamori.lifecycle.models import (
    FailureKind,
    ManagedCertificate,
    RevocationStatus,
    RevocationStatusValue,
    TaskKind,
)
from mamori.notices import services as notices
from mamori.notices.models import NoticeKind

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(hours=12)
RETRY_AFTER = timedelta(hours=1)
TIMEOUT = 10  # seconds, per request
MAX_OCSP_BYTES = 64 * 1024
MAX_CRL_BYTES = 20 * 1024 * 1024
CLOCK_SKEW = timedelta(minutes=5)


class CheckError(Exception):
    """The status could not be established; the message says precisely why."""


@dataclass
class Result:
    status: str
    source: str
    revoked_at: datetime | None = None
    reason: str = ""


def _download(url: str, body: bytes | None, limit: int) -> bytes:
    try:
        kind = "application/ocsp-request" if body is not None else ""
        # The URL comes from the certificate: public addresses only (and the allowed networks).
        return fetch(
            url,
            limit=limit,
            timeout=TIMEOUT,
            body=body,
            content_type=kind,
            policy=outbound.policy(),
        ).content
    except FetchError as exc:
        raise CheckError(str(exc)) from None


def _verify(public_key, signature: bytes, data: bytes, hash_algorithm) -> None:
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
    else:
        public_key.verify(signature, data)


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier)
        and name.value.startswith(("http://", "https://"))
    ]


def find_issuer(cert: x509.Certificate, chain_pem: str) -> x509.Certificate:
    """The certificate in ``chain_pem`` that signed ``cert``."""
    for pem in orders.split_pem_chain(chain_pem or ""):
        try:
            candidate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            continue
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    raise CheckError(
        "the issuer's certificate is neither in the chain the endpoint served nor among its "
        "trust anchors"
    )


def _responder_key(response, issuer: x509.Certificate):
    """The public key that must have signed the OCSP response: the issuer's, or that of a
    responder certificate the issuer signed for OCSP signing (RFC 6960 §4.2.2.2)."""

    def names(candidate: x509.Certificate) -> bool:
        if response.responder_name is not None:
            return response.responder_name == candidate.subject
        # KeyHash: SHA-1 of the subjectPublicKey, which is what a key identifier of RFC 5280
        # §4.2.1.2 method (1) is.
        key_id = x509.SubjectKeyIdentifier.from_public_key(candidate.public_key()).digest
        return key_id == response.responder_key_hash

    if names(issuer):
        return issuer.public_key()
    for candidate in response.certificates:
        if not names(candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            raise CheckError(
                "the OCSP responder's certificate is not authorised by the issuer"
            ) from None
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise CheckError("the OCSP responder's certificate is not for OCSP signing")
        return candidate.public_key()
    raise CheckError("the OCSP response is signed by neither the issuer nor a delegated responder")


def check_ocsp(cert: x509.Certificate, issuer: x509.Certificate, url: str, now) -> Result:
    # RFC 6960 CertIDs are SHA-1 hashes of the issuer's name and key: what responders expect.
    sha1 = hashes.SHA1()  # noqa: S303
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, sha1).build()
    data = _download(url, request.public_bytes(serialization.Encoding.DER), MAX_OCSP_BYTES)
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError as exc:
        raise CheckError(
            f"OCSP responder {url} sent something that is not an OCSP response ({exc})"
        ) from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise CheckError(f"OCSP responder {url} answered {response.response_status.name.lower()}")
    key = _responder_key(response, issuer)
    try:
        _verify(
            key,
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        )
    except InvalidSignature:
        raise CheckError(f"the OCSP response from {url} has an invalid signature") from None
    single = None
    for candidate in response.responses:
        if candidate.serial_number == cert.serial_number:
            single = candidate
            break
    if single is None:
        raise CheckError(f"the OCSP response from {url} is about another certificate")
    if single.this_update_utc > now + CLOCK_SKEW:
        raise CheckError(f"the OCSP response from {url} is dated in the future")
    if single.next_update_utc is not None and single.next_update_utc < now - CLOCK_SKEW:
        raise CheckError(f"the OCSP response from {url} is out of date")
    if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason.name if single.revocation_reason else ""
        return Result(RevocationStatusValue.REVOKED, "ocsp", single.revocation_time_utc, reason)
    if single.certificate_status == ocsp.OCSPCertStatus.GOOD:
        return Result(RevocationStatusValue.GOOD, "ocsp")
    raise CheckError(f"OCSP responder {url} does not know the certificate (status unknown)")


def load_crl(
    url: str, issuer: x509.Certificate, cache: dict, now
) -> x509.CertificateRevocationList:
    if url in cache:
        value = cache[url]
        if isinstance(value, CheckError):
            raise value
        return value
    try:
        data = _download(url, None, MAX_CRL_BYTES)
        try:
            crl = x509.load_der_x509_crl(data)
        except ValueError:
            try:
                crl = x509.load_pem_x509_crl(data)
            except ValueError:
                raise CheckError(f"the CRL at {url} is not a CRL (malformed DER/PEM)") from None
        if crl.issuer != issuer.subject:
            raise CheckError(f"the CRL at {url} is issued by {crl.issuer.rfc4514_string()}")
        if not crl.is_signature_valid(issuer.public_key()):
            raise CheckError(f"the CRL at {url} has an invalid signature")
        if crl.next_update_utc is not None and crl.next_update_utc < now - CLOCK_SKEW:
            raise CheckError(f"the CRL at {url} is out of date (next update {crl.next_update_utc})")
    except CheckError as exc:
        cache[url] = exc
        raise
    cache[url] = crl
    return crl


def check_crl(cert: x509.Certificate, issuer: x509.Certificate, urls, cache, now) -> Result:
    errors = []
    for url in urls:
        try:
            crl = load_crl(url, issuer, cache, now)
        except CheckError as exc:
            errors.append(str(exc))
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is None:
            return Result(RevocationStatusValue.GOOD, "crl")
        reason = ""
        with contextlib.suppress(x509.ExtensionNotFound):
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
        return Result(RevocationStatusValue.REVOKED, "crl", entry.revocation_date_utc, reason)
    raise CheckError("; ".join(errors))


def check_certificate(certificate: Certificate, chain_pem: str, cache: dict, now) -> Result:
    """The CA's word on ``certificate`` (raises :class:`CheckError`)."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.pem.encode())
    except ValueError:
        raise CheckError("the stored certificate cannot be parsed") from None
    ocsp_list, crl_list = ocsp_urls(cert), crl_urls(cert)
    if not ocsp_list and not crl_list:
        # Nothing to ask (self-signed, private CA without status service): not a failure.
        return Result(RevocationStatusValue.UNKNOWN, "")
    issuer = find_issuer(cert, chain_pem)
    if ocsp_list:
        try:
            return check_ocsp(cert, issuer, ocsp_list[0], now)
        except CheckError as ocsp_error:
            if not crl_list:
                raise
            # The CRL answers too, when the responder cannot.
            try:
                return check_crl(cert, issuer, crl_list, cache, now)
            except CheckError as crl_error:
                raise CheckError(f"{ocsp_error}; CRL: {crl_error}") from None
    if crl_list:
        return check_crl(cert, issuer, crl_list, cache, now)
    return Result(RevocationStatusValue.UNKNOWN, "")


def _on_revoked(certificate: Certificate, row: RevocationStatus, endpoints) -> None:
    clients = {e.client_id: e.client for e in endpoints}
    for client in clients.values():
        client_endpoints = [e for e in endpoints if e.client_id == client.pk]
        notices.enqueue(
            NoticeKind.CERT_REVOKED,
            f"cert-revoked:{certificate.fingerprint_sha256}",
            notices.recipients_for(client, "certificates"),
            {
                "client": client,
                "certificate": certificate,
                "status": row,
                "endpoints": client_endpoints,
                "endpoint": client_endpoints[0],
            },
            client=client,
            links={"certificate": certificate, "endpoint": client_endpoints[0]},
        )
        managed = ManagedCertificate.objects.filter(client=client, certificate=certificate).first()
        tasks.open_task(
            client,
            TaskKind.REISSUE,
            f"reissue:revoked:{certificate.fingerprint_sha256}:{client.pk}",
            Text(
                gettext_noop("Replace %(cert)s: the CA revoked it"),
                cert=certificate.subject_cn or certificate.subject,
            ),
            Text(
                gettext_noop(
                    "The CA reports it revoked (%(source)s, reason %(reason)s). Served on: "
                    "%(where)s."
                ),
                source=row.source.upper(),
                reason=row.reason or "—",
                where=", ".join(e.label for e in client_endpoints),
            ),
            managed=managed,
            certificate=certificate,
        )


def check_one(certificate: Certificate, endpoints, cache: dict, now: datetime) -> RevocationStatus:
    row, _created = RevocationStatus.objects.get_or_create(certificate=certificate)
    subject = f"cert:{certificate.fingerprint_sha256}"
    sighting = (
        CertificateSighting.objects.filter(certificate=certificate)
        .exclude(chain_pem="")
        .order_by("-last_seen_at")
        .first()
    )
    try:
        # The issuer: from the chain served, else from the endpoints' own trust anchors (a
        # server that forgets its intermediate), else from the chain Mamori obtained with it.
        chain = "".join(
            [sighting.chain_pem if sighting else ""]
            + [e.trust_bundle for e in endpoints]
            + list(certificate.managed_by.values_list("chain_pem", flat=True))
        )
        result = check_certificate(certificate, chain, cache, now)
    except CheckError as exc:
        msg = str(exc)
        with transaction.atomic():
            RevocationStatus.objects.filter(pk=row.pk).update(
                error=msg, checked_at=now, next_check_at=now + RETRY_AFTER
            )
            failures.open_failure(
                endpoints[0].client,
                FailureKind.REVOCATION_CHECK,
                subject,
                Text(
                    gettext_noop("Revocation status of %(cert)s could not be checked: %(error)s"),
                    cert=certificate.subject_cn or certificate.fingerprint_sha256,
                    error=msg,
                ),
                certificate=certificate,
                next_retry_at=now + RETRY_AFTER,
                now=now,
            )
        row.refresh_from_db()
        return row
    was_revoked = row.status == RevocationStatusValue.REVOKED
    with transaction.atomic():
        row.status = result.status
        row.source = result.source
        row.revoked_at = result.revoked_at
        row.reason = result.reason[:40]
        row.checked_at = now
        row.next_check_at = now + CHECK_EVERY
        row.error = ""
        row.save()
        failures.resolve_failures(subject, FailureKind.REVOCATION_CHECK, now=now)
        if result.status == RevocationStatusValue.REVOKED and not was_revoked:
            # With the status: if alerting fails, the next pass sees it still unalerted.
            _on_revoked(certificate, row, endpoints)
    return row


def check_due(now: datetime | None = None) -> int:
    """Check the certificates served now whose check is due; returns how many were checked.
    Never raises for one certificate's trouble."""
    now = now or timezone.now()
    served: dict[int, list[Endpoint]] = {}
    for endpoint in Endpoint.objects.filter(
        current_certificate__isnull=False, current_certificate__not_after__gt=now
    ).select_related("client", "current_certificate"):
        served.setdefault(endpoint.current_certificate_id, []).append(endpoint)
    due = set(
        RevocationStatus.objects.filter(
            certificate_id__in=served, next_check_at__gt=now
        ).values_list("certificate_id", flat=True)
    )
    cache: dict = {}
    count = 0
    for cert_id, endpoints in served.items():
        if cert_id in due:
            continue
        try:
            check_one(endpoints[0].current_certificate, endpoints, cache, now)
        except Exception:  # a bug must not stop the other checks; it is logged
            log.exception("revocation check of certificate %s failed", cert_id)
            continue
        count += 1
    return count
