"""The monthly allowance of free work (MNT-03): an in-scope request counts in the month it was
received in Japan time, the limit is kept unless the operator explicitly goes beyond it, and
free work bills nothing; out-of-scope work is marked for an estimate (MNT-04)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mamori.core.models import AuditEvent
from mamori.desk import catalogue
from mamori.desk.classify import allowance, classify, month_of
from mamori.desk.models import Request, Scope
from mamori.desk.services import DeskError
from tests.desk.scope_support import maintenance_contract, request_of, tokyo

pytestmark = [pytest.mark.django_db]


def item(contract, code):
    return contract.catalogue.get(code=code)


def used(contract, month, code="text-fix"):
    return {a.item.code: (a.used, a.limit) for a in allowance(contract, month)}[code]


@pytest.mark.req("MNT-03")
def test_the_month_begins_at_midnight_of_the_first_in_tokyo(acme, operator):
    contract = maintenance_contract(acme)
    text_fix = item(contract, "text-fix")
    # 23:59 on 30 April in Tokyo is April; one minute later is May, although it is still
    # 30 April (15:00) in UTC.
    late_april = request_of(contract, "誤字", received_at=tokyo(2026, 4, 30, 23, 59))
    first_of_may = request_of(contract, "誤字", received_at=tokyo(2026, 5, 1, 0, 0))
    assert first_of_may.received_at.astimezone(dt.UTC).date() == dt.date(2026, 4, 30)
    classify(late_april, text_fix, operator)
    classify(first_of_may, text_fix, operator)
    assert Request.objects.get(pk=late_april.pk).allowance_month == dt.date(2026, 4, 1)
    assert Request.objects.get(pk=first_of_may.pk).allowance_month == dt.date(2026, 5, 1)
    assert used(contract, dt.date(2026, 4, 1)) == (1, None)
    assert used(contract, dt.date(2026, 5, 20)) == (1, None)  # any day names its month
    assert used(contract, dt.date(2026, 6, 1)) == (0, None)
    # 31 May 23:59 and 1 June 00:00 in Tokyo.
    assert month_of(tokyo(2026, 5, 31, 23, 59)) == dt.date(2026, 5, 1)
    assert month_of(tokyo(2026, 6, 1, 0, 0)) == dt.date(2026, 6, 1)


@pytest.mark.req("MNT-03")
def test_the_limit_holds_unless_the_operator_goes_beyond_it(acme, operator):
    contract = maintenance_contract(acme)
    text_fix = item(contract, "text-fix")
    catalogue.change_item(operator, text_fix, {"monthly_limit": 2})
    first, second, third = (
        request_of(contract, f"文言修正 {n}", received_at=tokyo(2026, 5, n, 11, 0))
        for n in (7, 14, 21)
    )
    classify(first, text_fix, operator)
    classify(second, text_fix, operator)
    # Classifying the same request again does not count it twice.
    classify(second, text_fix, operator)
    assert used(contract, dt.date(2026, 5, 1)) == (2, 2)
    with pytest.raises(DeskError) as refused:
        classify(third, text_fix, operator)
    assert "2026-05" in str(refused.value) and "2" in str(refused.value)
    assert refused.value.field == "over_limit"
    assert Request.objects.get(pk=third.pk).scope == Scope.UNCLASSIFIED
    classify(third, text_fix, operator, over_limit=True)
    assert used(contract, dt.date(2026, 5, 1)) == (3, 2)
    event = AuditEvent.objects.filter(action="request.classify").order_by("-sequence").first()
    assert event.changes["over_limit"] is True and event.changes["month"] == "2026-05"
    # June has its own allowance.
    june = request_of(contract, "文言修正", received_at=tokyo(2026, 6, 1, 9, 0))
    classify(june, text_fix, operator)
    assert used(contract, dt.date(2026, 6, 1)) == (1, 2)


@pytest.mark.req("MNT-04")
def test_out_of_scope_counts_nothing_and_is_marked_for_an_estimate(acme, operator):
    contract = maintenance_contract(acme)
    req = request_of(contract, "新規ページ作成", "採用ページを新しく作りたい")
    classify(req, item(contract, "new-page"), operator)
    req.refresh_from_db()
    assert (req.scope, req.catalogue_item.code, req.allowance_month) == (
        Scope.OUT_OF_SCOPE,
        "new-page",
        None,
    )
    assert all(a.used == 0 for a in allowance(contract, dt.date(2026, 5, 1)))
    # Out of scope without an item of the catalogue (§4(8) "other"), and undone again.
    classify(req, Scope.OUT_OF_SCOPE, operator)
    req.refresh_from_db()
    assert (req.scope, req.catalogue_item) == (Scope.OUT_OF_SCOPE, None)
    classify(req, Scope.UNCLASSIFIED, operator)
    assert Request.objects.get(pk=req.pk).scope == Scope.UNCLASSIFIED


def test_only_the_providers_staff_classify(acme, globex, owner, operator):
    from django.core.exceptions import PermissionDenied

    contract = maintenance_contract(acme)
    req = request_of(contract, "誤字")
    with pytest.raises(PermissionDenied):
        classify(req, item(contract, "text-fix"), owner)
    other = maintenance_contract(globex)
    with pytest.raises(DeskError):
        classify(req, item(other, "text-fix"), operator)  # another contract's item


@pytest.mark.req("MNT-03")
def test_an_in_scope_request_counts_against_the_allowance_and_bills_nothing(acme, operator):
    """The done-when half of issue 17: free work, logged for an hour and a half, counts in May's
    allowance; May's invoice run bills the monthly fee and nothing from the request."""
    from mamori.billing import run as billing
    from mamori.billing.models import Charge, Fee, InvoiceLine, IssuerProfile
    from mamori.desk.work import log_work

    IssuerProfile.objects.create(
        pk=1,
        name="株式会社まもり",
        registration_number="T1234567890123",
        work_rate_per_hour=Decimal(8000),  # work would be billable at this rate
    )
    contract = maintenance_contract(acme)
    Fee.objects.create(contract=contract, kind="monthly", amount=Decimal(33000))
    req = request_of(
        contract, "誤字の修正", "会社概要の誤字を直してください", tokyo(2026, 5, 12, 10)
    )
    classify(req, item(contract, "text-fix"), operator)
    log_work(req, 90, "会社概要の誤字を修正し、公開しました。", tokyo(2026, 5, 12, 15), operator)
    assert used(contract, dt.date(2026, 5, 1)) == (1, None)

    report = billing.run_month(dt.date(2026, 5, 1), actor=operator, today=dt.date(2026, 6, 1))
    (result,) = [r for r in report.results if r.client == acme]
    assert result.status == "issued"
    lines = InvoiceLine.objects.filter(invoice__number=result.number)
    assert [(line.kind, line.amount) for line in lines] == [("fee", Decimal(33000))]
    assert not Charge.objects.exists()
