"""Reminders before a contract's notice deadline (CT-02): to operators and to the contacts with
the ``contracts`` topic, through the outbox, once per term (the idempotency key names the
contract and the term end the deadline belongs to).

How long before: the terms profile's ``reminder_days``, else
``MAMORI_CONTRACT_NOTICE_REMINDER_DAYS`` (0: none). Runs as the periodic job
``contract_notice_reminders``
(:mod:`mamori.operations.jobs`); safe to run any number of times, from any number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils import timezone

from mamori.clients import terms
from mamori.clients.models import Contract, NoticeTopic


@dataclass
class ReminderReport:
    contracts: int = 0
    due: int = 0
    queued: int = 0


def reminder_days(contract: Contract) -> int:
    profile = contract.terms_profile
    if profile is not None and profile.reminder_days is not None:
        return profile.reminder_days
    return int(settings.MAMORI_CONTRACT_NOTICE_REMINDER_DAYS)


def due_reminder(contract: Contract, today: date) -> terms.Status | None:
    """The contract's status if a reminder of its next notice deadline is due ``today``."""
    days = reminder_days(contract)
    if days <= 0:
        return None
    status = terms.status(contract, today)
    if status.state != terms.State.IN_FORCE or status.notice_deadline is None:
        return None
    if (status.notice_deadline - today).days > days:
        return None
    return status


def event_key(contract: Contract, status: terms.Status) -> str:
    return f"contract-notice-deadline:{contract.pk}:{status.ends_if_notice_by_deadline}"


def renewing(contracts):
    """The contracts of ``contracts`` (a queryset) whose terms renew: the ones with deadlines."""
    return (contracts.filter(auto_renew=True, terms_profile__isnull=True)) | contracts.filter(
        terms_profile__auto_renew=True
    )


def near_deadlines(contracts, today: date) -> list[tuple[Contract, terms.Status]]:
    """The contracts of ``contracts`` (a queryset) whose notice deadline is within their
    reminder time of ``today``, nearest first (what the dashboard lists)."""
    rows = renewing(contracts).select_related("client", "terms_profile")
    found = []
    for contract in rows.prefetch_related("notices"):
        status = due_reminder(contract, today)
        if status is not None:
            found.append((contract, status))
    found.sort(key=lambda pair: (pair[1].notice_deadline, pair[0].pk))
    return found


def remind_due(today: date | None = None) -> ReminderReport:
    """Queue the reminders due ``today`` (default: today in Mamori's time zone)."""
    from mamori.notices.models import NoticeKind
    from mamori.notices.services import enqueue, recipients_for

    today = today or timezone.localdate()
    report = ReminderReport()
    contracts = Contract.objects.filter(
        auto_renew=True, terms_profile__isnull=True
    ) | Contract.objects.filter(terms_profile__auto_renew=True)
    contracts = contracts.select_related("client", "terms_profile").prefetch_related("notices")
    for contract in contracts.order_by("pk").iterator(chunk_size=500):
        report.contracts += 1
        status = due_reminder(contract, today)
        if status is None:
            continue
        report.due += 1
        queued = enqueue(
            NoticeKind.CONTRACT_NOTICE_DEADLINE,
            event_key(contract, status),
            recipients_for(contract.client, NoticeTopic.CONTRACTS),
            {
                "client": contract.client,
                "contract": contract,
                "status": status,
                "deadline": status.notice_deadline,
                "term_end": status.ends_if_notice_by_deadline,
                "next_term": status.next_term,
                "days_left": max(0, (status.notice_deadline - today).days),
            },
            client=contract.client,
        )
        report.queued += len(queued.created)
    return report
