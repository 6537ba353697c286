"""Records kept after the contract, then purged (END-02), with the audit chain still verifiable."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from mamori.billing.models import Invoice, Payment
from mamori.clients.models import Contract, ContractType, TermsProfile
from mamori.core import audit
from mamori.core.models import AuditEvent, PurgedAuditEvent
from mamori.notices.models import Notice
from mamori.retention import services
from tests.retention.support import (
    ENDED,
    KEPT_UNTIL,
    PURGE_DAY,
    ended_client,
    events,
    invoice,
    notice,
)

pytestmark = pytest.mark.req("END-02")


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def oldco(db):
    client = ended_client()
    # An earlier contract, long over: the later end decides.
    Contract.objects.create(
        client=client, type=ContractType.SSL_MANAGEMENT, start=dt.date(2015, 4, 1),
        term_months=12, auto_renew=False,
    )  # fmt: skip
    for n in range(3):
        notice(client, n)
    # 2015-06-01: fiscal year ends by 2016-06-30, return due by 2016-09-30, kept 7 years to
    # 2023-09-30: gone with the rest. 2023-03-01: kept to 2031-06-30 by law.
    invoice(client, "INV-2015-0001", dt.date(2015, 6, 1), paid=True)
    invoice(client, "INV-2023-0003", dt.date(2023, 3, 1), paid=True)
    return client


@pytest.fixture
def current(db):
    client = ended_client("nowco")
    Contract.objects.create(
        client=client,
        type=ContractType.SSL_MANAGEMENT,
        start=dt.date(2024, 4, 1),
    )  # fmt: skip (renews on: in force)
    notice(client, 1)
    invoice(client, "INV-2016-0001", dt.date(2016, 6, 1))
    return client


def test_the_statutory_day_of_an_invoice():
    assert services.invoice_statutory_until(dt.date(2015, 6, 1)) == dt.date(2023, 9, 30)
    assert services.invoice_statutory_until(dt.date(2023, 3, 1)) == dt.date(2031, 6, 30)
    assert services.invoice_statutory_until(dt.date(2019, 4, 10)) == dt.date(2027, 7, 31)


def test_the_plan_shows_the_seed_dates(oldco):
    events(oldco, 4)
    plan = services.client_plan(oldco, dt.date(2026, 1, 15))
    assert plan.state == services.KEEPING
    assert (plan.contract_end, plan.keep_until, plan.purge_on) == (ENDED, KEPT_UNTIL, PURGE_DAY)
    got = {(b.kind, b.purge_on): b.count for b in plan.batches}
    assert got == {
        ("notices", PURGE_DAY): 3,
        ("invoices", PURGE_DAY): 1,
        ("invoices", dt.date(2031, 7, 1)): 1,
        ("audit_events", PURGE_DAY): 4,
    }


def test_nothing_is_purged_on_the_last_day(oldco):
    events(oldco, 2)
    assert services.purge(KEPT_UNTIL) == []
    assert Notice.objects.filter(client=oldco).count() == 3
    assert Invoice.objects.filter(client=oldco).count() == 2
    assert AuditEvent.objects.filter(client_id=oldco.pk).count() == 2


def test_the_day_after_the_records_go_once_and_the_chain_verifies(oldco, globex):
    events(None, 2)
    events(oldco, 3)
    events(globex, 2)
    events(oldco, 1)
    results = services.purge(PURGE_DAY)
    assert [(r.client, r.counts) for r in results] == [
        ("oldco", {"notices": 3, "invoices": 1, "audit_events": 4})
    ]
    assert not Notice.objects.filter(client=oldco).exists()
    assert list(Invoice.objects.filter(client=oldco).values_list("number", flat=True)) == [
        "INV-2023-0003"
    ]
    assert Payment.objects.filter(invoice__client=oldco).count() == 1
    kept = AuditEvent.objects.filter(client_id=oldco.pk)
    assert list(kept.values_list("action", flat=True)) == [audit.PURGE_ACTION]
    record = kept.get()
    assert record.changes["purged"] == {"notices": 3, "invoices": 1}
    assert record.changes["audit_events"]["count"] == 4
    assert "本文" not in str(record.changes)
    assert PurgedAuditEvent.objects.count() == 4
    assert AuditEvent.objects.filter(client_id=globex.pk).count() == 2
    report = audit.verify_chain()
    assert report.ok, report.broken
    # Every link is checked: 8 events (4 of them purged, only their link is left) and the record.
    assert (report.events, report.head_sequence) == (9, 9)
    # Exactly once: a second run finds nothing and writes nothing.
    before = AuditEvent.objects.count()
    assert services.purge(PURGE_DAY) == []
    assert AuditEvent.objects.count() == before


def test_invoices_wait_for_their_statutory_day(oldco):
    services.purge(PURGE_DAY)
    assert services.purge(dt.date(2031, 6, 30)) == []
    results = services.purge(dt.date(2031, 7, 1))
    assert [(r.client, r.counts) for r in results] == [
        ("oldco", {"invoices": 1, "audit_events": 0})
    ]
    assert not Invoice.objects.filter(client=oldco).exists()
    assert not Payment.objects.filter(invoice__client=oldco).exists()
    assert audit.verify_chain().ok


def test_a_client_with_a_contract_in_force_loses_nothing(current):
    events(current, 2)
    assert services.client_plan(current, dt.date(2040, 1, 1)).state == services.IN_FORCE
    assert services.purge(dt.date(2040, 1, 1)) == []
    assert Notice.objects.filter(client=current).count() == 1
    assert Invoice.objects.filter(client=current).count() == 1


def test_a_client_without_contracts_loses_nothing(globex):
    notice(globex, 1)
    assert services.client_plan(globex, dt.date(2040, 1, 1)).state == services.NO_CONTRACT
    assert services.purge(dt.date(2040, 1, 1)) == []
    assert Notice.objects.filter(client=globex).count() == 1


def test_the_period_comes_from_the_terms_profile(oldco):
    profile = TermsProfile.objects.create(
        code="keep-5y", name_ja="5年", name_en="5 years", auto_renew=False, retention_years=5
    )
    oldco.contracts.update(terms_profile=profile)
    plan = services.client_plan(oldco, PURGE_DAY)
    assert (plan.contract_end, plan.keep_until, plan.state) == (
        ENDED, dt.date(2028, 3, 31), services.KEEPING,
    )  # fmt: skip
    assert services.purge(PURGE_DAY) == []


def test_a_dry_run_removes_nothing(oldco):
    events(oldco, 2)
    results = services.purge(PURGE_DAY, dry_run=True)
    assert [(r.client, r.counts) for r in results] == [
        ("oldco", {"notices": 3, "invoices": 1, "audit_events": 2})
    ]
    assert Notice.objects.filter(client=oldco).count() == 3
    assert not AuditEvent.objects.filter(action=audit.PURGE_ACTION).exists()


def test_tampering_with_a_kept_event_after_a_purge_fails_verify(oldco, globex):
    events(oldco, 2)
    events(globex, 3)
    services.purge(PURGE_DAY)
    kept = AuditEvent.objects.filter(client_id=globex.pk).order_by("sequence")[1]
    raw("UPDATE core_auditevent SET actor_label = 'someone-else' WHERE sequence = %s",
        [kept.sequence])  # fmt: skip
    broken = audit.verify_chain().broken
    assert (broken.sequence, broken.problem) == (kept.sequence, audit.ALTERED)


def test_deleting_a_kept_event_after_a_purge_fails_verify(oldco, globex):
    events(globex, 1)
    events(oldco, 2)
    events(globex, 2)
    services.purge(PURGE_DAY)
    kept = AuditEvent.objects.filter(client_id=globex.pk).order_by("sequence")[1]
    raw("DELETE FROM core_auditevent WHERE sequence = %s", [kept.sequence])
    broken = audit.verify_chain().broken
    assert (broken.sequence, broken.problem) == (kept.sequence + 1, audit.MISSING)


def test_hiding_a_deletion_as_a_purge_fails_verify(oldco, globex):
    events(oldco, 2)
    events(globex, 2)
    services.purge(PURGE_DAY)
    victim = AuditEvent.objects.filter(client_id=globex.pk).order_by("sequence").first()
    purge_seq = AuditEvent.objects.get(action=audit.PURGE_ACTION).sequence
    raw(
        "INSERT INTO core_purgedauditevent (sequence, prev_hash, hash, purge_sequence) "
        "VALUES (%s, %s, %s, %s)",
        [victim.sequence, victim.prev_hash, victim.hash, purge_seq],
    )
    raw("DELETE FROM core_auditevent WHERE sequence = %s", [victim.sequence])
    broken = audit.verify_chain().broken
    assert broken is not None
    assert broken.problem == audit.UNRECORDED


def test_a_purge_record_edited_afterwards_fails_verify(oldco):
    events(oldco, 2)
    services.purge(PURGE_DAY)
    record = AuditEvent.objects.get(action=audit.PURGE_ACTION)
    raw("UPDATE core_auditevent SET changes = %s WHERE sequence = %s", ["{}", record.sequence])
    broken = audit.verify_chain().broken
    assert (broken.sequence, broken.problem) == (record.sequence, audit.ALTERED)


def test_the_periodic_job_purges_what_is_due_today(oldco):
    from mamori.operations.jobs import REGISTRY, run_job

    job = REGISTRY["retention_purge"]
    assert job.single_flight
    # Today (the machine's calendar) is after 2026-04-01 or not: the job follows the plan.
    due = services.client_plan(oldco).state == services.DUE
    run_job(job)
    assert Notice.objects.filter(client=oldco).exists() is not due
    assert audit.verify_chain().ok
