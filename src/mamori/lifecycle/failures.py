"""Failure is loud: an open failure is a row, shown on the certificate page and the dashboard
until resolved, alerted to operators once when it opens (not at every retry), and retried on a
back-off by whoever owns the work."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from mamori.clients.models import Client
from mamori.core.sentences import Text
from mamori.lifecycle.models import Failure
from mamori.notices import services as notices
from mamori.notices.models import NoticeKind

# Seconds to wait before attempt n+1 (index n-1); the last value repeats.
BACKOFF = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600]


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (1-based)."""
    return timedelta(seconds=BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1])


def open_failure(
    client: Client,
    kind: str,
    subject: str,
    message: Text | str,
    *,
    managed=None,
    certificate=None,
    next_retry_at: datetime | None = None,
    now: datetime | None = None,
) -> Failure:
    """Record that ``subject`` (e.g. ``"managed:12"``) failed. The first time, a failure row is
    opened and operators are alerted; while it stays open, later calls only count and update it.
    Call within the transaction that records the failed attempt. ``message``: Mamori's own
    sentence as a :class:`~mamori.core.sentences.Text` (read in the reader's language), or what
    another system said, as it said it."""
    now = now or timezone.now()
    texts = {"message": message.to_json()} if isinstance(message, Text) else {}
    message = str(message)
    failure = Failure.objects.filter(kind=kind, subject=subject, resolved_at__isnull=True).first()
    if failure is not None:
        Failure.objects.filter(pk=failure.pk).update(
            message=message,
            texts=texts,
            last_at=now,
            count=failure.count + 1,
            next_retry_at=next_retry_at,
        )
        failure.refresh_from_db()
        return failure
    try:
        with transaction.atomic():
            failure = Failure.objects.create(
                client=client,
                kind=kind,
                subject=subject,
                managed=managed,
                certificate=certificate,
                message=message,
                texts=texts,
                first_at=now,
                last_at=now,
                next_retry_at=next_retry_at,
            )
    except IntegrityError:  # another worker opened it first
        return Failure.objects.get(kind=kind, subject=subject, resolved_at__isnull=True)
    notices.enqueue(
        NoticeKind.LIFECYCLE_FAILURE,
        f"lifecycle-failure:{failure.pk}",
        notices.operator_recipients(client),
        {"client": client, "failure": failure, "managed": managed, "certificate": certificate},
        client=client,
        links={"certificate": certificate} if certificate is not None else {},
    )
    return failure


def resolve_failures(subject: str, *kinds: str, now: datetime | None = None) -> int:
    """Close the open failures of ``subject`` (of ``kinds``, or all); returns how many."""
    qs = Failure.objects.filter(subject=subject, resolved_at__isnull=True)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return qs.update(resolved_at=now or timezone.now())
