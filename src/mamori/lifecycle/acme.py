"""The ACME engine (CERT-06): accounts, orders driven to a certificate, renewal information,
revocation, on top of the ``acme`` protocol library.

Exactly once: an :class:`~mamori.lifecycle.models.Order` row (state ``new``) exists before
anything is sent; the order URL is saved as soon as the CA answers (state ``placed``); challenge
rows are recorded before they are presented. :func:`drive_order` takes whatever state an order
is in, re-reads it from the CA when it already has an order URL, and carries it as far as it can,
so a process killed in the middle resumes the same order instead of placing a second one. A
lease (``Order.lease_until``, taken with a conditional UPDATE) keeps two workers off one order.

No loops: an order that can no longer succeed is closed ``failed`` and its certificate backs off
(``ManagedCertificate.next_attempt_at``); a transient error keeps the order open with its own
back-off; the CA's rate limits are recognised (``rate_limited_until``). Every failure goes
through :func:`mamori.lifecycle.failures.open_failure` (operators are alerted once).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import josepy as jose
import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import messages
from cryptography import x509
from django.db import close_old_connections, connections, transaction
from django.db.models import Q
from django.utils import timezone

from mamori.core import audit
from mamori.core.models import User
from mamori.lifecycle import failures, keys, solvers
from mamori.lifecycle.models import (
    AcmeAccount,
    Challenge,
    ChallengeState,
    FailureKind,
    IssuerKind,
    ManagedCertificate,
    Order,
    OrderState,
)
from mamori.vault import services as vault

logger = logging.getLogger(__name__)

USER_AGENT = "Mamori"
NETWORK_TIMEOUT = 30
LEASE = timedelta(minutes=10)
# How long one drive waits for the CA to validate or issue before leaving the order for later.
POLL_DEADLINE = 90.0
ARI_DEFAULT_RECHECK = timedelta(hours=6)
ACME_STATES = [OrderState.NEW, OrderState.PLACED, OrderState.AUTHORIZING, OrderState.FINALIZING]
RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited"
# Problems after which the same order (same names, same CSR) cannot succeed.
PERMANENT_PROBLEMS = {
    "badCSR",
    "badPublicKey",
    "badSignatureAlgorithm",
    "caa",
    "rejectedIdentifier",
    "unsupportedIdentifier",
    "malformed",
    "unauthorized",
    "incorrectResponse",
    "dns",
    "connection",
    "tls",
    "badRevocationReason",
    "alreadyRevoked",
    "orderNotReady",
}


class AcmeProblem(Exception):
    """The CA refused a request: ``problem_type`` (RFC 8555 §6.7 URN) and ``detail``."""

    def __init__(self, problem_type: str, detail: str, *, retry_after: datetime | None = None):
        super().__init__(f"{detail} ({problem_type})" if problem_type else detail)
        self.problem_type = problem_type
        self.detail = detail
        self.retry_after = retry_after


class OrderDead(Exception):
    """The order can no longer succeed: it is closed ``failed``."""

    def __init__(self, problem_type: str, detail: str, *, challenge: bool = False):
        super().__init__(detail)
        self.problem_type = problem_type
        self.detail = detail
        self.challenge = challenge


# --- network -----------------------------------------------------------------------------------


class _Network(acme_client.ClientNetwork):
    """ClientNetwork that remembers the Retry-After of the last response (rate limits, polls)."""

    last_retry_after: str | None = None

    def _send_request(self, method, url, *args, **kwargs):
        response = super()._send_request(method, url, *args, **kwargs)
        self.last_retry_after = response.headers.get("Retry-After")
        return response


_bundle_lock = threading.Lock()


def _verify(account: AcmeAccount) -> bool | str:
    """What ``requests`` verifies the ACME server with: a CA bundle file for a private CA."""
    pem = (account.ca_bundle or "").strip()
    if not pem:
        return True
    digest = hashlib.sha256(pem.encode()).hexdigest()[:32]
    path = Path(tempfile.gettempdir()) / f"mamori-acme-ca-{digest}.pem"
    with _bundle_lock:
        if not path.exists():
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_text(pem + "\n")
            tmp.replace(path)
    return str(path)


def _alg(key) -> jose.JWASignature:
    kt = keys.key_type_of(key)
    return {"ec256": jose.ES256, "ec384": jose.ES384}.get(kt, jose.RS256)


def _jwk(key) -> jose.JWK:
    if keys.key_type_of(key).startswith("rsa"):
        return jose.JWKRSA(key=key)
    return jose.JWKEC(key=key)


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    if not value:
        return None
    try:
        return now + timedelta(seconds=max(0, int(value)))
    except ValueError:
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None


def _problem(error: messages.Error, net: _Network | None = None) -> AcmeProblem:
    typ = error.typ or ""
    detail = error.detail or error.description or typ
    for sub in error.subproblems or ():
        detail += f"; {sub.identifier.value if sub.identifier else ''}: {sub.detail}"
    retry = _retry_after(net.last_retry_after if net else None, timezone.now())
    return AcmeProblem(typ, detail, retry_after=retry)


def _account_key(account: AcmeAccount):
    return keys.load_key(vault.decrypt_for_export(account.key_secret))


def _new_client(account: AcmeAccount, key, regr=None) -> acme_client.ClientV2:
    net = _Network(
        key=_jwk(key),
        account=regr,
        alg=_alg(key),
        verify_ssl=_verify(account),
        user_agent=USER_AGENT,
        timeout=NETWORK_TIMEOUT,
    )
    directory = acme_client.ClientV2.get_directory(account.directory_url, net)
    return acme_client.ClientV2(directory, net)


# --- accounts ----------------------------------------------------------------------------------


def register_account(account: AcmeAccount, *, actor: User | None = None) -> AcmeAccount:
    """Register ``account`` at its CA (terms agreed, optional external account binding); the
    account key is made and kept in the vault first. Idempotent: a registered account, or a key
    the CA already knows, gives back the existing account. Raises :class:`AcmeProblem`."""
    if account.key_secret_id is None:
        key = keys.generate_key(account.key_type)
        with transaction.atomic():
            secret = vault.store_private_key(
                account.client,
                keys.key_to_pem(key),
                actor=None,
                name=f"ACME account key: {account.name}",
            )
            AcmeAccount.objects.filter(pk=account.pk, key_secret__isnull=True).update(
                key_secret=secret
            )
        account.refresh_from_db()
    key = _account_key(account)
    try:
        acme = _new_client(account, key)
        if account.account_url:
            # Registered before: ask for the existing account only (no new registration).
            lookup = messages.NewRegistration(only_return_existing=True)
            try:
                regr = acme.new_account(lookup)
            except acme_errors.ConflictError as e:
                regr = messages.RegistrationResource(uri=e.location, body=messages.Registration())
        else:
            eab = None
            if account.eab_kid:
                if account.eab_hmac_secret is None:
                    raise AcmeProblem("", "The external account binding needs its HMAC key.")
                hmac_key = vault.decrypt_for_export(account.eab_hmac_secret).decode().strip()
                eab = messages.ExternalAccountBinding.from_data(
                    account_public_key=_jwk(key).public_key(),
                    kid=account.eab_kid,
                    hmac_key=hmac_key,
                    directory=acme.directory,
                )
            registration = messages.NewRegistration.from_data(
                email=account.contact_email or None,
                terms_of_service_agreed=True,
                external_account_binding=eab,
            )
            try:
                regr = acme.new_account(registration)
            except acme_errors.ConflictError as e:  # the CA knows this key already
                regr = messages.RegistrationResource(uri=e.location, body=messages.Registration())
    except messages.Error as e:
        raise _problem(e) from None
    except (requests.RequestException, acme_errors.Error) as e:
        raise AcmeProblem("", f"Cannot reach the ACME server: {_short(e)}") from None
    now = timezone.now()
    changes = {"account_url": [account.account_url, regr.uri]}
    account.account_url = regr.uri
    account.registered_at = account.registered_at or now
    account.terms_agreed_at = account.terms_agreed_at or now
    with transaction.atomic():
        account.save(update_fields=["account_url", "registered_at", "terms_agreed_at"])
        audit.record(
            "acme_account.register",
            account,
            actor=actor,
            changes={**changes, "eab": bool(account.eab_kid)},
        )
    _clients.cache = {}
    return account


_clients = threading.local()


def client_for(account: AcmeAccount) -> acme_client.ClientV2:
    """A ClientV2 for ``account`` (registered first if needed), one per account and thread."""
    if not account.account_url or account.key_secret_id is None:
        register_account(account)
    cache = getattr(_clients, "cache", None)
    if cache is None:
        cache = _clients.cache = {}
    cache_key = (account.pk, account.account_url, account.key_secret_id, account.directory_url)
    client = cache.get(cache_key)
    if client is None:
        regr = messages.RegistrationResource(uri=account.account_url, body=messages.Registration())
        try:
            client = _new_client(account, _account_key(account), regr)
        except messages.Error as e:
            raise _problem(e) from None
        cache[cache_key] = client
    return client


# --- orders ------------------------------------------------------------------------------------


def _short(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:500]


def _post_as_get(acme: acme_client.ClientV2, url: str) -> requests.Response:
    return acme.net.post(url, None, new_nonce_url=acme.directory["newNonce"])


def _fetch_order(acme, order: Order) -> messages.OrderResource:
    body = messages.Order.from_json(_post_as_get(acme, order.order_url).json())
    authzs = [_fetch_authz(acme, url) for url in body.authorizations]
    return messages.OrderResource(
        body=body, uri=order.order_url, authorizations=authzs, csr_pem=order.csr_pem.encode()
    )


def _fetch_authz(acme, url: str) -> messages.AuthorizationResource:
    return messages.AuthorizationResource(
        body=messages.Authorization.from_json(_post_as_get(acme, url).json()), uri=url
    )


def _sleep_for(acme, delay: float, deadline: float) -> float:
    """Sleep ``delay`` (or the server's Retry-After if shorter work is not possible), capped by
    the deadline; returns the next delay."""
    retry = acme.net.last_retry_after
    wait = delay
    if retry and retry.isdigit():
        wait = max(delay, min(float(retry), 5.0))
    time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
    return min(delay * 1.5, 1.0)


def _challenge_body(authzr: messages.AuthorizationResource, typ: str):
    for challb in authzr.body.challenges:
        if challb.chall.typ == typ:
            return challb
    return None


def _record_challenges(order: Order, orderr, typ: str, jwk) -> list[Challenge]:
    """The challenge rows of the order's pending authorizations (created once per
    authorization URL), with token and validation filled in."""
    rows = []
    for authzr in orderr.authorizations:
        identifier = authzr.body.identifier.value
        if authzr.body.wildcard:
            identifier = f"*.{identifier}"
        status = authzr.body.status
        row = Challenge.objects.filter(order=order, authorization_url=authzr.uri).first()
        if status == messages.STATUS_VALID:
            if row is not None and row.state != ChallengeState.VALID:
                row.state = ChallengeState.VALID
                row.save(update_fields=["state"])
            continue
        if status != messages.STATUS_PENDING:
            detail = _authz_error(authzr)
            raise OrderDead(detail[0], f"{identifier}: {detail[1]}", challenge=True)
        challb = _challenge_body(authzr, typ)
        if challb is None:
            raise OrderDead("", f"{identifier}: the CA does not offer {typ}")
        if typ == "dns-01":
            validation = challb.chall.validation(jwk)
        else:
            validation = challb.chall.key_authorization(jwk)
        if row is None:
            row = Challenge.objects.create(
                order=order,
                identifier=identifier,
                authorization_url=authzr.uri,
                challenge_type=typ,
                challenge_url=challb.uri,
                token=challb.chall.encode("token"),
                validation=validation,
            )
        row._challb = challb
        rows.append(row)
    return rows


def _authz_error(authzr: messages.AuthorizationResource) -> tuple[str, str]:
    for challb in authzr.body.challenges:
        if challb.error is not None:
            err = challb.error
            return err.typ or "", err.detail or err.description or err.typ or ""
    return "", f"authorization is {authzr.body.status}"


def _poll_authorizations(acme, order: Order, rows: list[Challenge]) -> None:
    deadline = time.monotonic() + POLL_DEADLINE
    pending = {row.authorization_url: row for row in rows}
    delay = 0.05
    while pending:
        for url, row in list(pending.items()):
            authzr = _fetch_authz(acme, url)
            status = authzr.body.status
            if status == messages.STATUS_PENDING:
                continue
            del pending[url]
            if status == messages.STATUS_VALID:
                row.state = ChallengeState.VALID
                row.save(update_fields=["state"])
            else:
                typ, detail = _authz_error(authzr)
                row.state = ChallengeState.INVALID
                row.error = detail[:2000]
                row.save(update_fields=["state", "error"])
                raise OrderDead(typ, f"{row.identifier}: {detail}", challenge=True)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise acme_errors.TimeoutError("the CA did not validate the challenges in time")
        delay = _sleep_for(acme, delay, deadline)


def _poll_order(acme, order: Order, orderr) -> messages.OrderResource:
    deadline = time.monotonic() + POLL_DEADLINE
    delay = 0.05
    while True:
        body = messages.Order.from_json(_post_as_get(acme, order.order_url).json())
        if body.status == messages.STATUS_VALID and body.certificate:
            return orderr.update(body=body)
        if body.status == messages.STATUS_INVALID:
            err = body.error
            raise OrderDead(
                err.typ if err else "", (err.detail if err else "") or "the order is invalid"
            )
        if body.status == messages.STATUS_READY:
            orderr = acme.begin_finalization(orderr.update(body=body))
            continue
        if time.monotonic() > deadline:
            raise acme_errors.TimeoutError("the CA did not issue the certificate in time")
        delay = _sleep_for(acme, delay, deadline)


def _save(order: Order, **fields) -> None:
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=[*fields, "updated_at"])


def _check_profile(acme: acme_client.ClientV2, profile: str) -> None:
    """An ACME profile the CA does not offer is a mistake in the certificate's settings: say so
    before ordering, with the profiles the CA has (none, for a CA without profiles)."""
    meta = getattr(acme.directory, "meta", None)
    offered = dict(getattr(meta, "profiles", None) or {})
    if profile not in offered:
        raise OrderDead(
            "profile",
            f"the CA does not offer the ACME profile {profile!r} "
            f"(it offers: {', '.join(sorted(offered)) or 'no profiles'})",
        )


def _advance(order: Order, acme: acme_client.ClientV2, solver) -> None:
    managed = order.managed
    jwk = acme.net.key
    if order.state == OrderState.NEW and not order.order_url:
        if order.profile:
            _check_profile(acme, order.profile)
        orderr = acme.new_order(order.csr_pem.encode(), profile=order.profile or None)
        _save(
            order,
            order_url=orderr.uri,
            finalize_url=orderr.body.finalize,
            state=OrderState.PLACED,
        )
    else:
        orderr = _fetch_order(acme, order)
    status = orderr.body.status
    if status == messages.STATUS_INVALID:
        err = orderr.body.error
        problem = (err.typ or "", err.detail or "") if err else ("", "")
        # An invalid authorization says more than the order does.
        for authzr in orderr.authorizations:
            if authzr.body.status == messages.STATUS_INVALID:
                problem = _authz_error(authzr)
                raise OrderDead(problem[0], problem[1], challenge=True)
        raise OrderDead(problem[0], problem[1] or "the CA says the order is invalid")
    if status == messages.STATUS_PENDING:
        typ = solvers.challenge_type_for(managed.challenge)
        rows = _record_challenges(order, orderr, typ, jwk)
        if rows:
            # Recorded before the token file or record is written, so that cleanup finds it
            # whatever happens next (even a crash halfway through presenting).
            now = timezone.now()
            Challenge.objects.filter(pk__in=[r.pk for r in rows]).update(
                presented_at=now, cleaned_at=None
            )
            try:
                solver.present(rows)
            except solvers.SolverError as e:
                raise OrderDead("", str(e), challenge=True) from None
            for row in rows:
                row.state = ChallengeState.PRESENTED
                row.presented_at = now
                row.cleaned_at = None
                row.save(update_fields=["state", "presented_at", "cleaned_at", "location"])
            for row in rows:
                acme.answer_challenge(row._challb, row._challb.response(jwk))
                row.state = ChallengeState.ANSWERED
                row.save(update_fields=["state"])
            _save(order, state=OrderState.AUTHORIZING)
            _poll_authorizations(acme, order, rows)
        status = messages.STATUS_READY
    if status == messages.STATUS_READY:
        orderr = acme.begin_finalization(orderr)
        _save(order, state=OrderState.FINALIZING)
    elif order.state != OrderState.FINALIZING:
        _save(order, state=OrderState.FINALIZING)
    orderr = _poll_order(acme, order, orderr)
    _save(order, certificate_url=orderr.body.certificate)
    fullchain = _post_as_get(acme, orderr.body.certificate).text
    from mamori.lifecycle.orders import CertificateMismatch, complete_order

    try:
        complete_order(order, fullchain)
    except CertificateMismatch as e:
        raise OrderDead("", f"the CA's certificate does not match the order: {e}") from None


def _cleanup(order: Order, solver) -> None:
    rows = list(
        Challenge.objects.filter(order=order, presented_at__isnull=False, cleaned_at__isnull=True)
    )
    if not rows or solver is None:
        return
    error = solvers.cleanup_quietly(solver, rows)
    now = timezone.now()
    if error:
        Challenge.objects.filter(pk__in=[r.pk for r in rows]).update(error=error[:2000])
        logger.warning("order %s: challenge cleanup failed: %s", order.pk, error)
    else:
        Challenge.objects.filter(pk__in=[r.pk for r in rows]).update(cleaned_at=now)


def _consecutive_failures(managed: ManagedCertificate) -> int:
    last_ok = (
        Order.objects.filter(managed=managed, state=OrderState.ISSUED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    qs = Order.objects.filter(managed=managed, state=OrderState.FAILED)
    if last_ok is not None:
        qs = qs.filter(finished_at__gt=last_ok)
    return qs.count()


def _fail(order: Order, exc: Exception, now: datetime) -> None:
    managed = order.managed
    subject = f"managed:{managed.pk}"
    attempts = order.attempts + 1
    if isinstance(exc, OrderDead):
        with transaction.atomic():
            Challenge.objects.filter(
                order=order,
                state__in=[
                    ChallengeState.PENDING,
                    ChallengeState.PRESENTED,
                    ChallengeState.ANSWERED,
                ],
            ).update(state=ChallengeState.INVALID)
            if exc.challenge:
                Challenge.objects.filter(order=order, error="").update(error=exc.detail[:2000])
            _save(
                order,
                state=OrderState.FAILED,
                finished_at=now,
                attempts=attempts,
                error_type=exc.problem_type[:200],
                error_detail=exc.detail,
            )
            retry_at = now + failures.backoff(_consecutive_failures(managed))
            ManagedCertificate.objects.filter(pk=managed.pk).update(next_attempt_at=retry_at)
            managed.next_attempt_at = retry_at
            kind = FailureKind.CHALLENGE if exc.challenge else FailureKind.ORDER
            failures.open_failure(
                managed.client,
                kind,
                subject,
                f"{exc.detail} ({exc.problem_type})" if exc.problem_type else exc.detail,
                managed=managed,
                certificate=managed.certificate,
                next_retry_at=retry_at,
                now=now,
            )
        return
    # Transient: the order stays open and is tried again after a back-off.
    kind = FailureKind.ORDER
    rate_limited_until = None
    if isinstance(exc, AcmeProblem):
        problem_type, detail = exc.problem_type, exc.detail
        if problem_type == RATE_LIMITED:
            kind = FailureKind.RATE_LIMIT
            rate_limited_until = exc.retry_after or now + failures.backoff(attempts)
    else:
        problem_type, detail = type(exc).__name__, _short(exc)
    retry_at = max(now + failures.backoff(attempts), rate_limited_until or now)
    with transaction.atomic():
        _save(
            order,
            attempts=attempts,
            next_attempt_at=retry_at,
            error_type=problem_type[:200],
            error_detail=detail,
            rate_limited_until=rate_limited_until,
        )
        failures.open_failure(
            managed.client,
            kind,
            subject,
            f"{detail} ({problem_type})" if problem_type else detail,
            managed=managed,
            certificate=managed.certificate,
            next_retry_at=retry_at,
            now=now,
        )


def _lease(order_id: int) -> bool:
    real_now = timezone.now()
    return bool(
        Order.objects.filter(pk=order_id, state__in=ACME_STATES, issuer=IssuerKind.ACME)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=real_now))
        .update(lease_until=real_now + LEASE)
    )


def drive_order(order_id: int, *, now: datetime | None = None) -> Order:
    """Carry the ACME order ``order_id`` as far as it goes (see the module docstring); returns
    the order as it is afterwards. An order leased by another worker is left alone."""
    if not _lease(order_id):
        return Order.objects.get(pk=order_id)
    order = Order.objects.select_related(
        "managed", "managed__client", "managed__certificate", "acme_account"
    ).get(pk=order_id)
    solver = None
    try:
        try:
            account = order.acme_account or order.managed.acme_account
            if account is None:
                raise OrderDead("", "the order has no ACME account")
            try:
                solver = solvers.solver_for(order.managed)
            except solvers.SolverError as e:
                raise OrderDead("", str(e), challenge=True) from None
            acme = client_for(account)
            try:
                _advance(order, acme, solver)
            except messages.Error as e:
                problem = _problem(e, acme.net)
                if e.code in PERMANENT_PROBLEMS:
                    raise OrderDead(problem.problem_type, problem.detail) from None
                raise problem from None
            finally:
                _cleanup(order, solver)
        except (OrderDead, AcmeProblem, requests.RequestException, acme_errors.Error) as e:
            _fail(order, e, now or timezone.now())
        except Exception as e:  # an unexpected error must still be loud and retried
            logger.exception("order %s", order_id)
            _fail(order, e, now or timezone.now())
        else:
            failures.resolve_failures(f"managed:{order.managed_id}")
    finally:
        Order.objects.filter(pk=order_id).update(lease_until=None)
    order.refresh_from_db()
    return order


def due_orders(now: datetime | None = None, *, limit: int = 200) -> list[int]:
    now = now or timezone.now()
    real_now = timezone.now()
    return list(
        Order.objects.filter(
            issuer=IssuerKind.ACME, state__in=ACME_STATES, next_attempt_at__lte=now
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=real_now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def _drive_in_thread(order_id: int, now: datetime | None) -> None:
    close_old_connections()
    try:
        drive_order(order_id, now=now)
    except Exception:
        logger.exception("driving order %s", order_id)
    finally:
        connections.close_all()


def drive_due(now: datetime | None = None, *, limit: int = 200, workers: int = 8) -> int:
    """Drive every open ACME order that is due, ``workers`` at a time; returns how many."""
    ids = due_orders(now, limit=limit)
    if not ids:
        return 0
    if workers <= 1 or len(ids) == 1:
        for order_id in ids:
            drive_order(order_id, now=now)
        return len(ids)
    with ThreadPoolExecutor(max_workers=min(workers, len(ids))) as pool:
        list(pool.map(lambda pk: _drive_in_thread(pk, now), ids))
    return len(ids)


# --- renewal information (RFC 9773) ------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ari_cert_id(cert: x509.Certificate) -> str:
    """RFC 9773 §4.1: base64url(authority key identifier) "." base64url(serial, DER)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = cert.serial_number
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big")
    return f"{_b64url(aki.key_identifier)}.{_b64url(serial_bytes)}"


def renewal_info(managed: ManagedCertificate) -> dict | None:
    """The CA's suggested renewal window for ``managed``'s current certificate, or None when the
    CA's directory offers no renewalInfo: ``renew_at`` (a random time in the window, as RFC 9773
    §4.2 asks), ``window_start``, ``window_end``, ``next_check_at`` (from Retry-After)."""
    account = managed.acme_account
    if account is None or managed.certificate is None:
        return None
    net = _Network(verify_ssl=_verify(account), user_agent=USER_AGENT, timeout=NETWORK_TIMEOUT)
    directory = acme_client.ClientV2.get_directory(account.directory_url, net)
    try:
        base = directory["renewalInfo"]
    except KeyError:
        return None
    cert = x509.load_pem_x509_certificate(managed.certificate.pem.encode())
    response = net.get(f"{base.rstrip('/')}/{ari_cert_id(cert)}")
    info = messages.RenewalInfo.from_json(response.json())
    start, end = info.suggested_window.start, info.suggested_window.end
    span = max(0.0, (end - start).total_seconds())
    now = timezone.now()
    next_check = _retry_after(response.headers.get("Retry-After"), now)
    return {
        "renew_at": start + timedelta(seconds=random.uniform(0, span)),
        "window_start": start,
        "window_end": end,
        "next_check_at": next_check or now + ARI_DEFAULT_RECHECK,
    }


# --- revocation --------------------------------------------------------------------------------


def revoke_certificate(account: AcmeAccount, cert_pem: bytes | str, reason: int) -> None:
    """Revoke a certificate with ``account``'s key (RFC 8555 §7.6). Raises
    :class:`AcmeProblem` with the CA's problem detail."""
    data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    cert = x509.load_pem_x509_certificate(data)
    acme = client_for(account)
    try:
        acme.revoke(cert, int(reason))
    except messages.Error as e:
        raise _problem(e, acme.net) from None
    except (requests.RequestException, acme_errors.Error) as e:
        raise AcmeProblem("", f"Cannot reach the ACME server: {_short(e)}") from None
