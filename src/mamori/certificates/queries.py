"""What "expiring", "served now" and "has problem X" mean, the same on every page and in the API.

The certificate list, the endpoint and client pages, the API and the dashboard
(:mod:`mamori.operations.dashboard`) share these queries. Every query starts from
``visible_to(user)`` (ACC-01).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from mamori.certificates.models import Certificate, CertificateSighting
from mamori.certificates.problems import problem_label, problem_text, severity
from mamori.certificates.schedule import applicable_thresholds
from mamori.clients.models import Client, Contract, ContractType
from mamori.core.models import User
from mamori.inventory.models import Endpoint, EndpointState

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

    @property
    def label(self) -> str:
        """The short name shown on the badge (the code itself is for machines)."""
        return problem_label(self.code)


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


# Problems from this one on degrade the service; the ones before it break it.
_FIRST_WARNING = severity(["incomplete_chain"])


def explain(codes: list[str]) -> list[Explained]:
    """Problem codes, most urgent first, each with its explanation in the active language."""
    ordered = sorted(codes or [], key=lambda c: severity([c]))
    return [Explained(c, problem_text(c), severity([c]) < _FIRST_WARNING) for c in ordered]
