"""Estimate numbers stay gapless when operators issue at the same moment (MNT-04): each issue
takes its number from the locked counter in its own transaction."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from mamori.billing import estimates
from mamori.billing.models import Estimate, EstimateCounter
from tests.billing.estimates_support import draft, issuer

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_issues_take_consecutive_numbers(acme):
    if connection.vendor == "sqlite":
        # The test database is shared in memory and SQLite takes one writer at a time: the race
        # the counter's row lock settles exists on PostgreSQL (tests.support.with_postgres).
        pytest.skip("concurrent writers need PostgreSQL")
    issuer()
    drafts = [draft(acme) for _ in range(4)]
    start = threading.Barrier(len(drafts))
    errors: list[BaseException] = []

    def issue(estimate: Estimate) -> None:
        try:
            start.wait()
            estimates.issue(None, estimate, today=dt.date(2026, 6, 10))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(e,)) for e in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    numbers = sorted(Estimate.objects.values_list("number", flat=True))
    assert numbers == [f"EST-2026-{n:04d}" for n in range(1, 5)]
    assert EstimateCounter.objects.get(series="EST-2026").next_number == 5
