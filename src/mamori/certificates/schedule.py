"""When to send expiry notices (CERT-03), for any certificate lifetime from 6 to 398 days.

The contract gives thresholds in days before expiry (default 90, 60, 30, 14, 7, 3, 1). Applied
naively to short-lived certificates they misfire: a 47-day certificate is "within 60 days" from
the moment it is issued, and a 6-day certificate would trip every threshold at birth. Mamori's
rule:

1. A threshold applies to a certificate only if it is at most a third of the certificate's
   lifetime. Before the last third, a certificate is young: renewal is not due yet (CAs and
   ACME clients renew with about a third of the lifetime left), so a notice would be noise. A
   freshly issued certificate therefore never gets a notice.
2. If none of the contract's thresholds fits (say a contract with [30, 14] and 6-day
   certificates), one threshold of a sixth of the lifetime (at least one day) is used instead, so
   every certificate is warned about at least once.
3. At each check, only the most urgent threshold that has been reached is due. A certificate that
   Mamori first sees with 5 days left gets the 7-day notice, not the 60-, 30- and 14-day ones.
4. Each (certificate, threshold, recipient) is noticed at most once; the outbox's idempotency key
   enforces it. Once a certificate has expired, the expiry itself is a problem state and is
   notified as such, not as a threshold.

Examples with the default schedule: 398 days → 90, 60, 30, 14, 7, 3, 1; 90 days → 30, 14, 7, 3,
1; 47 days → 14, 7, 3, 1; 6 days → 1.
"""

from __future__ import annotations

import math


def applicable_thresholds(schedule: list[int], lifetime_days: float) -> list[int]:
    """The thresholds (days, most distant first) that apply to a certificate of this lifetime."""
    cap = lifetime_days / 3
    fitting = sorted({t for t in schedule if 0 < t <= cap}, reverse=True)
    if fitting:
        return fitting
    return [max(1, math.floor(lifetime_days / 6))]


def due_threshold(schedule: list[int], lifetime_days: float, days_left: float) -> int | None:
    """The most urgent applicable threshold reached, or ``None`` if no notice is due.

    ``days_left`` may be fractional; an expired certificate (``days_left <= 0``) has none.
    """
    if days_left <= 0:
        return None
    reached = [t for t in applicable_thresholds(schedule, lifetime_days) if days_left <= t]
    return min(reached) if reached else None
