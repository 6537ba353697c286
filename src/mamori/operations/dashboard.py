"""What needs attention across the clients a user may see, most urgent first.

The dashboard, the certificate list and the API share these queries, so that "expiring",
"served now" and "has problem X" mean the same thing everywhere. Every query starts from
``visible_to(user)`` (ACC-01).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from mamori.certificates.models import Certificate, CertificateSighting
from mamori.certificates.problems import problem_text, severity
from mamori.certificates.schedule import applicable_thresholds
from mamori.clients.models import Client, Contract, ContractType
from mamori.core.models import User
from mamori.inventory.models import Endpoint, EndpointState
from mamori.notices.models import Notice, NoticeState

# How many rows of each kind the dashboard shows before linking to the full list.
DASHBOARD_LIMIT = 50
# The "expiring soon" count at the top of the dashboard.
EXPIRING_COUNT_DAYS = 30
# The widest "expiring within" filter (days) of the certificate list and the API.
EXPIRING_WITHIN_MAX = 3650


def days_left(moment: datetime, now: datetime | None = None) -> int:
    """Whole days until ``moment``: 0 = within the next 24 hours, negative = past."""
    return math.floor((moment - (now or timezone.now())).total_seconds() / 86400)


@dataclass(frozen=True)
class Remaining:
    """Time left until an expiry, in the words a page shows (see includes/days_left.html)."""

    seconds: float

    @classmethod
    def until(cls, moment: datetime, now: datetime | None = None) -> Remaining:
        return cls((moment - (now or timezone.now())).total_seconds())

    @property
    def days(self) -> int:
        return math.floor(self.seconds / 86400)

    @property
    def expired(self) -> bool:
        return self.seconds < 0

    @property
    def ago(self) -> int:
        """Whole days since it expired."""
        return math.floor(-self.seconds / 86400)

    @property
    def level(self) -> str:
        if self.expired or self.days < 7:
            return "danger"
        return "warn" if self.days < 30 else "ok"


def remaining(moment: datetime | None, now: datetime | None = None) -> Remaining | None:
    return Remaining.until(moment, now) if moment is not None else None


@dataclass(frozen=True)
class Explained:
    """A problem code with its explanation; ``severe`` ones break the service for visitors."""

    code: str
    text: str
    severe: bool


def default_notice_window() -> int:
    """Largest threshold of the default expiry notice schedule (days)."""
    return max(settings.MAMORI_EXPIRY_NOTICE_DAYS, default=EXPIRING_COUNT_DAYS)


def ssl_contracts(client_ids: set[int]) -> dict[int, Contract]:
    """Each client's most recent SSL management contract (the one whose schedule applies, as
    in :func:`mamori.certificates.services.notice_schedule`)."""
    chosen: dict[int, Contract] = {}
    contracts = Contract.objects.filter(
        client_id__in=client_ids, type=ContractType.SSL_MANAGEMENT
    ).order_by("client_id", "start", "pk")
    for contract in contracts:
        chosen[contract.client_id] = contract
    return chosen


def notice_schedule(endpoint: Endpoint, contracts: dict[int, Contract]) -> list[int]:
    """The endpoint's expiry notice schedule: its contract's, else its client's SSL management
    contract's, else ``MAMORI_EXPIRY_NOTICE_DAYS``; most distant threshold first."""
    contract = endpoint.contract or contracts.get(endpoint.client_id)
    schedule = contract.notice_schedule() if contract is not None else []
    return schedule or sorted(settings.MAMORI_EXPIRY_NOTICE_DAYS, reverse=True)


def notice_window(
    endpoint: Endpoint, contracts: dict[int, Contract], certificate: Certificate | None = None
) -> int:
    """Days before expiry from which the endpoint's certificate needs attention: the largest
    threshold of its notice schedule. Given the certificate, only thresholds that apply to its
    lifetime count (a 90-day certificate is not "expiring" for 60 of its 90 days), the same rule
    the expiry notices follow (:mod:`mamori.certificates.schedule`)."""
    schedule = notice_schedule(endpoint, contracts)
    if certificate is not None:
        schedule = applicable_thresholds(schedule, certificate.lifetime_days)
    return max(schedule, default=default_notice_window())


def current_sightings(user: User) -> QuerySet[CertificateSighting]:
    """What the endpoints the user may see serve now."""
    return CertificateSighting.objects.visible_to(user).filter(ended_at__isnull=True)


def served_now(user: User) -> Q:
    """Certificates served now by an endpoint the user may see."""
    endpoints = Endpoint.objects.visible_to(user).filter(current_certificate__isnull=False)
    return Q(pk__in=current_sightings(user).values("certificate_id")) | Q(
        pk__in=endpoints.values("current_certificate_id")
    )


def endpoints_with_problem(user: User, code: str) -> list[Endpoint]:
    """Visible endpoints whose current problems include ``code`` (filtered in Python: JSON
    lists are not portably queryable)."""
    candidates = Endpoint.objects.visible_to(user).filter(state=EndpointState.PROBLEM)
    return [
        e for e in candidates.only("id", "problems", "current_certificate_id") if code in e.problems
    ]


def filter_certificates(
    qs: QuerySet[Certificate],
    user: User,
    *,
    client: Client | None = None,
    expiring_within: int | None = None,
    problem: str | None = None,
    now: datetime | None = None,
) -> QuerySet[Certificate]:
    """Narrow a visible certificate queryset.

    ``client``: served (now or before) by that client's endpoints. ``expiring_within``: served
    now and expiring within that many days (already expired ones included: they need renewing
    most). ``problem``: served now by an endpoint that has that problem.
    """
    now = now or timezone.now()
    if client is not None:
        qs = qs.filter(
            pk__in=CertificateSighting.objects.visible_to(user)
            .filter(endpoint__client=client)
            .values("certificate_id")
        )
    if expiring_within is not None:
        qs = qs.filter(served_now(user), not_after__lte=now + timedelta(days=expiring_within))
    if problem:
        endpoints = endpoints_with_problem(user, problem)
        ids = [e.pk for e in endpoints]
        qs = qs.filter(
            Q(pk__in=current_sightings(user).filter(endpoint_id__in=ids).values("certificate_id"))
            | Q(pk__in=[e.current_certificate_id for e in endpoints if e.current_certificate_id])
        )
    return qs


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


# Problems from this one on degrade the service; the ones before it break it.
_FIRST_WARNING = severity(["incomplete_chain"])


def explain(codes: list[str]) -> list[Explained]:
    """Problem codes, most urgent first, each with its explanation in the active language."""
    ordered = sorted(codes or [], key=lambda c: severity([c]))
    return [Explained(c, problem_text(c), severity([c]) < _FIRST_WARNING) for c in ordered]


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
