"""Notices before a domain registration lapses (CERT-16).

A lapsed domain takes the client's sites and mail down, and certificates cannot be issued for
it (000 §11.2(3) puts the outage outside the provider's liability, but the client must hear of it
in time). An RDAP check that is up with the ``expiring`` flag queues a notice to the client's
contacts for certificates and to the operators, once per stage of the schedule: the check's
``warn_days``, then the stages of ``MAMORI_EXPIRY_NOTICE_DAYS`` below it. Each notice is an
outbox row keyed by check, expiration date and stage, so a rerun sends nothing twice, and a
renewal (a new expiration date) starts the schedule again. A lapsed registration is a down
check and so an incident.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from mamori.clients.models import NoticeTopic
from mamori.monitoring.kinds import CheckKind
from mamori.monitoring.models import Check
from mamori.notices.models import NoticeKind
from mamori.notices.services import enqueue, recipients_for
from mamori.probe.checks_result import CheckError, CheckResult

__all__ = ["notify_expiring", "stage"]


def stage(warn_days: int, days_left: float) -> int:
    """The notice stage for ``days_left``: the smallest threshold of the schedule at or above it."""
    schedule = {warn_days, *(d for d in settings.MAMORI_EXPIRY_NOTICE_DAYS if d < warn_days)}
    return min((d for d in schedule if d >= days_left), default=warn_days)


def notify_expiring(check: Check, result: CheckResult) -> int:
    """Queue this stage's notices for ``check``'s registration if it is expiring; how many
    were new. Call it in the transaction that records ``result``."""
    if check.kind != CheckKind.RDAP or not result.ok or result.error_code != CheckError.EXPIRING:
        return 0
    data: dict[str, Any] = result.data
    days_left, expires_at = data.get("days_left"), data.get("expires_at")
    if days_left is None or not expires_at:
        return 0
    expires = dt.datetime.fromisoformat(str(expires_at).replace("Z", "+00:00"))
    warn_days = int(check.settings.get("warn_days", 30))
    threshold = stage(warn_days, float(days_left))
    queued = enqueue(
        NoticeKind.DOMAIN_EXPIRING,
        f"domain-expiry:{check.pk}:{expires.date().isoformat()}:{threshold}",
        recipients_for(check.client, NoticeTopic.CERTIFICATES),
        {
            "check": check,
            "client": check.client,
            "domain": data.get("domain") or check.settings.get("domain", ""),
            "expires_at": expires,
            "days_left": max(0, int(float(days_left))),
            "registrar": data.get("registrar") or "",
        },
        client=check.client,
    )
    return len(queued.created)
