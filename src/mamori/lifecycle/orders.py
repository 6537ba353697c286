"""Orders: the one way a certificate is requested, by ACME or from a commercial CA.

``create_order`` records the order with its key and CSR before anything is sent to a CA; the
partial unique constraint on open orders means a certificate is never ordered twice at once, even
by racing workers. ``complete_order`` is the one way an issued certificate is accepted: it must
match the order's key and names (CERT-07) before it becomes the managed certificate's current one,
and accepting it queues the deployments to its targets.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from mamori.certificates.models import Certificate
from mamori.certificates.services import upsert_certificate
from mamori.core.models import User
from mamori.lifecycle import keys
from mamori.lifecycle.models import (
    Approval,
    ApprovalState,
    IssuerKind,
    KeyPolicy,
    ManagedCertificate,
    Order,
    OrderPurpose,
    OrderState,
    RenewalInstruction,
)
from mamori.probe import CertInfo
from mamori.vault import services as vault

_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


class OrderInFlight(Exception):
    """The certificate already has an open order; it is not ordered again."""

    def __init__(self, order: Order):
        super().__init__(f"order #{order.pk} for {order.managed} is still open ({order.state})")
        self.order = order


class InstructionMissing(Exception):
    """A renewal without the client's instruction: neither a standing instruction nor an approval
    for this renewal (CERT-04). Nothing is ordered."""


class CertificateMismatch(ValueError):
    """An issued certificate does not belong to the order's key or names."""


def split_pem_chain(pem: bytes | str) -> list[bytes]:
    """The PEM certificates in ``pem``, in order."""
    data = pem.encode() if isinstance(pem, str) else pem
    return [m.group(0) + b"\n" for m in _PEM_CERT.finditer(data)]


def open_order(managed: ManagedCertificate) -> Order | None:
    return Order.objects.open().filter(managed=managed).first()


def _order_key(managed: ManagedCertificate, actor: User | None):
    """The key for a new order: the current one under ``reuse`` (if there is one), else new.
    Returns ``(secret, key)``."""
    if managed.key_policy == KeyPolicy.REUSE and managed.key_secret_id:
        secret = managed.key_secret
        if secret.destroyed_at is None:
            key = keys.load_key(vault.decrypt_for_export(secret))
            if keys.key_type_of(key) == managed.key_type:
                return secret, key
    key = keys.generate_key(managed.key_type)
    secret = vault.store_private_key(
        managed.client,
        keys.key_to_pem(key),
        actor=None,
        name=f"{managed.name}: {managed.get_key_type_display()} ({timezone.now():%Y-%m-%d})",
    )
    return secret, key


def create_order(
    managed: ManagedCertificate,
    purpose: str | None = None,
    *,
    actor: User | None = None,
    approval: Approval | None = None,
    now: datetime | None = None,
) -> Order:
    """Record a new order (state ``new``) with its key and CSR; nothing is sent yet.

    Raises :class:`OrderInFlight` if the certificate already has an open order,
    :class:`InstructionMissing` for a renewal without the client's instruction, ValueError if its
    names cannot go in a certificate."""
    now = now or timezone.now()
    existing = open_order(managed)
    if existing is not None:
        raise OrderInFlight(existing)
    if purpose is None:
        purpose = OrderPurpose.RENEW if managed.certificate_id else OrderPurpose.ISSUE
    # CERT-04, enforced here whoever asks: a renewal needs a standing instruction or the
    # client's approval of this renewal. (A first issue and a re-issue the client asked for
    # are the client's instruction themselves.)
    if (
        purpose == OrderPurpose.RENEW
        and approval is None
        and managed.effective_instruction() != RenewalInstruction.STANDING
    ):
        raise InstructionMissing(
            f"{managed} is renewed only with the client's approval, and none was given for "
            "this renewal"
        )
    names = [keys.normalise_name(n) for n in managed.names]
    try:
        with transaction.atomic():
            secret, key = _order_key(managed, actor)
            order = Order.objects.create(
                managed=managed,
                purpose=purpose,
                issuer=managed.issuer,
                names=names,
                key_type=managed.key_type,
                key_secret=secret,
                csr_pem=keys.make_csr(key, names).decode(),
                approval=approval,
                replaces=managed.certificate,
                acme_account=managed.acme_account if managed.issuer == IssuerKind.ACME else None,
                profile=managed.acme_profile if managed.issuer == IssuerKind.ACME else "",
                created_by=actor,
                created_at=now,
                next_attempt_at=now,
            )
            if approval is not None:
                Approval.objects.filter(pk=approval.pk).update(state=ApprovalState.USED)
    except IntegrityError:
        existing = open_order(managed)
        if existing is not None:
            raise OrderInFlight(existing) from None
        raise
    return order


def certificate_from_pem(pem: bytes | str, now: datetime | None = None) -> Certificate:
    """The inventory row for a PEM certificate (created if new)."""
    return upsert_certificate(CertInfo.from_pem(pem), now or timezone.now())


@transaction.atomic
def complete_order(
    order: Order, fullchain_pem: bytes | str, *, now: datetime | None = None
) -> Certificate:
    """Accept the issued certificate (leaf first, then its chain) for ``order``.

    Raises :class:`CertificateMismatch` (nothing changes) if it is not for the order's key and
    names. On success the order is ``issued``, the certificate becomes the managed certificate's
    current one, and deployments to its targets are queued."""
    now = now or timezone.now()
    pems = split_pem_chain(fullchain_pem)
    if not pems:
        raise CertificateMismatch("no PEM certificate found")
    key_pem = vault.decrypt_for_export(order.key_secret) if order.key_secret_id else None
    problems = keys.mismatches(
        pems[0], key_pem=key_pem, csr_pem=order.csr_pem.encode() or None, names=order.names
    )
    if problems:
        raise CertificateMismatch("; ".join(problems))
    cert = certificate_from_pem(pems[0], now)
    chain = b"".join(pems[1:]).decode()
    order.certificate = cert
    order.chain_pem = chain
    order.state = OrderState.ISSUED
    order.finished_at = now
    order.error_type = order.error_detail = ""
    order.save(
        update_fields=[
            "certificate",
            "chain_pem",
            "state",
            "finished_at",
            "error_type",
            "error_detail",
            "updated_at",
        ]
    )
    managed = ManagedCertificate.objects.select_for_update().get(pk=order.managed_id)
    managed.certificate = cert
    managed.chain_pem = chain
    managed.key_secret_id = order.key_secret_id
    managed.next_attempt_at = None
    managed.renew_at = None  # the renewal schedule is computed afresh for the new certificate
    managed.renewal_source = ""
    managed.save(
        update_fields=[
            "certificate",
            "chain_pem",
            "key_secret",
            "next_attempt_at",
            "renew_at",
            "renewal_source",
            "updated_at",
        ]
    )
    # A request for the client's yes to renewing the previous certificate is moot now (a
    # re-issue or an issue made it so); the next renewal asks afresh.
    Approval.objects.filter(
        managed=managed, state__in=[ApprovalState.REQUESTED, ApprovalState.APPROVED]
    ).exclude(pk=order.approval_id).update(
        state=ApprovalState.WITHDRAWN, decided_at=now, note="superseded by a new certificate"
    )
    # The key now belongs to a certificate: link it in the vault for the key's page.
    if order.key_secret_id and order.key_secret.certificate_id is None:
        type(order.key_secret).objects.filter(pk=order.key_secret_id).update(certificate=cert)
    from mamori.lifecycle import deploy

    deploy.queue_deployments(managed, cert, order=order, now=now)
    return cert
