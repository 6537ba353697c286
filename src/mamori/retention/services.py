"""Keeping a client's records for the period after the contract, then purging them (END-02).

The rule (docs/retention.md): records needed for confidentiality and evidence are kept while any
contract of the client is in force and for ``retention_years`` (of the contract's terms profile;
3 by default, 000 §9.3, 001 §13.2) after the last one ends, and are purged on the day after
(:func:`keep_until`). Invoices are kept at least their statutory period as well
(:func:`invoice_statutory_until`). A client with no contract, or with a contract that renews on,
has no end and loses nothing.

:func:`plan` says in advance what goes when; :func:`purge` removes what is due, one transaction
per client, recording the kinds and counts (never the content) in the ``retention.purge`` audit
event, which also vouches for the audit events removed (:func:`mamori.core.audit.purge_events`).
Running it again finds nothing left and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mamori.billing.models import Invoice, Payment
from mamori.clients import terms
from mamori.clients.models import Client, Contract
from mamori.core import audit
from mamori.core.models import AuditEvent
from mamori.notices.models import Notice

DEFAULT_YEARS = 3
# 法人税法施行規則 59条 / 電子帳簿保存法: books and invoices are kept 7 years from the day after
# the filing deadline of the fiscal year they belong to.
INVOICE_STATUTORY_YEARS = 7

# Client states in a plan.
IN_FORCE = "in_force"  # a contract is in force or renews on: nothing is purged
NO_CONTRACT = "no_contract"  # no contract at all: no end, nothing is purged
KEEPING = "keeping"  # ended, within the retention period
DUE = "due"  # the retention period is over: records are purged

STATE_LABELS = {
    IN_FORCE: _("Contract in force"),
    NO_CONTRACT: _("No contract"),
    KEEPING: _("Kept after the end"),
    DUE: _("Retention period over"),
}


@dataclass(frozen=True)
class Kind:
    """A kind of record purged at the end of the retention period. ``records(client)`` is the
    client's records of that kind; ``statutory_until(record)`` (optional) is a later day a
    record must be kept to by law; ``delete(queryset)`` removes them (default: ``.delete()``)."""

    code: str
    label: Any
    records: Callable[[Client], models.QuerySet]
    statutory_until: Callable[[Any], dt.date] | None = None


def _month_end(day: dt.date) -> dt.date:
    return day + relativedelta(day=31)


def invoice_statutory_until(issue_date: dt.date) -> dt.date:
    """The last day an invoice issued on ``issue_date`` must be kept by law, whatever the
    provider's fiscal year: the fiscal year holding the issue date ends at the latest at the
    end of the month 12 months on; the return is due 2 months later, 3 with the usual one-month
    extension; the invoice is kept 7 years from the day after. 2019-04-10 → 2027-07-31."""
    fiscal_year_end = _month_end(issue_date + relativedelta(months=12))
    filing_deadline = _month_end(fiscal_year_end + relativedelta(months=3))
    return filing_deadline + relativedelta(years=INVOICE_STATUTORY_YEARS)


def _invoice_until(invoice: Invoice) -> dt.date:
    # A credit note points at the invoice it corrects: the invoice stays while the note does.
    latest = max([invoice.issue_date, *(n.issue_date for n in invoice.credit_notes.all())])
    return invoice_statutory_until(latest)


def _audit_events(client: Client) -> models.QuerySet:
    # The purge events themselves stay: they vouch for what was removed.
    return AuditEvent.objects.filter(client_id=client.pk).exclude(action=audit.PURGE_ACTION)


KINDS: list[Kind] = [
    Kind("notices", _("Notices sent"), lambda c: Notice.objects.filter(client=c)),
    Kind(
        "invoices",
        _("Invoices and credit notes"),
        lambda c: Invoice.objects.filter(client=c),
        statutory_until=lambda invoice: _invoice_until(invoice),
    ),
    Kind("audit_events", _("Audit events"), _audit_events),
]
AUDIT_KIND = "audit_events"


def register(kind: Kind) -> None:
    """Add a kind of record (e.g. the monthly reports, RPT-01); before the audit events, which
    are removed last so that the purge event vouches for them."""
    if any(k.code == kind.code for k in KINDS):
        return
    KINDS.insert(len(KINDS) - 1, kind)


def kind_label(code: str) -> str:
    for kind in KINDS:
        if kind.code == code:
            return str(kind.label)
    return code


def retention_years(contract: Contract) -> int:
    profile = contract.terms_profile
    return profile.retention_years if profile is not None else DEFAULT_YEARS


def keep_until(end: dt.date, years: int) -> dt.date:
    """The last day records are kept after a contract that ended on ``end`` (inclusive):
    2023-03-31 with 3 years → 2026-03-31; they are purged from the day after."""
    return end + relativedelta(years=years)


@dataclass
class Batch:
    kind: str
    count: int
    purge_on: dt.date  # the first day the records may be purged

    @property
    def label(self) -> str:
        return kind_label(self.kind)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "purge_on": self.purge_on}


@dataclass
class ClientPlan:
    client: Client
    state: str
    contract_end: dt.date | None
    keep_until: dt.date | None
    batches: list[Batch] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def purge_on(self) -> dt.date | None:
        return self.keep_until + dt.timedelta(days=1) if self.keep_until else None

    def due(self, today: dt.date) -> list[Batch]:
        return [b for b in self.batches if b.purge_on <= today and b.count]

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client.code,
            "state": self.state,
            "contract_end": self.contract_end,
            "keep_until": self.keep_until,
            "purge_on": self.purge_on,
            "batches": [b.as_dict() for b in self.batches],
        }


def _today() -> dt.date:
    return timezone.localdate()


def client_plan(client: Client, today: dt.date | None = None) -> ClientPlan:
    """What is kept for ``client`` and until when, and what is purged on which day."""
    today = today or _today()
    contracts = list(client.contracts.select_related("terms_profile").prefetch_related("notices"))
    if not contracts:
        return ClientPlan(client, NO_CONTRACT, None, None)
    ends = [(terms.effective_end(c), retention_years(c)) for c in contracts]
    if any(end is None or end >= today for end, _years in ends):
        return ClientPlan(client, IN_FORCE, None, None)
    last_end = max(end for end, _years in ends if end is not None)
    until = max(keep_until(end, years) for end, years in ends if end is not None)
    plan = ClientPlan(client, DUE if until < today else KEEPING, last_end, until)
    purge_on = until + dt.timedelta(days=1)
    for kind in KINDS:
        records = kind.records(client)
        if kind.statutory_until is None:
            count = records.count()
            if count:
                plan.batches.append(Batch(kind.code, count, purge_on))
            continue
        by_day: dict[dt.date, int] = {}
        for record in records:
            day = max(purge_on, kind.statutory_until(record) + dt.timedelta(days=1))
            by_day[day] = by_day.get(day, 0) + 1
        plan.batches.extend(Batch(kind.code, n, day) for day, n in sorted(by_day.items()))
    return plan


def plan(today: dt.date | None = None, clients: Iterable[Client] | None = None) -> list[ClientPlan]:
    """:func:`client_plan` for every client (or those given), by client code."""
    today = today or _today()
    found = clients if clients is not None else Client.objects.order_by("code")
    return [client_plan(c, today) for c in found]


@dataclass
class PurgeResult:
    client: str
    counts: dict[str, int]
    audit_sequence: int | None  # the retention.purge event (None on a dry run)

    def as_dict(self) -> dict[str, Any]:
        return {"client": self.client, "counts": self.counts, "event": self.audit_sequence}


def purge_client(
    client: Client, today: dt.date | None = None, *, dry_run: bool = False
) -> PurgeResult | None:
    """Purge what is due for ``client`` in one transaction; ``None`` when nothing is due.

    The plan is computed again inside the transaction (a contract added meanwhile keeps
    everything). Records are removed kind by kind, invoices only past their statutory day; the
    audit events last, with the ``retention.purge`` event that records the counts."""
    today = today or _today()
    with transaction.atomic():
        # Serialise purges of one client (PostgreSQL); SQLite holds the write lock already.
        Client.objects.select_for_update().filter(pk=client.pk).first()
        found = client_plan(client, today)
        if found.state != DUE or not found.due(today):
            return None
        counts: dict[str, int] = {}
        for kind in KINDS:
            if kind.code == AUDIT_KIND:
                continue
            records = kind.records(client)
            if kind.statutory_until is not None:
                pks = [r.pk for r in records if kind.statutory_until(r) < today]
                records = records.model.objects.filter(pk__in=pks)
            count = records.count()
            if not count:
                continue
            counts[kind.code] = count
            if not dry_run:
                _delete(records)
        audit_events = _audit_events(client)
        counts[AUDIT_KIND] = audit_events.count()
        if not any(counts.values()):
            return None
        if dry_run:
            return PurgeResult(client.code, counts, None)
        event = audit.purge_events(
            audit_events,
            client_id=client.pk,
            changes={
                "client": client.code,
                "contract_end": found.contract_end,
                "keep_until": found.keep_until,
                "purged": {k: v for k, v in counts.items() if k != AUDIT_KIND},
            },
        )
        return PurgeResult(client.code, counts, event.sequence)


def _delete(records: models.QuerySet) -> None:
    # Invoices: their payments go with them (PROTECT); credit notes point at the invoice they
    # correct (PROTECT), and one delete() of the whole set removes both together.
    if records.model is Invoice:
        Payment.objects.filter(invoice__in=records).delete()
    records.delete()


def purge(today: dt.date | None = None, *, dry_run: bool = False) -> list[PurgeResult]:
    """Purge every client whose retention period is over; the periodic job calls this."""
    today = today or _today()
    results = []
    for client in Client.objects.order_by("code"):
        result = purge_client(client, today, dry_run=dry_run)
        if result is not None:
            results.append(result)
    return results


def purge_job() -> dict[str, Any]:
    """The ``retention_purge`` job: :func:`purge` for today."""
    results = purge()
    return {"clients": len(results)}
