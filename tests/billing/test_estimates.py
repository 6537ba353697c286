"""Estimates (見積書, MNT-04, MON-08): drafts, the issue with a gapless number, the client's
answer, and billing an accepted estimate once (known answers: tests/billing/estimates_support)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from mamori.billing import estimates
from mamori.billing import run as billing
from mamori.billing.models import (
    Charge,
    Estimate,
    EstimateCounter,
    EstimateLine,
    EstimateState,
    ImmutableEstimate,
    Invoice,
    InvoiceLine,
)
from mamori.core.models import AuditEvent
from mamori.desk.models import Request
from mamori.notices.models import Notice
from tests.billing.estimates_support import NET, TAX, TOTAL, draft, issued, issuer

D = Decimal
JUNE_15 = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 0))


def test_a_draft_takes_its_subject_client_and_contract_from_the_request(acme):
    estimate = draft(acme)
    assert estimate.state == "draft" and estimate.number == ""
    assert estimate.title == "採用ページの新規作成"
    assert estimate.client == acme and estimate.contract == acme.contracts.get()
    assert estimate.language == "ja"  # the requester's
    assert (estimate.net_total, estimate.tax_total, estimate.total) == (NET, TAX, TOTAL)
    assert [line.amount for line in estimate.lines.all()] == [D(120000), D(15000), D(1250)]


@pytest.mark.req("MNT-04")
def test_issue_numbers_freezes_and_moves_the_request(acme):
    estimate = issued(acme)
    assert estimate.number == "EST-2026-0001" and estimate.state == "issued"
    assert estimate.issue_date == dt.date(2026, 6, 10)
    assert estimate.valid_until == dt.date(2026, 7, 10)  # 30 days
    assert estimate.issuer["registration_number"] == "T1234567890123"
    assert estimate.recipient["name"] == "株式会社アクメ"
    assert Request.objects.get(pk=estimate.request_id).state == "estimate"
    assert AuditEvent.objects.filter(action="estimate.issue", object_id=str(estimate.pk)).exists()
    # The requester (山田, Japanese) gets it; nobody of acme receives billing yet.
    assert list(Notice.objects.values_list("kind", "recipient")) == [
        ("estimate_issued", "yamada@acme.example")
    ]
    with pytest.raises(estimates.EstimateError) as caught:
        estimates.issue(None, estimate)
    assert caught.value.code == "not_a_draft"


def test_an_issued_estimate_never_changes(acme):
    estimate = issued(acme)
    with pytest.raises(estimates.EstimateError):
        estimates.update_draft(None, estimate, title="別件")
    estimate.title = "別件"
    with pytest.raises(ImmutableEstimate):
        estimate.save()


@pytest.mark.req("MNT-04")
def test_numbers_have_no_gaps_across_refusals_and_years(acme, globex):
    issuer()
    first = estimates.issue(None, draft(acme), today=dt.date(2026, 6, 1))
    empty = estimates.create_estimate(None, acme, title="明細なし")
    with pytest.raises(estimates.EstimateError):
        estimates.issue(None, empty, today=dt.date(2026, 6, 2))  # refused: no number taken
    second = estimates.issue(None, draft(globex), today=dt.date(2026, 6, 3))
    third = estimates.issue(None, draft(acme), today=dt.date(2027, 1, 5))
    assert [first.number, second.number, third.number] == [
        "EST-2026-0001",
        "EST-2026-0002",
        "EST-2027-0001",
    ]
    assert EstimateCounter.objects.get(series="EST-2026").next_number == 3


def test_bad_lines_are_refused_with_the_line_named(acme):
    estimate = draft(acme)
    for lines, words in [
        ([{"description": "", "unit_price": "1000"}], "Line 1"),
        ([{"description": "作業", "unit_price": "abc"}], "not a number"),
        ([{"description": "作業", "unit_price": "100.5"}], "whole number"),
        ([{"description": "作業", "unit_price": "100", "tax_rate": 5}], "10 or 8"),
        ([{"description": "作業", "unit_price": "100", "quantity": "0"}], "positive"),
    ]:
        with translation.override("en"), pytest.raises(estimates.EstimateError) as caught:
            estimates.update_draft(None, estimate, lines=lines)
        assert words in caught.value.message
    mixed = [
        {"description": "A", "unit_price": "1100", "tax_included": True},
        {"description": "B", "unit_price": "1000"},
    ]
    with pytest.raises(estimates.EstimateError) as caught:
        estimates.update_draft(None, estimate, lines=mixed)
    assert caught.value.code == "mixed_tax_basis"
    assert estimate.lines.count() == 3  # nothing lost


@pytest.mark.req("MNT-04")
@pytest.mark.req("MON-08")
def test_an_accepted_estimate_is_billed_once_in_the_month_it_was_accepted(acme, owner):
    estimate = issued(acme)
    estimates.accept(owner, estimate, now=JUNE_15)
    assert estimate.state == "accepted" and estimate.accepted_by == owner
    may = billing.run_month(dt.date(2026, 5, 1), today=dt.date(2026, 7, 1))
    assert may.results == []  # accepted in June: nothing for May
    june = billing.run_month(dt.date(2026, 6, 1), today=dt.date(2026, 7, 1))
    (result,) = june.results
    assert result.status == "issued"
    lines = InvoiceLine.objects.filter(invoice__number=result.number).order_by("position")
    assert [(line.quantity, line.unit_price, line.amount, line.tax_rate) for line in lines] == [
        (D(3), D(40000), D(120000), 10),
        (D(1), D(15000), D(15000), 10),
        (D(1), D(1250), D(1250), 8),
    ]
    assert result.totals.total == TOTAL
    from mamori.billing.text import line_text

    assert line_text(lines[0], "ja") == "新規ページ制作（会社概要）（見積書 EST-2026-0001）"
    assert line_text(lines[0], "en") == "新規ページ制作（会社概要） (estimate EST-2026-0001)"
    # A second run of June, and July's run, bill nothing of it again.
    again = billing.run_month(dt.date(2026, 6, 1), today=dt.date(2026, 7, 2))
    assert again.results == []  # nothing is due: the charges are billed
    assert Invoice.objects.count() == 1
    july = billing.run_month(dt.date(2026, 7, 1), today=dt.date(2026, 8, 1))
    assert july.results == []
    assert Charge.objects.filter(source="estimate").count() == 3


def test_declined_expired_and_withdrawn_estimates_bill_nothing(acme, globex, owner, outsider):
    declined = issued(acme)
    estimates.decline(owner, declined, reason="予算の都合", now=JUNE_15)
    expired = issued(acme, today=dt.date(2026, 5, 1))  # valid until 31 May
    with pytest.raises(estimates.EstimateError) as caught:
        estimates.accept(owner, expired, now=JUNE_15)
    assert caught.value.code == "already_expired"
    assert Estimate.objects.get(pk=expired.pk).state == "expired"
    withdrawn = issued(globex)
    estimates.withdraw(None, withdrawn)
    with pytest.raises(estimates.EstimateError):
        estimates.accept(outsider, withdrawn, now=JUNE_15)
    report = billing.run_month(dt.date(2026, 6, 1), today=dt.date(2026, 7, 1))
    assert report.results == [] and not Charge.objects.exists()


def test_an_answer_is_given_once_and_only_by_who_may(acme, owner, member, subcontractor, operator):
    estimate = issued(acme)
    for who in (member, subcontractor):
        with pytest.raises(PermissionDenied):
            estimates.accept(who, estimate)
    estimates.accept(operator, estimate, answered_for="山田様（電話）", now=JUNE_15)
    assert estimate.accepted_by == operator and estimate.answered_for == "山田様（電話）"
    for answer in (estimates.accept, estimates.decline):
        with pytest.raises(estimates.EstimateError) as caught:
            answer(owner, estimate)
        assert caught.value.code == "already_accepted"
    event = AuditEvent.objects.get(action="estimate.accept")
    assert event.actor == operator and event.changes["answered_for"] == "山田様（電話）"


def test_only_the_providers_administrators_and_operators_draft_and_issue(
    acme, owner, subcontractor, operator
):
    request = draft(acme).request
    for who in (owner, subcontractor):
        with pytest.raises(PermissionDenied):
            estimates.create_from_request(who, request)
    assert estimates.create_from_request(operator, request).created_by == operator


def test_lines_of_a_draft_are_replaced_whole(acme):
    estimate = draft(acme)
    estimates.update_draft(None, estimate, lines=[{"description": "保守作業", "unit_price": 5000}])
    assert list(
        EstimateLine.objects.filter(estimate=estimate).values_list("description", flat=True)
    ) == ["保守作業"]
    assert estimate.total == D(5500)


def test_the_command_line(acme, tmp_path):
    issuer()
    estimate = draft(acme)
    out = io.StringIO()
    call_command("estimates", "issue", str(estimate.pk), "--valid-until", "2099-12-31", stdout=out)
    assert "EST-" in out.getvalue()
    number = Estimate.objects.get(pk=estimate.pk).number
    call_command("estimates", "accept", number, "--for", "山田様", stdout=out)
    assert Estimate.objects.get(pk=estimate.pk).state == EstimateState.ACCEPTED
    with pytest.raises(CommandError) as caught:
        call_command("estimates", "decline", number, stdout=out)
    assert caught.value.returncode == 2 and "already been accepted" in str(caught.value)
    with pytest.raises(CommandError) as caught:
        call_command("estimates", "show", "EST-1999-0001", stdout=out)
    assert caught.value.returncode == 2
    path = tmp_path / "e.pdf"
    call_command("estimates", "pdf", number, "--language", "en", "--output", str(path), stdout=out)
    assert path.read_bytes().startswith(b"%PDF")
    listing = io.StringIO()
    call_command("estimates", "list", "--json", stdout=listing)
    assert '"state": "accepted"' in listing.getvalue()
