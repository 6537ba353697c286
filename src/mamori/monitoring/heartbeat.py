"""The recent results of checks as heartbeat bars: one bar per run, oldest first, green when the
run succeeded and red when it failed (as Uptime Kuma draws them). Read from the raw samples,
which are kept for the retention (MON-10)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Window
from django.db.models.functions import RowNumber

from mamori.monitoring.models import Check, Sample

#: Bars on a check's page and in the lists.
PAGE_BARS = 60
LIST_BARS = 24


@dataclass(frozen=True)
class Beat:
    at: dt.datetime
    ok: bool
    duration_ms: int
    error_code: str


def recent(checks: Sequence[Check], count: int = LIST_BARS) -> dict[int, list[Beat]]:
    """The last ``count`` runs of each of ``checks`` by check id, oldest first."""
    ids = [c.pk for c in checks]
    if not ids:
        return {}
    # Newest first per check, numbered; only the first ``count`` of each are kept.
    rows = (
        Sample.objects.filter(uptime_check_id__in=ids)
        .annotate(position=Window(RowNumber(), partition_by="uptime_check_id", order_by="-at"))
        .filter(position__lte=count)
        .order_by()
        .values_list("uptime_check_id", "at", "ok", "duration_ms", "error_code")
    )
    beats: dict[int, list[Beat]] = defaultdict(list)
    for check_id, at, ok, ms, code in rows:
        beats[check_id].append(Beat(at, ok, ms, code))
    return {pk: sorted(found, key=lambda b: b.at) for pk, found in beats.items()}
