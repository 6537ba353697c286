"""Watching endpoints' certificates (CERT-01..03, CERT-14).

One pass of the watch: claim the endpoints that are due (a lease, so concurrent workers split the
work), probe them all concurrently with :mod:`mamori.probe`, then record each result in one
transaction: the certificate inventory, which endpoint serves what since when, the endpoint's
state, the events of what changed, and the notices those events call for. Because the events and
their notices are written in the same transaction as the state they describe, a crash either
records a change with its notices or records nothing (and the next check sees the change again).
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mamori.certificates.models import (
    Certificate,
    CertificateEvent,
    CertificateSighting,
    EventKind,
    ExpectedCertificate,
)
from mamori.certificates.schedule import due_threshold
from mamori.clients.models import Contract, ContractType, NoticeTopic
from mamori.core import outbound
from mamori.inventory.models import Endpoint, EndpointState
from mamori.notices import services as notices
from mamori.notices.models import NoticeKind
from mamori.probe import (
    CONNECTION_PROBLEMS,
    AIAFetcher,
    CertInfo,
    Target,
    TLSResult,
    TrustStore,
)
from mamori.probe.netguard import AddressPolicy

log = logging.getLogger(__name__)

# While a worker probes an endpoint, nobody else takes it; a crashed worker's lease runs out.
LEASE = timedelta(minutes=10)
# A connection failure is checked again this soon, to confirm it before anyone is told.
CONFIRM_AFTER = timedelta(minutes=5)
# Not a state anyone is notified about: the expiry schedule covers it (see schedule.py).
NOT_NOTIFIED = {"expiring_soon"}
PROBE_TIMEOUT = 10.0


@lru_cache(maxsize=4)
def _base_trust_store(aia_policy: AddressPolicy) -> TrustStore:
    extra = None
    if settings.MAMORI_CA_BUNDLE:
        extra = Path(settings.MAMORI_CA_BUNDLE).read_bytes()
    return TrustStore.system(extra, aia=AIAFetcher(policy=aia_policy))


def issued_chain_problem(pems: list[bytes], *, now: datetime) -> str | None:
    """Why a certificate handed to Mamori by a person (``pems``: the certificate, then its
    chain) does not chain to a trusted root, else ``None``. Trusted roots are the system's and
    those the provider added in ``MAMORI_CA_BUNDLE``; intermediates come from the upload itself
    or from that bundle. Raises ``ValueError`` for a PEM that is not a certificate."""
    from cryptography import x509
    from django.utils.translation import gettext as _
    from OpenSSL import crypto

    handles = [crypto.X509.from_cryptography(x509.load_pem_x509_certificate(p)) for p in pems]
    store = _base_trust_store(outbound.policy())
    leaf, chain = handles[0], handles[1:]
    pool = chain + store.known_issuers([h.to_cryptography() for h in handles])
    check = store.verify(leaf, pool, now)
    if check.ok:
        return None
    return _(
        "The certificate does not chain to a trusted root certificate (%(reason)s). Upload the "
        "certificate followed by the CA's intermediate certificates; the root of a private CA "
        "must be in the provider's MAMORI_CA_BUNDLE."
    ) % {"reason": check.message}


def trust_store_for(endpoint: Endpoint) -> TrustStore:
    # The caIssuers URL comes from a certificate the endpoint chose: public addresses only
    # (plus MAMORI_ALLOW_PRIVATE_NETWORKS), whatever the endpoint itself is allowed.
    base = _base_trust_store(outbound.policy())
    bundle = endpoint.trust_bundle.strip()
    return base.with_extra(bundle.encode()) if bundle else base


def notice_schedule(endpoint: Endpoint) -> list[int]:
    """The expiry notice schedule for an endpoint: its contract's, else the client's SSL
    management contract's (the most recent), else the default."""
    contract = endpoint.contract
    if contract is None:
        contract = (
            Contract.objects.filter(client_id=endpoint.client_id, type=ContractType.SSL_MANAGEMENT)
            .order_by("-start")
            .first()
        )
    if contract is not None:
        return contract.notice_schedule()
    return list(settings.MAMORI_EXPIRY_NOTICE_DAYS)


# --- claiming and probing ------------------------------------------------------------------


def claim_due(now: datetime, limit: int) -> list[Endpoint]:
    """Take up to ``limit`` due endpoints for this worker by pushing their next check past the
    lease. On PostgreSQL rows locked by another worker are skipped; SQLite serialises writers."""
    with transaction.atomic():
        qs = Endpoint.objects.due(now).order_by("next_check_at", "pk")
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        endpoints = list(qs.select_related("client", "contract")[:limit])
        Endpoint.objects.filter(pk__in=[e.pk for e in endpoints]).update(next_check_at=now + LEASE)
    return endpoints


def target_for(endpoint: Endpoint) -> Target:
    return Target(
        host=endpoint.host,
        port=endpoint.port,
        sni=endpoint.server_name,
        label=endpoint.label,
        policy=endpoint.address_policy(),
    )


async def _probe_all(
    jobs: list[tuple[Target, TrustStore, int]], concurrency: int
) -> list[TLSResult]:
    from mamori.probe import probe_tls

    semaphore = asyncio.Semaphore(concurrency)

    async def one(target: Target, trust: TrustStore, warn_days: int) -> TLSResult:
        async with semaphore:
            return await probe_tls(target, trust=trust, timeout=PROBE_TIMEOUT, warn_days=warn_days)

    return list(await asyncio.gather(*(one(*job) for job in jobs)))


def probe_endpoints(endpoints: list[Endpoint], concurrency: int = 100) -> list[TLSResult]:
    """Probe endpoints concurrently (no database access while probing)."""
    jobs = [(target_for(e), trust_store_for(e), max(notice_schedule(e))) for e in endpoints]
    return asyncio.run(_probe_all(jobs, concurrency))


@dataclass
class CheckReport:
    checked: int = 0
    problems: int = 0
    events: list[CertificateEvent] = field(default_factory=list)
    notices: int = 0


def check_due(now: datetime | None = None, *, batch_size: int = 200) -> CheckReport:
    """Check every endpoint that is due, in batches, and record the results."""
    report = CheckReport()
    while True:
        now_batch = now or timezone.now()
        endpoints = claim_due(now_batch, batch_size)
        if not endpoints:
            return report
        results = probe_endpoints(endpoints)
        for endpoint, result in zip(endpoints, results, strict=True):
            try:
                outcome = record_result(endpoint.pk, result, now=now or timezone.now())
            except Exception:
                # One bad result must not stop the others; the lease expires and it is retried.
                log.exception("recording the check of endpoint %s failed", endpoint.pk)
                continue
            report.checked += 1
            report.problems += bool(result.problems)
            report.events += outcome.events
            report.notices += outcome.notices


def check_endpoint(endpoint: Endpoint, now: datetime | None = None) -> RecordOutcome:
    """Check one endpoint now, whether due or not (the "check now" button, the CLI)."""
    [result] = probe_endpoints([endpoint])
    return record_result(endpoint.pk, result, now=now or timezone.now())


# --- recording a result ---------------------------------------------------------------------


@dataclass
class RecordOutcome:
    events: list[CertificateEvent] = field(default_factory=list)
    notices: int = 0


def upsert_certificate(info: CertInfo, now: datetime) -> Certificate:
    cert, created = Certificate.objects.get_or_create(
        fingerprint_sha256=info.fingerprint_sha256,
        defaults={
            "subject": info.subject[:1000],
            "subject_cn": (info.subject_cn or "")[:255],
            "sans": list(info.sans),
            "issuer": info.issuer[:1000],
            "issuer_cn": _common_name(info.issuer)[:255],
            "serial": info.serial,
            "not_before": info.not_before,
            "not_after": info.not_after,
            "key_type": info.key_type,
            "key_bits": info.key_bits,
            "signature_algorithm": info.signature_algorithm,
            "self_signed": info.self_signed,
            "ocsp_urls": list(info.ocsp_urls),
            "crl_urls": list(info.crl_urls),
            "pem": info.pem,
            "first_seen_at": now,
            "last_seen_at": now,
        },
    )
    if not created:
        Certificate.objects.filter(pk=cert.pk).update(last_seen_at=now)
    return cert


def _common_name(dn: str) -> str:
    for part in dn.split(","):
        key, _, value = part.strip().partition("=")
        if key.upper() == "CN":
            return value
    return ""


def _served_result(result: TLSResult) -> dict:
    """What to keep of a probe result on the endpoint: everything but the certificates' PEM."""
    data = result.to_json()
    data.pop("chain", None)
    return data


@transaction.atomic
def record_result(endpoint_id: int, result: TLSResult, *, now: datetime) -> RecordOutcome:
    """Record one probe result: inventory, served history, state, events and notices."""
    endpoint = Endpoint.objects.select_related("client", "contract").get(pk=endpoint_id)
    outcome = RecordOutcome()
    cert = _record_served_certificate(endpoint, result, now, outcome)
    _record_state(endpoint, result, now, cert, outcome)
    if cert is not None:
        _record_expiry(endpoint, cert, now, outcome)
    endpoint.last_checked_at = now
    endpoint.last_result = _served_result(result)
    endpoint.save(
        update_fields=[
            "last_checked_at",
            "last_result",
            "state",
            "problems",
            "pending_problems",
            "next_check_at",
            "current_certificate",
        ]
    )
    return outcome


def _record_served_certificate(
    endpoint: Endpoint, result: TLSResult, now: datetime, outcome: RecordOutcome
) -> Certificate | None:
    """Update the inventory and the served history; returns the certificate served now."""
    if result.certificate is None:
        # Nothing was served (connection failure): what was served before stays on record.
        return endpoint.current_certificate
    cert = upsert_certificate(result.certificate, now)
    chain_pem = "".join(info.pem for info in result.chain[1:])
    current = CertificateSighting.objects.filter(endpoint=endpoint, ended_at__isnull=True).first()
    if current is not None and current.certificate_id == cert.pk:
        CertificateSighting.objects.filter(pk=current.pk).update(
            last_seen_at=now, chain_pem=chain_pem
        )
        endpoint.current_certificate = cert
        return cert
    previous = None
    if current is not None:
        previous = current.certificate
        CertificateSighting.objects.filter(pk=current.pk).update(ended_at=now)
    CertificateSighting.objects.create(
        certificate=cert,
        endpoint=endpoint,
        chain_pem=chain_pem,
        first_seen_at=now,
        last_seen_at=now,
    )
    endpoint.current_certificate = cert
    if previous is None:
        outcome.events.append(
            CertificateEvent.objects.create(
                kind=EventKind.FIRST_SEEN, endpoint=endpoint, certificate=cert, created_at=now
            )
        )
        return cert
    # CERT-14: a certificate that Mamori deployed to this endpoint is Mamori's own change: it is
    # recorded, but not flagged and not reported to operators. Any other replacement is.
    deployed = _deployed_by_mamori(endpoint, cert)
    event = CertificateEvent.objects.create(
        kind=EventKind.REPLACED,
        endpoint=endpoint,
        certificate=cert,
        previous_certificate=previous,
        unmanaged=not deployed,
        created_at=now,
    )
    outcome.events.append(event)
    if deployed:
        return cert
    sent = notices.enqueue(
        NoticeKind.CERT_REPLACED,
        f"cert-replaced:{event.pk}",
        notices.operator_recipients(endpoint.client),
        {
            "endpoint": endpoint,
            "client": endpoint.client,
            "certificate": cert,
            "previous": previous,
            "event": event,
        },
        client=endpoint.client,
        links={"endpoint": endpoint, "certificate": cert, "event": event},
    )
    outcome.notices += len(sent.created)
    return cert


def _deployed_by_mamori(endpoint: Endpoint, cert: Certificate) -> bool:
    """Whether Mamori installed ``cert`` on a server behind ``endpoint``: a deployment marked it
    as expected there (:func:`expect`) and did not fail. The mark stays while the deployment is
    being verified and after it succeeded (the watch may look between the reload and the
    verification)."""
    return ExpectedCertificate.objects.filter(endpoint=endpoint, certificate=cert).exists()


def expect(endpoint_id: int, certificate_id: int, *, now: datetime | None = None) -> None:
    """Mark ``certificate_id`` as the one Mamori is about to install behind ``endpoint_id``
    (called by a deployment as it starts, in its transaction); idempotent."""
    ExpectedCertificate.objects.get_or_create(
        endpoint_id=endpoint_id,
        certificate_id=certificate_id,
        defaults={"since": now or timezone.now()},
    )


def unexpect(endpoint_id: int, certificate_id: int) -> None:
    """Take the mark of :func:`expect` away (the deployment failed and nothing else of Mamori's
    installed that certificate there): if it is served now, someone else put it there."""
    ExpectedCertificate.objects.filter(
        endpoint_id=endpoint_id, certificate_id=certificate_id
    ).delete()


def _record_state(
    endpoint: Endpoint,
    result: TLSResult,
    now: datetime,
    cert: Certificate | None,
    outcome: RecordOutcome,
) -> None:
    """Move the endpoint to its new problem state; notify once per change of state."""
    problems = [str(p) for p in result.problems]
    endpoint.next_check_at = now + endpoint.interval()
    # A state shown before its confirmation (below): nothing was told of it yet.
    provisional = endpoint.pending_problems is not None and set(endpoint.pending_problems) == (
        set(endpoint.problems) - NOT_NOTIFIED
    )
    old_notified = set() if provisional else set(endpoint.problems) - NOT_NOTIFIED
    new_notified = set(problems) - NOT_NOTIFIED
    is_change = new_notified != old_notified
    # MON-02: a connection failure counts once a second check, a few minutes later, agrees.
    unconfirmed = set(endpoint.pending_problems or ()) != new_notified
    if is_change and new_notified & CONNECTION_PROBLEMS and unconfirmed:
        endpoint.pending_problems = sorted(new_notified)
        endpoint.next_check_at = now + CONFIRM_AFTER
        if endpoint.state == EndpointState.UNKNOWN or provisional:
            # Nothing was known of it yet (a new endpoint): what the check found is shown at
            # once (a name that does not resolve is "unreachable", not "not checked yet"), as
            # `mamori scan` shows it; the notice waits for the confirmation.
            endpoint.problems = problems
            endpoint.state = EndpointState.PROBLEM
        return
    endpoint.pending_problems = None
    endpoint.problems = problems
    endpoint.state = EndpointState.PROBLEM if problems else EndpointState.OK
    if not is_change:
        return
    if new_notified:
        kind, notice_kind = EventKind.PROBLEM, NoticeKind.ENDPOINT_PROBLEM
    elif endpoint.last_checked_at is None:
        return  # first check and all is well: nothing to tell
    else:
        kind, notice_kind = EventKind.RECOVERED, NoticeKind.ENDPOINT_RECOVERED
    details = {code: result.details.get(code, "") for code in sorted(new_notified or old_notified)}
    event = CertificateEvent.objects.create(
        kind=kind,
        endpoint=endpoint,
        certificate=cert,
        problems=sorted(new_notified),
        details=details,
        created_at=now,
    )
    outcome.events.append(event)
    context = {
        "endpoint": endpoint,
        "client": endpoint.client,
        "certificate": cert,
        "event": event,
        "problems": [
            {"code": code, "detail": result.details.get(code, "")} for code in sorted(new_notified)
        ],
        "resolved": sorted(old_notified - new_notified),
        "error": result.error,
    }
    sent = notices.enqueue(
        notice_kind,
        f"endpoint-state:{event.pk}",
        notices.recipients_for(endpoint.client, NoticeTopic.CERTIFICATES),
        context,
        client=endpoint.client,
        links={"endpoint": endpoint, "certificate": cert, "event": event},
    )
    outcome.notices += len(sent.created)


def _record_expiry(
    endpoint: Endpoint, cert: Certificate, now: datetime, outcome: RecordOutcome
) -> None:
    """Send the expiry notice that is due for the served certificate, once (see schedule.py)."""
    threshold = due_threshold(notice_schedule(endpoint), cert.lifetime_days, cert.days_left(now))
    if threshold is None:
        return
    event = CertificateEvent.objects.filter(
        kind=EventKind.EXPIRING,
        certificate=cert,
        endpoint__client=endpoint.client,
        threshold_days=threshold,
    ).first()
    if event is None:
        event = CertificateEvent.objects.create(
            kind=EventKind.EXPIRING,
            endpoint=endpoint,
            certificate=cert,
            threshold_days=threshold,
            created_at=now,
        )
        outcome.events.append(event)
    context = {
        "endpoint": endpoint,
        "client": endpoint.client,
        "certificate": cert,
        "threshold": threshold,
        # Whole days, as everywhere in the UI: "10 days left" means at least 10 full days.
        "days_left": max(0, math.floor(cert.days_left(now))),
        "endpoints": list(
            Endpoint.objects.filter(client=endpoint.client, current_certificate=cert).order_by(
                "host"
            )
        )
        or [endpoint],
    }
    sent = notices.enqueue(
        NoticeKind.CERT_EXPIRING,
        f"cert-expiry:{endpoint.client_id}:{cert.fingerprint_sha256}:{threshold}",
        notices.recipients_for(endpoint.client, NoticeTopic.CERTIFICATES),
        context,
        client=endpoint.client,
        links={"endpoint": endpoint, "certificate": cert, "event": event},
    )
    outcome.notices += len(sent.created)
