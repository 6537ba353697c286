"""What needs attention across the clients a user may see, most urgent first.

Built on the certificate queries every page and the API share (:mod:`mamori.certificates.queries`),
so that "expiring", "served now" and "has problem X" mean the same thing everywhere. Every query
starts from ``visible_to(user)`` (ACC-01).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

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

    @property
    def empty(self) -> bool:
        return not (
            self.problems
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
    endpoints = Endpoint.objects.visible_to(user)
    served = Certificate.objects.filter(served_now(user))
    return Counts(
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
    candidates = managed.filter(renew_at__lte=now, certificate__isnull=False).order_by("renew_at")
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
    panel.tasks = list(
        Task.objects.visible_to(user)
        .open()
        .select_related("client", "managed")
        .order_by("created_at", "pk")[:limit]
    )
    return panel


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
    return Attention(
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
