"""The client's yes or no to a renewal (CERT-04).

A client administrator of the certificate's client approves or declines in the portal or through
the API; a viewer cannot. Provider staff who see the client record a decision given by phone,
letter, e-mail or in a meeting on the client's behalf, and must say who gave it. Every decision
is on the audit trail. The renewal pass (:mod:`mamori.lifecycle.renewal`) orders the renewal
once it finds the approval, and marks it used.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from mamori.core import audit
from mamori.core.models import Role, User
from mamori.core.permissions import Rule, may_change
from mamori.lifecycle.models import (
    Approval,
    ApprovalChannel,
    ApprovalState,
    ManagedCertificate,
)

# How provider staff may record a decision the client gave them.
RECORDED_CHANNELS = (
    ApprovalChannel.PHONE,
    ApprovalChannel.LETTER,
    ApprovalChannel.EMAIL,
    ApprovalChannel.MEETING,
)
CLIENT_CHANNELS = (ApprovalChannel.PORTAL, ApprovalChannel.API)


class ApprovalError(ValueError):
    """The decision cannot be recorded; the message says why, for a person to read."""


def is_client_admin_of(user: User | None, managed: ManagedCertificate) -> bool:
    return (
        user is not None
        and user.is_active
        and user.role == Role.CLIENT_ADMIN
        and user.client_id == managed.client_id
    )


def may_decide(user: User | None, managed: ManagedCertificate) -> bool:
    """Whether ``user`` may approve or decline (client admin) or record a decision (staff): the
    ``EDITOR`` rule of the client, not the ``STAFF`` rule of the managed certificate itself."""
    return may_change(user, managed, Rule.EDITOR)


def _check(actor: User | None, managed: ManagedCertificate, channel: str, given_by: str) -> str:
    """Validate who decides and how; returns the ``given_by`` to record."""
    if actor is not None and not may_decide(actor, managed):
        raise PermissionDenied
    if channel not in ApprovalChannel.values:
        raise ApprovalError(
            f"unknown channel {channel!r}: one of {', '.join(ApprovalChannel.values)}"
        )
    if is_client_admin_of(actor, managed):
        return given_by.strip() or actor.get_full_name() or actor.get_username()
    # Provider staff (or the command line) record what the client said: who, and how.
    if channel in CLIENT_CHANNELS:
        raise ApprovalError(
            "record how the client gave the decision: by phone, letter, e-mail or meeting"
        )
    if not given_by.strip():
        raise ApprovalError("say who at the client gave the decision (given by)")
    return given_by.strip()


def _decide(
    approval: Approval,
    state: str,
    *,
    actor: User | None,
    channel: str,
    given_by: str,
    note: str,
    at: datetime | None,
    request=None,
) -> Approval:
    managed = approval.managed
    given_by = _check(actor, managed, channel, given_by)
    now = timezone.now()
    at = at or now
    if at > now:
        raise ApprovalError("the decision cannot be dated in the future")
    with transaction.atomic():
        locked = Approval.objects.select_for_update().get(pk=approval.pk)
        if locked.state != ApprovalState.REQUESTED:
            raise ApprovalError(
                f"this renewal approval is already {locked.get_state_display().lower()}"
            )
        locked.state = state
        locked.decided_at = at
        locked.decided_by = actor
        locked.given_by = given_by[:200]
        locked.channel = channel
        locked.note = note
        locked.save(
            update_fields=["state", "decided_at", "decided_by", "given_by", "channel", "note"]
        )
        audit.record(
            "approval.approve" if state == ApprovalState.APPROVED else "approval.decline",
            locked,
            actor=actor,
            request=request,
            actor_label=None if actor or request else "mamori cert",
            client_id=managed.client_id,
            changes={
                "managed": managed.pk,
                "given_by": locked.given_by,
                "channel": channel,
                "at": at,
                "note": note,
            },
        )
    return locked


def approve(
    approval: Approval,
    *,
    actor: User | None,
    channel: str,
    given_by: str = "",
    note: str = "",
    at: datetime | None = None,
    request=None,
) -> Approval:
    """The client says yes to the renewal asked for in ``approval``."""
    return _decide(
        approval,
        ApprovalState.APPROVED,
        actor=actor,
        channel=channel,
        given_by=given_by,
        note=note,
        at=at,
        request=request,
    )


def decline(
    approval: Approval,
    *,
    actor: User | None,
    channel: str,
    given_by: str = "",
    note: str = "",
    at: datetime | None = None,
    request=None,
) -> Approval:
    """The client says no: nothing is ordered for this renewal."""
    return _decide(
        approval,
        ApprovalState.DECLINED,
        actor=actor,
        channel=channel,
        given_by=given_by,
        note=note,
        at=at,
        request=request,
    )


def record_approval(
    managed: ManagedCertificate,
    *,
    actor: User | None,
    given_by: str,
    channel: str,
    at: datetime | None = None,
    note: str = "",
    request=None,
) -> Approval:
    """Record a yes the client gave by phone, letter, e-mail or in a meeting, for the renewal of
    the current certificate: it answers the open request, or is recorded ahead of it."""
    _check(actor, managed, channel, given_by)
    if at is not None and at > timezone.now():
        raise ApprovalError("the decision cannot be dated in the future")
    with transaction.atomic():
        open_approval = (
            Approval.objects.select_for_update()
            .filter(managed=managed, state__in=[ApprovalState.REQUESTED, ApprovalState.APPROVED])
            .first()
        )
        if open_approval is not None and open_approval.state == ApprovalState.APPROVED:
            raise ApprovalError(
                f"the renewal of {managed} is already approved "
                f"(by {open_approval.given_by or '?'}, {open_approval.decided_at:%Y-%m-%d})"
            )
        if open_approval is None:
            open_approval = Approval.objects.create(
                managed=managed,
                renewal_of=managed.certificate,
                requested_at=at or timezone.now(),
            )
    return approve(
        open_approval,
        actor=actor,
        channel=channel,
        given_by=given_by,
        note=note,
        at=at,
        request=request,
    )
