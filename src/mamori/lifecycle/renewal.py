"""When a managed certificate is renewed, and whether it may be (CERT-04, CERT-05, CERT-06, CT-09).

``schedule`` sets ``renew_at`` for the current certificate: the CA's ACME Renewal Information
window where it offers one (RFC 9773), else when a third of the lifetime remains (half for
lifetimes under 10 days). ``run_pass`` goes through the enabled certificates whose renewal time
has come and, under the client's instruction, orders the renewal (``standing``), or asks the
client and waits for the yes (``approval``): nothing is ordered without it. A renewal on hold
waits for the client (payment, information, a decision) and is not ordered either.

A certificate whose renewal time has passed by its grace period without a new certificate is
overdue: it opens one ``overdue`` failure (operators are alerted once), resolved when the new
certificate arrives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy, gettext_noop

from mamori.clients import waits
from mamori.clients.models import NoticeTopic
from mamori.core import audit
from mamori.core.models import Role, User
from mamori.core.sentences import Text
from mamori.lifecycle import failures, orders
from mamori.lifecycle.models import (
    Approval,
    ApprovalState,
    Awaiting,
    Deployment,
    DeploymentState,
    Failure,
    FailureKind,
    IssuerKind,
    ManagedCertificate,
    OrderPurpose,
    OrderState,
    RenewalInstruction,
    Revocation,
)
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind, RecipientKind

log = logging.getLogger(__name__)

# Lifetimes under this renew at half their life, longer ones when a third remains.
SHORT_LIFETIME = timedelta(days=10)
# An overdue certificate: the renewal time passed by a quarter of what was left then, at most
# this long, without a new certificate.
MAX_OVERDUE_GRACE = timedelta(days=7)
MIN_OVERDUE_GRACE = timedelta(hours=1)
# How often to ask the CA again for its renewal information when it did not say.
ARI_DEFAULT_RECHECK = timedelta(hours=6)
# Reminders of an unanswered approval: when this share of the time that was left at the renewal
# time remains. The later ones also go to the operators.
REMINDER_SHARES = (0.5, 0.25, 0.1)
REMINDERS_TO_OPERATORS_FROM = 1  # index into REMINDER_SHARES
# What a renewal can be held for (the client's approval has its own flow).
HOLD_REASONS = (Awaiting.PAYMENT, Awaiting.INFORMATION, Awaiting.DECISION)


class RenewalError(Exception):
    """A renewal cannot be done now; the message says why, for a person to read."""


# --- the schedule ----------------------------------------------------------------------------


def lifetime_renew_at(not_before: datetime, not_after: datetime) -> datetime:
    """When a third of the lifetime remains, or half of it for lifetimes under 10 days."""
    lifetime = not_after - not_before
    share = 1 / 2 if lifetime < SHORT_LIFETIME else 2 / 3
    return not_before + lifetime * share


def schedule(managed: ManagedCertificate, now: datetime | None = None) -> datetime | None:
    """Set (and save) ``renew_at`` and ``renewal_source`` for the current certificate; returns
    ``renew_at`` (None without a certificate). The CA's renewal information is asked for again
    only when its ``next_check_at`` (Retry-After) has come."""
    now = now or timezone.now()
    cert = managed.certificate
    if cert is None:
        if managed.renew_at is not None or managed.renewal_source:
            managed.renew_at, managed.renewal_source = None, ""
            managed.save(update_fields=["renew_at", "renewal_source", "updated_at"])
        return None
    is_acme = managed.issuer == IssuerKind.ACME and managed.acme_account_id is not None
    ari_due = managed.ari_next_check_at is None or managed.ari_next_check_at <= now
    if managed.renew_at is not None and not (is_acme and ari_due):
        return managed.renew_at
    info = _renewal_info(managed) if is_acme else None
    fields = ["renew_at", "renewal_source", "updated_at"]
    if info and info.get("renew_at"):
        managed.renew_at = info["renew_at"]
        managed.renewal_source = "ari"
        managed.ari_window_start = info.get("window_start")
        managed.ari_window_end = info.get("window_end")
        managed.ari_next_check_at = info.get("next_check_at") or now + ARI_DEFAULT_RECHECK
        fields += ["ari_window_start", "ari_window_end", "ari_next_check_at"]
    else:
        if is_acme:  # no answer now: ask again later, keep what the CA said before
            managed.ari_next_check_at = now + ARI_DEFAULT_RECHECK
            fields.append("ari_next_check_at")
        if managed.renew_at is None or managed.renewal_source != "ari":
            managed.renew_at = lifetime_renew_at(cert.not_before, cert.not_after)
            managed.renewal_source = "lifetime"
    managed.save(update_fields=fields)
    return managed.renew_at


def _renewal_info(managed: ManagedCertificate) -> dict | None:
    """The CA's renewal information, or None where it offers none or cannot be reached (the
    lifetime rule then applies)."""
    try:
        from mamori.lifecycle import acme

        return acme.renewal_info(managed)
    except Exception as error:  # any failure: the lifetime rule applies
        log.warning("renewal information for %s not available: %s", managed, error)
        return None


def overdue_at(managed: ManagedCertificate) -> datetime | None:
    """When the renewal counts as overdue: its time plus a grace of a quarter of what was left
    then (1 hour to 7 days)."""
    if managed.renew_at is None:
        return None
    grace = timedelta(hours=6)
    cert = managed.certificate
    if cert is not None:
        grace = (cert.not_after - managed.renew_at) / 4
    return managed.renew_at + min(max(grace, MIN_OVERDUE_GRACE), MAX_OVERDUE_GRACE)


def is_overdue(managed: ManagedCertificate, now: datetime | None = None) -> bool:
    moment = overdue_at(managed)
    return moment is not None and moment <= (now or timezone.now())


def is_due(managed: ManagedCertificate, now: datetime | None = None) -> bool:
    return managed.renew_at is not None and managed.renew_at <= (now or timezone.now())


def is_on_hold(managed: ManagedCertificate) -> bool:
    return managed.awaiting in HOLD_REASONS


def subject_of(managed: ManagedCertificate) -> str:
    return f"managed:{managed.pk}"


def notice_prefix(managed: ManagedCertificate) -> str:
    """The start of the event key of every notice about this certificate's renewal."""
    return f"managed:{managed.pk}:"


# --- the pass --------------------------------------------------------------------------------


@dataclass
class PassReport:
    scheduled: int = 0
    ordered: int = 0
    asked: int = 0
    reminded: int = 0
    on_hold: int = 0
    overdue: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.scheduled} scheduled, {self.ordered} ordered, {self.asked} asked, "
            f"{self.reminded} reminded, {self.on_hold} on hold, {self.overdue} overdue"
            + (f", {len(self.errors)} error(s)" if self.errors else "")
        )


def run_pass(now: datetime | None = None) -> PassReport:
    """Schedule and decide every enabled managed certificate. One certificate's failure is
    logged and recorded, and the others go on."""
    now = now or timezone.now()
    report = PassReport()
    ids = list(
        ManagedCertificate.objects.filter(enabled=True, certificate__isnull=False)
        .order_by("renew_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in ids:
        try:
            managed = ManagedCertificate.objects.select_related(
                "client", "certificate", "contract"
            ).get(pk=pk)
            _process(managed, now, report)
        except Exception as error:  # one certificate must not stop the pass
            log.exception("renewal pass failed for managed certificate %s", pk)
            report.errors.append(f"{pk}: {error}")
    return report


def _process(managed: ManagedCertificate, now: datetime, report: PassReport) -> None:
    before = managed.renew_at
    if schedule(managed, now) != before:
        report.scheduled += 1
    _withdraw_stale_approvals(managed, now)
    _check_overdue(managed, now, report)
    announce_installed(managed)
    if not is_due(managed, now):
        return
    if is_on_hold(managed):
        report.on_hold += 1
        return
    if orders.open_order(managed) is not None:
        return
    if managed.next_attempt_at is not None and managed.next_attempt_at > now:
        return
    outcome = decide(managed, now=now)
    if outcome == "ordered":
        report.ordered += 1
    elif outcome == "asked":
        report.asked += 1
    elif outcome == "reminded":
        report.reminded += 1


def decide(managed: ManagedCertificate, *, now: datetime | None = None, actor: User | None = None):
    """Order the renewal if the client's instruction allows it now, else ask for (or remind of)
    the approval. Returns ``"ordered"``, ``"failed"`` (recorded as a failure, backing off),
    ``"asked"``, ``"reminded"``, ``"waiting"`` or ``"declined"``."""
    now = now or timezone.now()
    if managed.effective_instruction() == RenewalInstruction.STANDING:
        return "ordered" if _order(managed, None, now, actor) else "failed"
    approved = current_approval(managed, ApprovalState.APPROVED)
    if approved is not None:
        return "ordered" if _order(managed, approved, now, actor) else "failed"
    declined = (
        managed.approvals.filter(state=ApprovalState.DECLINED, renewal_of=managed.certificate)
        .order_by("-decided_at")
        .first()
    )
    if declined is not None:
        return "declined"  # the client said no; a yes recorded later still renews
    requested = current_approval(managed, ApprovalState.REQUESTED)
    if requested is None:
        request_approval(managed, now=now)
        return "asked"
    # Exactly once: the request's notices are keyed, so this only fills in what a crash between
    # recording the request and queueing its notices left out (or a contact added since).
    _notify_approval(requested, NoticeKind.APPROVAL_REQUESTED, "request", operators=False, now=now)
    return "reminded" if send_reminders(requested, now=now) else "waiting"


def current_approval(managed: ManagedCertificate, state: str) -> Approval | None:
    return (
        managed.approvals.filter(state=state, renewal_of_id=managed.certificate_id)
        .order_by("-requested_at", "-pk")
        .first()
    )


def _order(managed, approval, now, actor):
    try:
        with transaction.atomic():
            order = orders.create_order(
                managed, OrderPurpose.RENEW, actor=actor, approval=approval, now=now
            )
            audit.record(
                "order.create",
                order,
                actor=actor,
                actor_label=None if actor else "mamori renewal",
                client_id=managed.client_id,
                changes={
                    "purpose": order.purpose,
                    "instruction": managed.effective_instruction(),
                    "approval": approval.pk if approval else None,
                },
            )
    except orders.OrderInFlight:
        return None
    except ValueError as error:
        open_failure = managed.failures.open().filter(kind=FailureKind.ORDER).first()
        attempts = (open_failure.count if open_failure else 0) + 1
        retry = now + failures.backoff(attempts)
        ManagedCertificate.objects.filter(pk=managed.pk).update(next_attempt_at=retry)
        failures.open_failure(
            managed.client,
            FailureKind.ORDER,
            subject_of(managed),
            f"the renewal cannot be ordered: {error}",
            managed=managed,
            certificate=managed.certificate,
            next_retry_at=retry,
            now=now,
        )
        return None
    return order


def _withdraw_stale_approvals(managed: ManagedCertificate, now: datetime) -> None:
    """Open approvals for a certificate that is no longer the current one are not needed."""
    stale = managed.approvals.filter(state__in=[ApprovalState.REQUESTED, ApprovalState.APPROVED])
    stale = stale.exclude(renewal_of_id=managed.certificate_id)
    stale.update(state=ApprovalState.WITHDRAWN, decided_at=now)


def _check_overdue(managed: ManagedCertificate, now: datetime, report: PassReport) -> None:
    subject = subject_of(managed)
    if is_overdue(managed, now):
        report.overdue += 1
        cert = managed.certificate
        failures.open_failure(
            managed.client,
            FailureKind.OVERDUE,
            subject,
            # In the reader's language; in the operators' time zone, like the page that shows it.
            Text(
                gettext_noop(
                    "The renewal was due %(due)s and no new certificate has arrived; the current "
                    "one expires %(expiry)s."
                ),
                due=timezone.localtime(managed.renew_at).strftime("%Y-%m-%d %H:%M"),
                expiry=timezone.localtime(cert.not_after).strftime("%Y-%m-%d %H:%M"),
            ),
            managed=managed,
            certificate=cert,
            now=now,
        )
    else:
        failures.resolve_failures(subject, FailureKind.OVERDUE, now=now)


def announce_installed(managed: ManagedCertificate) -> bool:
    """Tell the client once that a renewed (or re-issued) certificate is installed: when every
    enabled deployment target serves it. Returns whether the notice was queued now."""
    cert = managed.certificate
    if cert is None:
        return False
    key = f"{notice_prefix(managed)}installed:{cert.fingerprint_sha256}"
    if Notice.objects.filter(key__startswith=key).exists():
        return False
    order = managed.orders.filter(certificate=cert, state=OrderState.ISSUED).first()
    if order is None or order.replaces_id is None:
        return False  # a first issue: nothing was renewed
    targets = set(managed.targets.filter(enabled=True).values_list("name", flat=True))
    served = set(
        Deployment.objects.filter(
            target__managed=managed, certificate=cert, state=DeploymentState.SUCCEEDED
        ).values_list("target__name", flat=True)
    )
    if not targets or not targets <= served:
        return False
    notices.enqueue(
        NoticeKind.CERT_INSTALLED,
        key,
        client_recipients(managed.client),
        {
            "client": managed.client,
            "managed": managed,
            "certificate": cert,
            "previous": order.replaces,
            "targets": sorted(targets),
        },
        client=managed.client,
        links={"certificate": cert},
    )
    return True


# --- asking the client -----------------------------------------------------------------------


def client_admin_recipients(client) -> list[notices.Recipient]:
    """The client's administrators (users), who may approve in the portal."""
    users = User.objects.filter(client=client, role=Role.CLIENT_ADMIN, is_active=True).exclude(
        email=""
    )
    return [
        notices.Recipient(RecipientKind.CONTACT, u.email, u.preferred_language(), user=u)
        for u in users.order_by("pk")
    ]


def client_recipients(client, *, operators: bool = False) -> list[notices.Recipient]:
    """Contacts for certificates and the client's administrators, one per address; with
    ``operators`` the provider's operators too."""
    result: list[notices.Recipient] = []
    seen: set[str] = set()
    for r in [
        *notices.recipients_for(client, NoticeTopic.CERTIFICATES, operators=operators),
        *client_admin_recipients(client),
    ]:
        if r.address.lower() not in seen:
            seen.add(r.address.lower())
            result.append(r)
    return result


def approval_url(approval: Approval) -> str:
    return settings.BASE_URL + reverse("approval_decide", args=[approval.pk])


def managed_url(managed: ManagedCertificate) -> str:
    return settings.BASE_URL + reverse("managed_detail", args=[managed.pk])


def request_approval(managed: ManagedCertificate, *, now: datetime | None = None) -> Approval:
    """Ask the client to approve the renewal of the current certificate (once: an open request
    is reused) and e-mail its administrators and certificate contacts."""
    now = now or timezone.now()
    existing = current_approval(managed, ApprovalState.REQUESTED)
    if existing is not None:
        return existing
    with transaction.atomic():
        approval = Approval.objects.create(
            managed=managed, renewal_of=managed.certificate, requested_at=now
        )
        audit.record(
            "approval.request",
            approval,
            actor_label="mamori renewal",
            client_id=managed.client_id,
            changes={"managed": managed.pk, "renewal_of": managed.certificate_id},
        )
    _notify_approval(approval, NoticeKind.APPROVAL_REQUESTED, "request", operators=False, now=now)
    return approval


def reminder_thresholds(approval: Approval) -> list[float]:
    """Days left before expiry at which to remind: shares of the time that was left when the
    client was asked, so a 6-day certificate is reminded within hours and a request made late
    is not followed by a reminder minutes later."""
    cert = approval.renewal_of
    if cert is None:
        return []
    start = approval.requested_at
    left_days = max((cert.not_after - start).total_seconds() / 86400, 0)
    return [round(left_days * share, 2) for share in REMINDER_SHARES]


def send_reminders(approval: Approval, *, now: datetime | None = None) -> int:
    """Send the reminder for each threshold passed and not yet sent (the last one only, if
    several passed at once); returns how many were sent (0 or 1)."""
    now = now or timezone.now()
    cert = approval.renewal_of
    if cert is None or approval.state != ApprovalState.REQUESTED:
        return 0
    days_left = (cert.not_after - now).total_seconds() / 86400
    thresholds = reminder_thresholds(approval)
    passed = [i for i, t in enumerate(thresholds) if days_left <= t]
    if not passed:
        return 0
    index = passed[-1]
    threshold = thresholds[index]
    if any(float(t) <= threshold for t in approval.reminders):
        return 0  # this one (or a later one) was sent already
    # Queued first (keyed, so never twice), then recorded: a crash in between sends it once.
    _notify_approval(
        approval,
        NoticeKind.APPROVAL_REMINDER,
        f"reminder:{threshold}",
        operators=index >= REMINDERS_TO_OPERATORS_FROM,
        now=now,
        extra={"days_left": max(int(days_left), 0), "final": index == len(thresholds) - 1},
    )
    Approval.objects.filter(pk=approval.pk).update(reminders=[*approval.reminders, threshold])
    approval.reminders = [*approval.reminders, threshold]
    return 1


def _notify_approval(approval, kind, step, *, operators, now, extra=None) -> None:
    managed = approval.managed
    notices.enqueue(
        kind,
        f"{notice_prefix(managed)}approval:{approval.pk}:{step}",
        client_recipients(managed.client, operators=operators),
        {
            "client": managed.client,
            "managed": managed,
            "approval": approval,
            "certificate": approval.renewal_of,
            "approval_url": approval_url(approval),
            "renew_at": managed.renew_at,
            **(extra or {}),
        },
        client=managed.client,
        links={"certificate": approval.renewal_of} if approval.renewal_of_id else {},
    )


# --- holds (CERT-05, CT-09) ------------------------------------------------------------------


def put_on_hold(
    managed: ManagedCertificate,
    awaiting: str,
    note: str = "",
    *,
    actor: User | None,
    notify: bool = True,
    now: datetime | None = None,
    request=None,
) -> ManagedCertificate:
    """Hold the renewal until the client provides ``awaiting`` (payment, information, a
    decision); the time counts from now (kept if it already waits for the same). With
    ``notify``, the client is asked for it by e-mail; the notice is listed on the page."""
    now = now or timezone.now()
    if awaiting not in HOLD_REASONS:
        raise RenewalError(f"cannot hold for {awaiting!r}: choose one of {', '.join(HOLD_REASONS)}")
    with transaction.atomic():
        managed = ManagedCertificate.objects.select_for_update().get(pk=managed.pk)
        if managed.awaiting != awaiting or managed.awaiting_since is None:
            managed.awaiting_since = now
        managed.awaiting = awaiting
        managed.awaiting_note = note
        managed.save(update_fields=["awaiting", "awaiting_since", "awaiting_note", "updated_at"])
        # The span the client's delay is counted from (CT-09: clients.waits.client_delay).
        waits.mirror(managed, awaited=awaited_text(awaiting, note), at=now, user=actor)
        audit.record(
            "managed.hold",
            managed,
            actor=actor,
            request=request,
            actor_label=None if actor or request else "mamori cert",
            changes={"awaiting": awaiting, "note": note, "since": managed.awaiting_since},
        )
    if notify:
        notices.enqueue(
            NoticeKind.RENEWAL_ON_HOLD,
            f"{notice_prefix(managed)}hold:{managed.awaiting_since.isoformat()}:{awaiting}",
            client_recipients(managed.client),
            {
                "client": managed.client,
                "managed": managed,
                "certificate": managed.certificate,
                "awaiting": managed.get_awaiting_display(),
                "awaiting_code": awaiting,
                "note": note,
                "since": managed.awaiting_since,
                "managed_url": managed_url(managed),
            },
            client=managed.client,
            links={"certificate": managed.certificate} if managed.certificate_id else {},
        )
    return managed


def awaited_text(awaiting: str, note: str) -> str:
    """What a hold awaits, as kept on its span of the client's delay: the operator's note when
    there is one, else what is awaited in the provider's language."""
    from django.utils import translation

    if (note or "").strip():
        return note.strip()
    with translation.override(settings.LANGUAGE_CODE):
        return str(Awaiting(awaiting).label)


def release_hold(
    managed: ManagedCertificate,
    *,
    actor: User | None,
    note: str = "",
    now: datetime | None = None,
    request=None,
    strict: bool = True,
) -> ManagedCertificate:
    """End the hold: the renewal goes on at the next pass. Returns the certificate. Raises
    :class:`RenewalError` if it is not on hold, unless not ``strict`` (then the request is
    still recorded on the audit trail, and nothing changes)."""
    now = now or timezone.now()
    with transaction.atomic():
        managed = ManagedCertificate.objects.select_for_update().get(pk=managed.pk)
        if not is_on_hold(managed) and strict:
            raise RenewalError(f"{managed} is not on hold")
        waited = now - managed.awaiting_since if managed.awaiting_since else None
        previous = managed.awaiting
        managed.awaiting, managed.awaiting_since, managed.awaiting_note = "", None, ""
        managed.save(update_fields=["awaiting", "awaiting_since", "awaiting_note", "updated_at"])
        waits.mirror(managed, awaited=None, at=now, user=actor)
        audit.record(
            "managed.release",
            managed,
            actor=actor,
            request=request,
            actor_label=None if actor or request else "mamori cert",
            changes={
                "awaited": previous,
                "waited_seconds": int(waited.total_seconds()) if waited else None,
                "note": note,
            },
        )
    return managed


# --- by hand ---------------------------------------------------------------------------------


def issue_now(managed: ManagedCertificate, *, actor: User | None = None, request=None):
    """Order a certificate now, whatever the schedule: the first issue, or a renewal where the
    client's instruction allows it (see :func:`renew_now`)."""
    if managed.certificate_id:
        return renew_now(managed, actor=actor, request=request)
    with transaction.atomic():
        order = orders.create_order(managed, OrderPurpose.ISSUE, actor=actor)
        audit.record(
            "order.create",
            order,
            actor=actor,
            request=request,
            actor_label=None if actor or request else "mamori cert",
            client_id=managed.client_id,
            changes={"purpose": order.purpose},
        )
    return order


def renew_now(managed: ManagedCertificate, *, actor: User | None = None, request=None):
    """Order the renewal now. Raises :class:`RenewalError` unless the client's instruction allows
    it (standing, or an approval given for this renewal) and it is not on hold; raises
    :class:`~mamori.lifecycle.orders.OrderInFlight` if an order is open."""
    if not managed.certificate_id:
        return issue_now(managed, actor=actor, request=request)
    in_flight = orders.open_order(managed)
    if in_flight is not None:
        raise orders.OrderInFlight(in_flight)
    if is_on_hold(managed):
        raise RenewalError(
            f"{managed} is on hold waiting for the client ({managed.get_awaiting_display()}); "
            "release the hold first"
        )
    approval = None
    if managed.effective_instruction() != RenewalInstruction.STANDING:
        approval = current_approval(managed, ApprovalState.APPROVED)
    with transaction.atomic():
        try:
            # create_order enforces the client's instruction (CERT-04) for every caller.
            order = orders.create_order(managed, OrderPurpose.RENEW, actor=actor, approval=approval)
        except orders.InstructionMissing:
            raise RenewalError(
                f"{managed} is renewed only with the client's approval, and none is recorded "
                "for this renewal; ask the client, or record their yes first"
            ) from None
        audit.record(
            "order.create",
            order,
            actor=actor,
            request=request,
            actor_label=None if actor or request else "mamori cert",
            client_id=managed.client_id,
            changes={"purpose": order.purpose, "approval": approval.pk if approval else None},
        )
    return order


# --- what a page shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    code: str  # valid, due, approval, hold, ordering, revoked, failed, overdue, declined, none,
    # disabled
    level: str  # ok, warn, problem, muted (the pill class)


# What each state is called on the pages and the command line.
STATE_LABELS = {
    "valid": gettext_lazy("valid"),
    "due": gettext_lazy("renewal due"),
    "approval": gettext_lazy("awaiting approval"),
    "declined": gettext_lazy("renewal declined"),
    "hold": gettext_lazy("on hold"),
    "ordering": gettext_lazy("ordering"),
    "revoked": gettext_lazy("revoked"),
    "failed": gettext_lazy("failed"),
    "overdue": gettext_lazy("overdue"),
    "none": gettext_lazy("not issued yet"),
    "disabled": gettext_lazy("not renewed automatically"),
}


def revocation_of(certificate_id: int, *, done: bool = False) -> Revocation | None:
    """The certificate's revocation, revoked or under way (only a revoked one with ``done``)."""
    return Revocation.objects.filter(certificate_id=certificate_id).in_force(done=done).first()


def status_of(managed: ManagedCertificate, now: datetime | None = None) -> Status:
    """The one state a list shows for the certificate, the most urgent first."""
    now = now or timezone.now()
    if Failure.objects.open().filter(managed=managed).exclude(kind=FailureKind.OVERDUE).exists():
        return Status("failed", "problem")
    if managed.certificate_id and is_overdue(managed, now):
        return Status("overdue", "problem")
    if is_on_hold(managed):
        return Status("hold", "warn")
    if orders.open_order(managed) is not None:
        return Status("ordering", "unknown")
    if managed.certificate_id and revocation_of(managed.certificate_id, done=True):
        return Status("revoked", "problem")
    if managed.certificate_id and current_approval(managed, ApprovalState.REQUESTED):
        return Status("approval", "warn")
    if not managed.enabled:
        return Status("disabled", "muted")
    if managed.certificate_id is None:
        return Status("none", "muted")
    if is_due(managed, now):
        if managed.approvals.filter(
            state=ApprovalState.DECLINED, renewal_of_id=managed.certificate_id
        ).exists():
            return Status("declined", "warn")
        return Status("due", "warn")
    return Status("valid", "ok")
