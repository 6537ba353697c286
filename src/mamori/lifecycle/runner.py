"""One pass of the certificate lifecycle's background work, in order: schedule and decide the
renewals (which may place orders), drive the ACME orders that are due, install what was issued,
check the revocation status of served certificates, check site seals.

Each step is independent: one that fails is logged and the others still run, so a broken DNS
provider or an unreachable CA never stops deployments or checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

log = logging.getLogger(__name__)


def _renewal(now: datetime):
    from mamori.lifecycle import renewal

    return renewal.run_pass(now)


def _acme(now: datetime):
    from mamori.lifecycle import acme

    return acme.drive_due(now)


def _deploy(now: datetime):
    from mamori.lifecycle import deploy

    return deploy.drive_due(now)


def _status(now: datetime):
    from mamori.lifecycle import status

    return status.check_due(now)


def _seals(now: datetime):
    from mamori.lifecycle import seals

    return seals.check_due(now)


STEPS: list[tuple[str, Callable[[datetime], object]]] = [
    ("renewal", _renewal),
    ("acme", _acme),
    ("deploy", _deploy),
    ("revocation status", _status),
    ("site seals", _seals),
]


@dataclass
class LifecycleReport:
    results: dict[str, object] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Whether the pass did anything worth a log line."""
        for value in self.results.values():
            if isinstance(value, int) and value:
                return True
            if getattr(value, "ordered", 0) or getattr(value, "asked", 0):
                return True
        return bool(self.failed)

    def summary(self) -> str:
        parts = [
            f"{name}: {value.summary() if hasattr(value, 'summary') else value}"
            for name, value in self.results.items()
        ]
        if self.failed:
            parts.append(f"failed: {', '.join(self.failed)}")
        return "lifecycle " + "; ".join(parts)


def run_once(now: datetime | None = None) -> LifecycleReport:
    """Run every step once; a failing step does not stop the next."""
    report = LifecycleReport()
    for name, step in STEPS:
        try:
            report.results[name] = step(now or timezone.now())
        except Exception:
            log.exception("lifecycle step %r failed; the other steps go on", name)
            report.failed.append(name)
    return report
