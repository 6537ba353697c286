"""Orders at a commercial CA without ACME (CERT-07, CERT-08, CERT-15).

Mamori makes the key (kept in the vault) and the CSR; an operator applies at the CA with it and
records every exchange about the order, with the documents sent or received (encrypted in the
vault). The CA reviews and issues, or rejects: then the documents submitted for the application
are destroyed and the order says so. An issued certificate is accepted only if it matches the
order's key and names (:func:`mamori.lifecycle.orders.complete_order`). What the CA charged is
recorded on the order and handed to billing.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import MAX_PREC, Context, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.certificates.models import Certificate
from mamori.certificates.services import issued_chain_problem
from mamori.clients.models import Client
from mamori.core import audit
from mamori.core.models import User
from mamori.lifecycle import orders
from mamori.lifecycle.models import (
    ApprovalState,
    IssuerKind,
    ManagedCertificate,
    MessageDirection,
    Order,
    OrderAttachment,
    OrderMessage,
    OrderPurpose,
    OrderState,
)
from mamori.vault import services as vault
from mamori.vault.models import SecretKind

MAX_ATTACHMENT_BYTES = vault.MAX_VALUE_BYTES


class OrderStateError(ValidationError):
    """The order is not in a state that allows this step."""


def _require_manual(order: Order, *states: str) -> None:
    if order.issuer != IssuerKind.MANUAL:
        raise OrderStateError(_("This is an ACME order; Mamori handles it by itself."))
    if states and order.state not in states:
        raise OrderStateError(
            _("Not possible while the order is “%(state)s”.") % {"state": order.get_state_display()}
        )


def create_manual_order(
    managed: ManagedCertificate, *, actor: User | None, purpose: str | None = None, request=None
) -> Order:
    """A new order at the commercial CA: key and CSR made by Mamori, nothing sent yet.
    Raises ValidationError for an ACME certificate, :class:`orders.OrderInFlight` if one is open."""
    if managed.issuer != IssuerKind.MANUAL:
        raise ValidationError(_("This certificate is issued by ACME; Mamori orders it by itself."))
    approval = None
    if managed.certificate_id and purpose in (None, OrderPurpose.RENEW):
        # A renewal: the client's approval of it, if that is their instruction (CERT-04).
        from mamori.lifecycle.renewal import current_approval

        approval = current_approval(managed, ApprovalState.APPROVED)
    with transaction.atomic():
        order = orders.create_order(managed, purpose, actor=actor, approval=approval)
        audit.record(
            "order.create",
            order,
            actor=actor,
            request=request,
            changes={"purpose": order.purpose, "names": order.names, "key_type": order.key_type},
            client_id=managed.client_id,
        )
    return order


def csr_pem(order: Order) -> str:
    """The order's PKCS#10 request (PEM), to paste or upload at the CA."""
    return order.csr_pem


def _set_state(order: Order, state: str, action: str, *, actor, request, **changes) -> Order:
    with transaction.atomic():
        order.state = state
        fields = ["state", "updated_at"]
        for name, value in changes.items():
            if hasattr(order, name):
                setattr(order, name, value)
                fields.append(name)
        order.save(update_fields=fields)
        audit.record(
            action,
            order,
            actor=actor,
            request=request,
            changes={"state": state, **{k: _jsonable(v) for k, v in changes.items()}},
            client_id=order.managed.client_id,
        )
    return order


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime | date) else value


def apply(
    order: Order,
    *,
    actor: User | None,
    ca_reference: str = "",
    at: datetime | None = None,
    request=None,
) -> Order:
    """The application was sent to the CA (state ``applied``)."""
    _require_manual(order, OrderState.NEW)
    changes = {"ca_reference": ca_reference.strip()} if ca_reference.strip() else {}
    order = _set_state(
        order, OrderState.APPLIED, "order.apply", actor=actor, request=request, **changes
    )
    record_message(
        order,
        direction=MessageDirection.NOTE,
        subject=_("Application sent to the CA"),
        body=ca_reference and _("CA order number: %(ref)s") % {"ref": ca_reference},
        at=at,
        actor=actor,
        request=request,
    )
    return order


def under_review(
    order: Order,
    *,
    actor: User | None,
    ca_reference: str = "",
    at: datetime | None = None,
    request=None,
) -> Order:
    """The CA reviews the application (state ``under_review``)."""
    _require_manual(order, OrderState.NEW, OrderState.APPLIED)
    changes = {"ca_reference": ca_reference.strip()} if ca_reference.strip() else {}
    order = _set_state(
        order,
        OrderState.UNDER_REVIEW,
        "order.under_review",
        actor=actor,
        request=request,
        **changes,
    )
    record_message(
        order,
        direction=MessageDirection.NOTE,
        subject=_("The CA is reviewing the application"),
        at=at,
        actor=actor,
        request=request,
    )
    return order


def destroy_documents(order: Order, *, actor: User | None, reason: str) -> int:
    """Destroy the content of every attachment of ``order`` (crypto-shredding in the vault);
    returns how many were destroyed. The rows stay: file name, size and checksum remain."""
    count = 0
    now = timezone.now()
    for attachment in OrderAttachment.objects.filter(message__order=order).select_related("secret"):
        if attachment.secret is not None and attachment.secret.destroyed_at is None:
            vault.destroy_secret(attachment.secret, actor=None, reason=reason)
        if attachment.destroyed_at is None:
            attachment.destroyed_at = now
            attachment.save(update_fields=["destroyed_at"])
            count += 1
    return count


def reject(
    order: Order, *, actor: User | None, reason: str, at: datetime | None = None, request=None
) -> Order:
    """The CA rejected the application: the order is ``rejected``, every document submitted
    for it is destroyed and the order records when (CERT-07)."""
    _require_manual(order, OrderState.NEW, OrderState.APPLIED, OrderState.UNDER_REVIEW)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the CA rejected the application.")})
    now = timezone.now()
    with transaction.atomic():
        count = destroy_documents(
            order, actor=actor, reason=f"Application rejected by the CA (order #{order.pk})"
        )
        order = _set_state(
            order,
            OrderState.REJECTED,
            "order.reject",
            actor=actor,
            request=request,
            error_detail=reason,
            finished_at=now,
            documents_destroyed_at=now,
        )
        record_message(
            order,
            direction=MessageDirection.NOTE,
            subject=_("Rejected by the CA"),
            body=reason + "\n" + _("%(count)d submitted document(s) destroyed.") % {"count": count},
            at=at,
            actor=actor,
            request=request,
        )
    return order


def upload_certificate(order: Order, pem: bytes | str, *, actor: User | None, request=None):
    """Accept the certificate the CA issued (leaf, then its chain). Raises
    :class:`orders.CertificateMismatch` with the precise reason if it is not for the order's key
    and names (nothing changes then)."""
    _require_manual(order, OrderState.NEW, OrderState.APPLIED, OrderState.UNDER_REVIEW)
    with transaction.atomic():
        cert = orders.complete_order(order, pem)
        # A certificate a person hands over must come from a CA the provider trusts: one signed
        # by anyone's own CA would otherwise be installed on the client's servers.
        problem = issued_chain_problem(orders.split_pem_chain(pem), now=timezone.now())
        if problem:
            raise orders.CertificateMismatch(problem)
        audit.record(
            "order.certificate",
            order,
            actor=actor,
            request=request,
            changes={"certificate": cert.fingerprint_sha256, "not_after": cert.not_after},
            client_id=order.managed.client_id,
        )
        record_message(
            order,
            direction=MessageDirection.RECEIVED,
            subject=_("Certificate issued"),
            body=_("Serial number %(serial)s, valid until %(until)s")
            % {"serial": cert.serial, "until": f"{cert.not_after:%Y-%m-%d %H:%M %Z}"},
            actor=actor,
            request=request,
        )
    return cert


def record_message(
    order: Order,
    *,
    direction: str,
    subject: str,
    body: str = "",
    counterpart: str = "",
    at: datetime | None = None,
    actor: User | None,
    attachments=(),
    request=None,
) -> OrderMessage:
    """Log an exchange with the CA about ``order`` (CERT-08). ``attachments`` are
    ``(filename, content_type, data)``; their content goes to the vault, size and SHA-256 stay on
    the row."""
    if direction not in MessageDirection.values:
        raise ValidationError({"direction": _("Choose sent, received or note.")})
    subject = (subject or "").strip()
    if not subject:
        raise ValidationError({"subject": _("Enter a subject.")})
    attachments = list(attachments)
    for filename, _content_type, data in attachments:
        if not data:
            raise ValidationError({"attachments": _("%(name)s is empty.") % {"name": filename}})
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise ValidationError(
                {
                    "attachments": _("%(name)s is larger than %(limit)d KiB.")
                    % {"name": filename, "limit": MAX_ATTACHMENT_BYTES // 1024}
                }
            )
    if attachments and order.documents_destroyed_at is not None:
        raise ValidationError(
            {"attachments": _("The documents of this order were destroyed; attach none.")}
        )
    client = order.managed.client
    with transaction.atomic():
        message = OrderMessage.objects.create(
            order=order,
            direction=direction,
            at=at or timezone.now(),
            by=actor,
            counterpart=counterpart.strip()[:200],
            subject=subject[:300],
            body=body or "",
        )
        for filename, content_type, data in attachments:
            data = bytes(data)
            secret = vault.store_secret(
                client,
                kind=SecretKind.OTHER,
                name=f"Order #{order.pk}: {filename}"[:200],
                value=data,
                actor=None,
            )
            OrderAttachment.objects.create(
                message=message,
                filename=filename[:255],
                content_type=(content_type or "")[:100],
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                secret=secret,
            )
        audit.record(
            "order.message",
            order,
            actor=actor,
            request=request,
            changes={
                "direction": direction,
                "subject": subject,
                "attachments": [a[0] for a in attachments],
            },
            client_id=client.pk,
        )
    return message


def attachment_content(attachment: OrderAttachment) -> bytes:
    """The attachment's content; raises :class:`vault.SecretDestroyed` once it was destroyed."""
    if attachment.destroyed_at is not None or attachment.secret is None:
        raise vault.SecretDestroyed(f"attachment {attachment.pk} was destroyed")
    return vault.decrypt_for_export(attachment.secret)


def record_fee(
    order: Order, amount, currency: str, note: str = "", *, actor: User | None, request=None
) -> Order:
    """What the CA charged for ``order`` (CERT-15), passed on to billing.

    Checked against the order's own field rules (at most 10 digits before the decimal point,
    not negative, a note of at most 300 characters) before anything is saved. Raises
    ValidationError per field, or for a fee that is billed already."""
    try:
        amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise ValidationError({"amount": _("Enter the amount as a number.")}) from None
    if not amount.is_finite():
        raise ValidationError({"amount": _("Enter the amount as a number.")})
    currency = (currency or "JPY").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError({"currency": _("Use a three-letter currency code (JPY, USD).")})
    if order.fee_billed_at is not None:
        raise ValidationError(_("This fee has already been billed; it cannot be changed."))
    fields = ["fee_amount", "fee_currency", "fee_note"]
    # 33000.000 is 33000: only the digits that mean something count against the field's.
    order.fee_amount = amount.normalize(Context(prec=MAX_PREC))
    order.fee_currency = currency
    order.fee_note = (note or "").strip()
    try:
        order.clean_fields(exclude=[f.name for f in Order._meta.fields if f.name not in fields])
    except ValidationError as e:
        order.refresh_from_db(fields=fields)
        raise ValidationError(
            {name.removeprefix("fee_"): messages for name, messages in e.message_dict.items()}
        ) from None
    order.fee_amount = order.fee_amount.quantize(Decimal("0.01"))
    with transaction.atomic():
        order.fee_recorded_at = timezone.now()
        order.save(update_fields=[*fields, "fee_recorded_at", "updated_at"])
        audit.record(
            "order.fee",
            order,
            actor=actor,
            request=request,
            # Named as the fields are, so that the audit trail names them in the reader's language.
            changes={
                "fee_amount": str(order.fee_amount),
                "fee_currency": currency,
                "fee_note": order.fee_note,
            },
            client_id=order.managed.client_id,
        )
    return order


def fees_for_billing(client: Client, month: date):
    """The client's CA fees recorded in ``month`` (any day of it) that are not billed yet."""
    start = timezone.make_aware(datetime(month.year, month.month, 1))
    end = timezone.make_aware(datetime(month.year + (month.month == 12), month.month % 12 + 1, 1))
    return Order.objects.filter(
        managed__client=client,
        fee_amount__isnull=False,
        fee_billed_at__isnull=True,
        fee_recorded_at__gte=start,
        fee_recorded_at__lt=end,
    ).order_by("fee_recorded_at", "pk")


def issued_by_mamori(certificate: Certificate) -> Order | None:
    """The order that obtained ``certificate``, if Mamori obtained it."""
    return Order.objects.filter(certificate=certificate).order_by("-pk").first()
