"""Revoking certificates and re-issuing their replacements (CERT-10, CERT-12, CT-10).

A revocation is first recorded (``pending``) with the RFC 5280 reason, who asked and when; then,
for a certificate Mamori obtained by ACME, it is revoked at the CA at once (``done``, or
``failed`` with an open failure); a certificate from a commercial CA stays ``pending`` until an
operator records that the CA revoked it (:func:`mark_revoked`). A client's request to revoke is
also its instruction for the replacement: a re-issue order is recorded (for ACME the background
pass drives it) and a task follows it up until the replacement is installed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from mamori.certificates.models import Certificate
from mamori.core import audit
from mamori.core.models import User
from mamori.core.sentences import Text
from mamori.lifecycle import failures, orders, tasks
from mamori.lifecycle.models import (
    FailureKind,
    IssuerKind,
    ManagedCertificate,
    Order,
    OrderPurpose,
    Revocation,
    RevocationReason,
    RevocationState,
    TaskKind,
)

log = logging.getLogger(__name__)


class AlreadyRevoked(ValidationError):
    """The certificate already has a pending or completed revocation."""


def _acme_order(certificate: Certificate) -> Order | None:
    return (
        Order.objects.filter(certificate=certificate, acme_account__isnull=False)
        .select_related("acme_account")
        .order_by("-pk")
        .first()
    )


def _managed_for(certificate: Certificate) -> ManagedCertificate | None:
    managed = ManagedCertificate.objects.filter(certificate=certificate).first()
    if managed is None:
        order = Order.objects.filter(certificate=certificate).select_related("managed").first()
        managed = order.managed if order is not None else None
    return managed


def _client_of(certificate: Certificate, managed: ManagedCertificate | None):
    if managed is not None:
        return managed.client
    sighting = certificate.sightings.select_related("endpoint__client").first()
    if sighting is None:
        raise ValidationError(_("Mamori does not know whose certificate this is."))
    return sighting.endpoint.client


def request_revocation(
    certificate: Certificate,
    *,
    reason: int,
    requested_by: str,
    requested_at: datetime | None = None,
    actor: User | None,
    managed: ManagedCertificate | None = None,
    reissue: bool = True,
    request=None,
) -> Revocation:
    """Record and carry out the revocation of ``certificate`` (see the module's docstring).
    Raises :class:`AlreadyRevoked` for a second request, ValidationError for bad input."""
    try:
        reason = int(reason)
    except (TypeError, ValueError):
        reason = -1
    if reason not in RevocationReason.values:
        raise ValidationError(
            {
                "reason": _("Unknown revocation reason; use one of %(reasons)s.")
                % {"reasons": ", ".join(f"{v} ({lbl})" for v, lbl in RevocationReason.choices)}
            }
        )
    requested_by = (requested_by or "").strip()
    if not requested_by:
        raise ValidationError({"requested_by": _("Say who asked for the revocation.")})
    managed = managed or _managed_for(certificate)
    client = _client_of(certificate, managed)
    existing = Revocation.objects.filter(
        certificate=certificate, state__in=[RevocationState.PENDING, RevocationState.DONE]
    ).first()
    if existing is not None:
        raise AlreadyRevoked(
            _("This certificate already has a revocation (%(state)s, recorded %(when)s).")
            % {"state": existing.get_state_display(), "when": f"{existing.created_at:%Y-%m-%d}"}
        )
    acme_order = _acme_order(certificate)
    try:
        with transaction.atomic():
            revocation = Revocation.objects.create(
                client=client,
                certificate=certificate,
                managed=managed,
                reason=reason,
                requested_by=requested_by[:200],
                requested_at=requested_at or timezone.now(),
                method=IssuerKind.ACME if acme_order else IssuerKind.MANUAL,
                reissue=reissue,
                recorded_by=actor,
            )
            audit.record(
                "revocation.request",
                revocation,
                actor=actor,
                request=request,
                changes={
                    "certificate": certificate.fingerprint_sha256,
                    "reason": reason,
                    "requested_by": requested_by,
                    "method": revocation.method,
                    "reissue": reissue,
                },
            )
    except IntegrityError:
        raise AlreadyRevoked(_("This certificate already has a revocation.")) from None
    if acme_order is not None:
        revoke_at_ca(revocation, acme_order)
    if reissue and managed is not None:
        start_reissue(revocation, managed, actor=actor)
    return revocation


def revoke_at_ca(revocation: Revocation, order: Order | None = None) -> Revocation:
    """Send a pending ACME revocation to the CA (again, after a failure)."""
    from mamori.lifecycle import acme

    order = order or _acme_order(revocation.certificate)
    subject = f"revocation:{revocation.pk}"
    try:
        acme.revoke_certificate(
            order.acme_account, revocation.certificate.pem.encode(), revocation.reason
        )
    except Exception as exc:  # the CA's answer or the network: recorded, never raised
        message = f"The CA refused or could not be reached: {exc}"
        log.warning("revocation %s failed: %s", revocation.pk, exc)
        with transaction.atomic():
            Revocation.objects.filter(pk=revocation.pk).update(
                state=RevocationState.FAILED, error=message[:2000]
            )
            failures.open_failure(
                revocation.client,
                FailureKind.REVOCATION,
                subject,
                message,
                managed=revocation.managed,
                certificate=revocation.certificate,
            )
        revocation.refresh_from_db()
        return revocation
    now = timezone.now()
    with transaction.atomic():
        Revocation.objects.filter(pk=revocation.pk).update(
            state=RevocationState.DONE, done_at=now, error=""
        )
        failures.resolve_failures(subject, FailureKind.REVOCATION, now=now)
        audit.record(
            "revocation.done",
            revocation,
            changes={"method": "acme"},
            actor_label="mamori",
        )
    revocation.refresh_from_db()
    return revocation


def mark_revoked(
    revocation: Revocation,
    *,
    ca_reference: str = "",
    at: datetime | None = None,
    actor: User | None,
    request=None,
) -> Revocation:
    """Record that the commercial CA revoked the certificate."""
    if revocation.state == RevocationState.DONE:
        raise ValidationError(_("This revocation is already recorded as done."))
    now = at or timezone.now()
    with transaction.atomic():
        revocation.state = RevocationState.DONE
        revocation.done_at = now
        revocation.ca_reference = (ca_reference or "").strip()[:200]
        revocation.error = ""
        revocation.save(update_fields=["state", "done_at", "ca_reference", "error"])
        failures.resolve_failures(f"revocation:{revocation.pk}", FailureKind.REVOCATION)
        audit.record(
            "revocation.done",
            revocation,
            actor=actor,
            request=request,
            changes={"ca_reference": revocation.ca_reference, "at": now.isoformat()},
        )
    return revocation


def start_reissue(revocation: Revocation, managed: ManagedCertificate, *, actor: User | None):
    """Record the replacement order (if none is open) and the task that follows it up."""
    order = orders.open_order(managed)
    if order is None:
        if revocation.reason == RevocationReason.KEY_COMPROMISE:
            # Never the compromised key again, whatever the key policy says (in memory only:
            # the order's new key becomes the managed certificate's when it is issued).
            managed.key_secret_id = None
        try:
            order = orders.create_order(managed, OrderPurpose.REISSUE, actor=actor)
        except orders.OrderInFlight as exc:
            order = exc.order
    how = (
        Text(gettext_noop("Mamori orders the replacement by ACME and installs it."))
        if managed.issuer == IssuerKind.ACME
        else Text(
            gettext_noop(
                "Apply at the commercial CA with the new order's CSR and upload the certificate."
            )
        )
    )
    task, _created = tasks.open_task(
        managed.client,
        TaskKind.REISSUE,
        f"reissue:revocation:{revocation.pk}",
        Text(gettext_noop("Re-issue %(name)s after its revocation"), name=managed.name),
        Text(
            gettext_noop(
                "Revoked because: %(reason)s (asked by %(who)s). Replacement order #%(order)s. "
                "%(how)s"
            ),
            reason=Text.label(revocation.get_reason_display()),
            who=revocation.requested_by,
            order=order.pk,
            how=how,
        ),
        managed=managed,
        certificate=revocation.certificate,
    )
    return order, task


def report_key_compromise(
    managed: ManagedCertificate,
    *,
    reported_by: str,
    at: datetime | None = None,
    actor: User | None,
    request=None,
):
    """A suspected key compromise: open the revoke-and-re-issue task (CERT-12). The revocation
    itself (reason key compromise) is requested from the task, with who decided it."""
    reported_by = (reported_by or "").strip()
    if not reported_by:
        raise ValidationError({"reported_by": _("Say who reported the compromise.")})
    at = at or timezone.now()
    cert = managed.certificate
    task, created = tasks.open_task(
        managed.client,
        TaskKind.REISSUE,
        f"reissue:compromise:{managed.pk}:{cert.pk if cert else 'none'}",
        Text(
            gettext_noop("Key compromise suspected: revoke and re-issue %(name)s"),
            name=managed.name,
        ),
        Text(
            gettext_noop(
                "Reported by %(who)s on %(when)s. Revoke the certificate with reason “key "
                "compromise” and re-issue it with a new key."
            ),
            who=reported_by,
            when=f"{at:%Y-%m-%d %H:%M}",
        ),
        managed=managed,
        certificate=cert,
    )
    if created:
        audit.record(
            "task.key_compromise",
            task,
            actor=actor,
            request=request,
            changes={"reported_by": reported_by, "at": at.isoformat()},
        )
    return task
