"""What needs attention across the clients a user may see, most urgent first.

:func:`attention` gathers the kinds of :data:`RANKS` — open incidents, down checks, certificate
problems, overdue renewals, failures, undelivered notices, answered and pending approvals,
expiring certificates, maintenance, incident reports to write, holds and tasks — into one list
(``Attention.items``) in that order, oldest (or nearest deadline) first within a kind. Client
users get only their clients' things and none of the provider's own work (overdue renewals,
failures, notices, tasks); the template words every row from its kind in the reader's language.
The page refreshes itself (htmx polling, ``operations.views.POLL_SECONDS``).

Built on the certificate queries every page and the API share (:mod:`mamori.certificates.queries`),
so that "expiring", "served now" and "has problem X" mean the same thing everywhere. Every query
starts from ``visible_to(user)`` (ACC-01).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from mamori.certificates.models import Certificate
from mamori.certificates.problems import severity
from mamori.certificates.queries import (
    EXPIRING_COUNT_DAYS,
    Explained,
    Remaining,
    current_sightings,
    default_notice_window,
    explain,
    filter_certificates,
    notice_window,
    remaining,
    served_now,
    ssl_contracts,
)
from mamori.clients.models import Client, Contract
from mamori.core.models import User
from mamori.inventory.models import Endpoint, EndpointState
from mamori.notices.models import Notice, NoticeState

# How many rows of each kind the dashboard shows before linking to the full list.
DASHBOARD_LIMIT = 50


@dataclass
class ProblemItem:
    endpoint: Endpoint
    problems: list[Explained]
    certificate: Certificate | None
    remaining: Remaining | None


@dataclass
class ExpiringItem:
    certificate: Certificate
    remaining: Remaining
    window: int
    endpoints: list[Endpoint] = field(default_factory=list)


@dataclass
class Counts:
    clients: int
    endpoints: int
    certificates: int
    problems: int
    expiring: int
    incidents: int = 0
    checks: int = 0
    checks_down: int = 0


#: The kinds of things that need attention, most urgent first: the dashboard's one ordering.
#: Each is a code the template words in the reader's language; within a kind the oldest (or the
#: nearest deadline) comes first.
RANKS = {
    "incident": 0,  # an open incident: a client's service is down
    "check_down": 1,  # a check confirmed down without an open incident (in maintenance, say)
    "cert_problem": 2,  # an endpoint serving an expired, wrong or broken certificate
    "renewal_overdue": 3,  # provider staff: the renewal should have happened by now
    "failure": 4,  # provider staff: an order, deployment or revocation failed
    "notice_failed": 5,  # provider staff: a notice could not be delivered
    "approval_answered": 6,  # the client said yes or no: the next step is the provider's
    "approval_requested": 7,  # the client's answer is needed before the certificate expires
    "cert_expiring": 8,  # a certificate inside its notice window
    "contract_notice": 8,  # a contract's notice deadline is near (CT-02)
    "maintenance": 8,  # maintenance under way or within a week: the client's notice and the work
    "incident_report": 9,  # provider staff: a recovered incident waits for its report (RPT-02)
    "on_hold": 10,  # a renewal waits for something from the client
    "task": 11,  # provider staff: an open task
    "invoice_overdue": 5,  # an invoice unpaid after its due date (BIL-04)
    "unanswered": 9,  # provider staff: asked of the client a month ago, no answer (NOT-05)
}
#: How each kind is shown: danger (red), warn (amber) or info.
TONES = {
    "incident": "danger",
    "check_down": "danger",
    "cert_problem": "danger",
    "renewal_overdue": "danger",
    "failure": "danger",
    "notice_failed": "danger",
    "approval_answered": "warn",
    "approval_requested": "warn",
    "cert_expiring": "warn",
    "contract_notice": "warn",
    "maintenance": "info",
    "incident_report": "warn",
    "on_hold": "warn",
    "task": "info",
    "invoice_overdue": "warn",
    "unanswered": "warn",
}


@dataclass
class Item:
    """One thing that needs attention: ``kind`` (a key of :data:`RANKS`) says what it is and
    what to do next; ``at`` is since when (or, for a deadline, by when); ``obj`` the record."""

    kind: str
    at: datetime | None
    obj: Any
    client: Client | None = None
    url: str = ""
    #: A deadline (the certificate's expiry for an approval) where one applies.
    due: datetime | None = None
    #: Extra facts the template words: a state, a count, the time a renewal was due.
    extra: dict = field(default_factory=dict)

    @property
    def tone(self) -> str:
        return TONES[self.kind]

    def key(self, far: datetime) -> tuple:
        return (RANKS[self.kind], self.due or self.at or far, getattr(self.obj, "pk", 0))


@dataclass
class LifecyclePanel:
    """The certificate lifecycle's share of the dashboard: failure is loud (CERT-06..11)."""

    failures: list = field(default_factory=list)  # open Failure rows (provider staff only)
    overdue: list = field(default_factory=list)  # ManagedCertificate
    approvals: list = field(default_factory=list)  # Approval waiting for the client
    on_hold: list = field(default_factory=list)  # ManagedCertificate
    tasks: list = field(default_factory=list)  # open Task

    @property
    def empty(self) -> bool:
        return not (self.failures or self.overdue or self.approvals or self.on_hold or self.tasks)


@dataclass
class Attention:
    counts: Counts
    problems: list[ProblemItem]
    expiring: list[ExpiringItem]
    unchecked: list[Endpoint]
    failed_notices: list[Notice]
    more_problems: int = 0
    more_expiring: int = 0
    more_unchecked: int = 0
    more_failed_notices: int = 0
    lifecycle: LifecyclePanel = field(default_factory=LifecyclePanel)
    # Clients that have named fewer than two information-handling officers (ACC-02).
    missing_officers: list = field(default_factory=list)
    # Everything above and the monitoring's incidents and down checks in one list, most
    # urgent first (:data:`RANKS`).
    items: list[Item] = field(default_factory=list)
    more_items: int = 0

    @property
    def empty(self) -> bool:
        return not (
            self.items
            or self.problems
            or self.expiring
            or self.unchecked
            or self.failed_notices
            or not self.lifecycle.empty
        )  # a client without officers is a set-up gap, shown apart: endpoints can be all clear


def problem_items(user: User, now: datetime) -> list[ProblemItem]:
    endpoints = (
        Endpoint.objects.visible_to(user)
        .filter(state=EndpointState.PROBLEM)
        .select_related("client", "current_certificate")
    )
    items = []
    for endpoint in endpoints:
        cert = endpoint.current_certificate
        items.append(
            ProblemItem(
                endpoint=endpoint,
                problems=explain(endpoint.problems),
                certificate=cert,
                remaining=remaining(cert.not_after, now) if cert else None,
            )
        )
    far = now + timedelta(days=36500)
    items.sort(
        key=lambda i: (
            severity(i.endpoint.problems),
            i.certificate.not_after if i.certificate else far,
            i.endpoint.client.code,
            i.endpoint.label,
        )
    )
    return items


def expiring_items(user: User, now: datetime) -> list[ExpiringItem]:
    """Certificates served now that are inside their contract's notice window."""
    client_ids = set(Client.objects.visible_to(user).values_list("pk", flat=True))
    contracts = ssl_contracts(client_ids)
    chosen = Contract.objects.filter(
        pk__in=Endpoint.objects.visible_to(user).exclude(contract=None).values("contract_id")
    )
    # Only certificates inside the widest window can be inside their own: fetch just those.
    widest = max(
        [default_notice_window()]
        + [c.notice_schedule()[0] for c in [*contracts.values(), *chosen] if c.expiry_notice_days]
    )
    sightings = (
        current_sightings(user)
        .filter(certificate__not_after__lte=now + timedelta(days=widest))
        .select_related("certificate", "endpoint__client", "endpoint__contract")
    )
    by_cert: dict[int, ExpiringItem] = {}
    for sighting in sightings:
        cert, endpoint = sighting.certificate, sighting.endpoint
        window = notice_window(endpoint, contracts, cert)
        left = Remaining.until(cert.not_after, now)
        if left.days >= window:
            continue
        item = by_cert.setdefault(
            cert.pk, ExpiringItem(certificate=cert, remaining=left, window=window)
        )
        item.window = max(item.window, window)
        item.endpoints.append(endpoint)
    return sorted(by_cert.values(), key=lambda i: (i.certificate.not_after, i.certificate.pk))


def counts(user: User, now: datetime) -> Counts:
    from mamori.monitoring.models import Check, CheckState, Incident

    endpoints = Endpoint.objects.visible_to(user)
    served = Certificate.objects.filter(served_now(user))
    checks = Check.objects.visible_to(user).filter(enabled=True)
    return Counts(
        incidents=Incident.objects.visible_to(user).open().count(),
        checks=checks.count(),
        checks_down=checks.filter(state=CheckState.DOWN).count(),
        clients=Client.objects.visible_to(user).count(),
        endpoints=endpoints.count(),
        certificates=served.count(),
        problems=endpoints.filter(state=EndpointState.PROBLEM).count(),
        # The same set as the certificate list's "expiring within 30 days" filter it links to.
        expiring=filter_certificates(
            Certificate.objects.visible_to(user), user, expiring_within=EXPIRING_COUNT_DAYS, now=now
        ).count(),
    )


def lifecycle_panel(user: User, now: datetime, limit: int = DASHBOARD_LIMIT) -> LifecyclePanel:
    """Open lifecycle failures, overdue renewals, approvals and holds waiting for the client,
    open tasks: each most urgent (oldest) first."""
    from mamori.lifecycle import renewal
    from mamori.lifecycle.models import (
        Approval,
        ApprovalState,
        Failure,
        ManagedCertificate,
        Task,
    )

    managed = ManagedCertificate.objects.visible_to(user).select_related("client", "certificate")
    panel = LifecyclePanel()
    if user.is_provider_staff:
        panel.failures = list(
            Failure.objects.visible_to(user)
            .open()
            .select_related("client", "managed")
            .order_by("first_at", "pk")[:limit]
        )
    if user.is_provider_staff:
        # The provider's lateness, not the client's business: the client sees the approval or
        # the hold its renewal waits for instead.
        candidates = managed.filter(renew_at__lte=now, certificate__isnull=False).order_by(
            "renew_at"
        )
        panel.overdue = [m for m in candidates if renewal.is_overdue(m, now)][:limit]
    panel.approvals = list(
        Approval.objects.visible_to(user)
        .filter(state=ApprovalState.REQUESTED)
        .select_related("managed__client", "renewal_of")
        .order_by("requested_at", "pk")[:limit]
    )
    panel.on_hold = list(
        managed.filter(awaiting__in=list(renewal.HOLD_REASONS)).order_by("awaiting_since")[:limit]
    )
    if user.is_provider_staff:  # tasks are the provider's work list
        panel.tasks = list(
            Task.objects.visible_to(user)
            .open()
            .select_related("client", "managed")
            .order_by("created_at", "pk")[:limit]
        )
    return panel


def monitoring_items(user: User, now: datetime, limit: int) -> list[Item]:
    """Open incidents, down checks without one, and (provider staff) recovered incidents whose
    report is still to be written."""
    from mamori.monitoring.models import Check, CheckState, Incident, IncidentState

    items = []
    incidents = (
        Incident.objects.visible_to(user)
        .open()
        .select_related("client", "uptime_check")
        .order_by("started_at", "pk")[:limit]
    )
    covered = set()
    for incident in incidents:
        covered.add(incident.uptime_check_id)
        items.append(
            Item(
                "incident",
                incident.started_at,
                incident,
                incident.client,
                incident.get_absolute_url(),
            )
        )
    down = (
        Check.objects.visible_to(user)
        .filter(enabled=True, state=CheckState.DOWN)
        .exclude(pk__in=[pk for pk in covered if pk])
        .exclude(incidents__state=IncidentState.OPEN)
        .select_related("client")
        .order_by("state_changed_at", "pk")[:limit]
    )
    for check in down:
        items.append(
            Item(
                "check_down", check.state_changed_at, check, check.client, check.get_absolute_url()
            )
        )
    from mamori.monitoring import heartbeat

    watched = [item.obj if item.kind == "check_down" else item.obj.uptime_check for item in items]
    beats = heartbeat.recent([c for c in watched if c is not None])
    for item, check in zip(items, watched, strict=True):
        item.extra["beats"] = beats.get(check.pk, []) if check is not None else []
    if user.is_provider_staff:
        recovered = (
            Incident.objects.visible_to(user)
            .filter(state=IncidentState.RECOVERED)
            .select_related("client")
            .order_by("recovered_at", "pk")[:limit]
        )
        for incident in recovered:
            items.append(
                Item(
                    "incident_report",
                    incident.recovered_at,
                    incident,
                    incident.client,
                    incident.get_absolute_url(),
                )
            )
    return items


#: How far ahead the dashboard lists maintenance.
MAINTENANCE_AHEAD = timedelta(days=7)


def maintenance_items(user: User, now: datetime, limit: int) -> list[Item]:
    """Maintenance under way or starting within :data:`MAINTENANCE_AHEAD`, soonest first, with
    when the client's advance notice goes out (or went out) (MON-06)."""
    from django.urls import reverse

    from mamori.monitoring import maintenance
    from mamori.monitoring.models import MaintenanceWindow

    windows = (
        MaintenanceWindow.objects.visible_to(user)
        .filter(cancelled_at__isnull=True)
        .select_related("client")
    )
    items = []
    for window, starts, ends in maintenance.upcoming(windows, now, now + MAINTENANCE_AHEAD, limit):
        notice_at = starts - timedelta(hours=window.notify_hours_before)
        told = starts in maintenance.announced_starts(window)
        unheard = not told and not maintenance.recipients(window)
        items.append(
            Item(
                "maintenance",
                starts,
                window,
                window.client,
                reverse("maintenance_calendar") + f"?month={timezone.localtime(starts):%Y-%m}",
                due=starts,
                extra={
                    "ends": ends,
                    "notice_at": notice_at,
                    "under_way": starts <= now,
                    "told": told,
                    "late": not told and not unheard and notice_at <= now < starts,
                    # No contact of the client takes maintenance notices: nobody will be told.
                    "unheard": unheard,
                },
            )
        )
    return items


def answered_approvals(user: User, limit: int) -> list[Item]:
    """Approvals the client answered whose next step is still open: approved but not ordered
    yet, or declined for the certificate still served (it will expire)."""
    from django.db.models import F
    from django.urls import reverse

    from mamori.lifecycle.models import Approval, ApprovalState

    answered = (
        Approval.objects.visible_to(user)
        .filter(
            state__in=[ApprovalState.APPROVED, ApprovalState.DECLINED],
            renewal_of_id=F("managed__certificate_id"),
        )
        .select_related("managed__client", "managed__certificate", "decided_by")
        .order_by("decided_at", "pk")[:limit]
    )
    return [
        Item(
            "approval_answered",
            approval.decided_at,
            approval,
            approval.managed.client,
            reverse("approval_decide", args=[approval.pk])
            if not user.is_provider_staff
            else approval.managed.get_absolute_url(),
            due=approval.managed.certificate.not_after if approval.managed.certificate else None,
            extra={"state": approval.state, "issuer": approval.managed.issuer},
        )
        for approval in answered
    ]


def overdue_invoice_items(user: User, now: datetime, limit: int) -> list[Item]:
    """Invoices unpaid after their due date (BIL-04), for provider staff and the client's
    administrators."""
    from django.urls import reverse

    from mamori.billing.models import Invoice
    from mamori.billing.payments import overdue_invoices
    from mamori.core.models import Role

    if not (user.is_provider_staff or user.role == Role.CLIENT_ADMIN):
        return []
    today = timezone.localdate(now)
    found = overdue_invoices(Invoice.objects.visible_to(user), today)[:limit]
    return [
        Item(
            "invoice_overdue",
            None,
            invoice,
            invoice.client,
            reverse("invoice_payments", args=[invoice.number]),
            due=timezone.make_aware(datetime.combine(invoice.due_date, datetime.min.time())),
            extra={"balance": invoice.balance, "days": (today - invoice.due_date).days},
        )
        for invoice in found
    ]


def unanswered_items(user: User, now: datetime, limit: int) -> list[Item]:
    """Questions to the client and waits on the client unanswered for a month (NOT-05), for
    provider staff: the work may be suspended (the full list: the desk's "unanswered" page)."""
    from mamori.desk.waits import unanswered

    if not user.is_provider_staff:
        return []
    return [
        Item(
            "unanswered",
            u.asked_at,
            u,
            u.client,
            u.url,
            extra={"suspended": u.request is not None and u.request.state == "suspended"},
        )
        for u in unanswered(user, now)
        if not (u.request is not None and u.request.state == "suspended")
    ][:limit]


def ordered_items(user: User, now: datetime, a: Attention, limit: int) -> tuple[list[Item], int]:
    """Everything of ``a`` and the monitoring's in one list, most urgent first."""
    from django.urls import reverse

    from mamori.lifecycle import renewal
    from mamori.lifecycle.models import FailureKind

    items = monitoring_items(user, now, limit)
    for problem in a.problems:
        e = problem.endpoint
        items.append(
            Item(
                "cert_problem",
                e.last_checked_at,
                problem,
                e.client,
                e.get_absolute_url(),
                extra={"severity": severity(e.problems)},
            )
        )
    lc = a.lifecycle
    for m in lc.overdue:
        items.append(
            Item(
                "renewal_overdue",
                renewal.overdue_at(m),
                m,
                m.client,
                m.get_absolute_url(),
                due=m.certificate.not_after if m.certificate else None,
                extra={"renew_at": m.renew_at},
            )
        )
    for f in lc.failures:
        if f.kind == FailureKind.OVERDUE:
            continue  # the overdue renewal itself is listed, with since when
        url = f.managed.get_absolute_url() if f.managed else ""
        items.append(Item("failure", f.first_at, f, f.client, url))
    for notice in a.failed_notices:
        items.append(
            Item(
                "notice_failed",
                notice.created_at,
                notice,
                notice.client,
                reverse("notice_detail", args=[notice.pk]),
            )
        )
    items += answered_approvals(user, limit)
    for ap in lc.approvals:
        items.append(
            Item(
                "approval_requested",
                ap.requested_at,
                ap,
                ap.managed.client,
                reverse("approval_decide", args=[ap.pk]),
                due=ap.renewal_of.not_after if ap.renewal_of else None,
            )
        )
    broken = {problem.endpoint.pk for problem in a.problems}
    for exp in a.expiring:
        if exp.endpoints and all(e.pk in broken for e in exp.endpoints):
            continue  # listed as a certificate problem already, with the time left
        endpoint = exp.endpoints[0] if exp.endpoints else None
        items.append(
            Item(
                "cert_expiring",
                exp.certificate.not_after,
                exp,
                endpoint.client if endpoint else None,
                exp.certificate.get_absolute_url(),
                due=exp.certificate.not_after,
            )
        )
    items += maintenance_items(user, now, limit)
    items += contract_items(user, now)
    items += overdue_invoice_items(user, now, limit)
    items += unanswered_items(user, now, limit)
    for m in lc.on_hold:
        items.append(Item("on_hold", m.awaiting_since, m, m.client, m.get_absolute_url()))
    for t in lc.tasks:
        items.append(Item("task", t.created_at, t, t.client, t.get_absolute_url()))
    far = now + timedelta(days=36500)
    items.sort(key=lambda item: item.key(far))
    return items[:limit], max(0, len(items) - limit)


def contract_items(user: User, now: datetime) -> list[Item]:
    """Contracts whose notice deadline is near (within their reminder time)."""
    from mamori.clients.reminders import near_deadlines

    today = timezone.localdate(now)
    items = []
    for contract, status in near_deadlines(Contract.objects.visible_to(user), today):
        due = timezone.make_aware(datetime.combine(status.notice_deadline, datetime.max.time()))
        items.append(
            Item(
                "contract_notice",
                due,
                contract,
                contract.client,
                contract.get_absolute_url(),
                due=due,
                extra={"ends": status.ends_if_notice_by_deadline, "status": status},
            )
        )
    return items


def attention(user: User, now: datetime | None = None, limit: int = DASHBOARD_LIMIT) -> Attention:
    """Everything the dashboard lists for ``user``, each list most urgent first."""
    now = now or timezone.now()
    problems = problem_items(user, now)
    expiring = expiring_items(user, now)
    unchecked_qs = (
        Endpoint.objects.visible_to(user)
        .filter(state=EndpointState.UNKNOWN, enabled=True)
        .select_related("client")
        .order_by("created_at", "pk")
    )
    unchecked_total = unchecked_qs.count()
    failed: list[Notice] = []
    failed_total = 0
    if user.is_provider_staff:
        failed_qs = (
            Notice.objects.visible_to(user)
            .filter(state__in=[NoticeState.FAILED, NoticeState.RETRY])
            .select_related("client")
            .order_by("-created_at", "-pk")
        )
        failed_total = failed_qs.count()
        failed = list(failed_qs[:limit])
    found = Attention(
        counts=counts(user, now),
        problems=problems[:limit],
        expiring=expiring[:limit],
        unchecked=list(unchecked_qs[:limit]),
        failed_notices=failed,
        more_problems=max(0, len(problems) - limit),
        more_expiring=max(0, len(expiring) - limit),
        more_unchecked=max(0, unchecked_total - limit),
        more_failed_notices=max(0, failed_total - limit),
        lifecycle=lifecycle_panel(user, now, limit),
        missing_officers=officers_missing(user),
    )
    found.items, found.more_items = ordered_items(user, now, found, limit)
    return found


def officers_missing(user: User) -> list:
    """The clients ``user`` may see that have named fewer than two information-handling
    officers (ACC-02): shown to provider staff and to the client's administrators, who name them."""
    from mamori.access.services import clients_missing_officers
    from mamori.clients.models import Client
    from mamori.core.models import Role

    if not (user.is_provider_staff or user.role == Role.CLIENT_ADMIN):
        return []
    clients = list(Client.objects.visible_to(user).order_by("code"))
    missing = clients_missing_officers(clients)
    return [c for c in clients if c.pk in missing]
