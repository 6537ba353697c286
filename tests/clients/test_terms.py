"""Contract dates from the contract texts, with answers worked out by hand (CT-02 to CT-05).

000 §3, 001 §17, 002 §20: "有効期間は、契約締結日から1年間" and "期間満了日の30日前までに
…書面による解約の申し出がない場合、同一条件で1年間更新".
001 §18: mid-term cancellation "30日前までに書面又は電子メールにより通知".
004 §12: calendar-month terms, first month counted whole, minimum term "翌月の月末まで";
§26.2–3: accepted in month M → end of M+1 or a later month named;
§42: cooling-off "お申込み日を含めて8日間".
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from mamori.clients import terms
from mamori.clients.terms import Rules, State, TermsError

FIXED_000 = Rules(term_months=12, auto_renew=True, notice_days=30)
FIXED_001 = Rules(term_months=12, auto_renew=True, notice_days=30, mid_term_notice_days=30)
CA_003 = Rules(term_months=12, auto_renew=False, notice_days=0, cancellation=terms.ON_RECEIPT)
MONTHLY_004 = Rules(
    term_kind=terms.CALENDAR_MONTH,
    term_months=1,
    notice_days=0,
    minimum_term=terms.END_OF_NEXT_MONTH,
    cancellation=terms.MONTH_AFTER_ACCEPTANCE,
    cooling_off_days=8,
)


def notice(kind: str, received: date, effective: date):
    return SimpleNamespace(kind=kind, received_on=received, effective_on=effective)


# --- fixed one-year terms (CT-02) --------------------------------------------------------------


@pytest.mark.req("CT-02")
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 4, 1), date(2027, 3, 31)),  # the usual fiscal year
        (date(2026, 1, 15), date(2027, 1, 14)),
        # Leap day: no Feb 29 in 2029, so the year ends on the last day of February.
        (date(2028, 2, 29), date(2029, 2, 28)),
        # A year starting Mar 1 ends on Feb 29 in a leap year.
        (date(2027, 3, 1), date(2028, 2, 29)),
    ],
)
def test_a_fixed_term_ends_the_day_before_the_same_day_a_year_later(start, end):
    assert terms.period_end(start, 12) == end
    status = terms.compute(start, start, FIXED_000, start)
    assert status.term.end == end


@pytest.mark.req("CT-02")
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2027, 1, 31), date(2027, 2, 28)),  # no Feb 31: the end of February
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2027, 1, 30), date(2027, 2, 28)),
        (date(2027, 3, 31), date(2027, 4, 30)),
        (date(2027, 2, 28), date(2027, 3, 27)),
    ],
)
def test_month_ends_when_a_term_is_counted_in_months(start, end):
    assert terms.period_end(start, 1) == end


@pytest.mark.req("CT-02")
def test_deadline_renewal_and_next_term_of_a_fixed_contract():
    start = date(2026, 4, 1)
    status = terms.compute(start, start, FIXED_000, date(2026, 12, 1))
    assert status.state == State.IN_FORCE
    assert (status.term.start, status.term.end) == (date(2026, 4, 1), date(2027, 3, 31))
    # 30 days before Mar 31 is Mar 1 (February 2027 has 28 days).
    assert status.notice_deadline == date(2027, 3, 1)
    assert status.ends_if_notice_by_deadline == date(2027, 3, 31)
    assert (status.next_term.start, status.next_term.end) == (date(2027, 4, 1), date(2028, 3, 31))
    assert status.end is None


@pytest.mark.req("CT-02")
def test_after_the_deadline_the_next_deadline_is_the_next_terms():
    start = date(2026, 4, 1)
    status = terms.compute(start, start, FIXED_000, date(2027, 3, 2))
    assert status.term.end == date(2027, 3, 31)
    # 2028 is a leap year: Mar 31 2028 - 30 days = Mar 1 2028.
    assert status.notice_deadline == date(2028, 3, 1)
    assert status.ends_if_notice_by_deadline == date(2028, 3, 31)
    # The second year renews from Apr 1 2027.
    later = terms.compute(start, start, FIXED_000, date(2027, 4, 1))
    assert (later.term.number, later.term.start, later.term.end) == (
        2,
        date(2027, 4, 1),
        date(2028, 3, 31),
    )


@pytest.mark.req("CT-02")
def test_renewed_terms_of_a_leap_day_start_run_from_march_first():
    start = date(2028, 2, 29)
    status = terms.compute(start, start, FIXED_000, date(2029, 6, 1))
    assert (status.term.start, status.term.end) == (date(2029, 3, 1), date(2030, 2, 28))


@pytest.mark.req("CT-02")
def test_a_notice_received_on_the_deadline_day_is_in_time():
    start = date(2026, 4, 1)
    effect = terms.cancellation_effect(start, start, FIXED_000, date(2027, 3, 1))
    assert (effect.end, effect.reason) == (date(2027, 3, 31), "")
    assert effect.deadline == date(2027, 3, 1)


@pytest.mark.req("CT-02")
def test_a_notice_one_day_late_ends_the_contract_a_term_later_and_says_why():
    start = date(2026, 4, 1)
    effect = terms.cancellation_effect(start, start, FIXED_000, date(2027, 3, 2))
    assert effect.end == date(2028, 3, 31)
    assert effect.reason == "after_deadline"
    assert effect.params == {"deadline": "2027-03-01", "term_end": "2027-03-31"}
    assert "2027-03-01" in effect.reason_text


@pytest.mark.req("CT-02")
def test_a_requested_month_that_is_no_term_end_takes_the_term_end_after_it():
    start = date(2026, 4, 1)
    effect = terms.cancellation_effect(start, start, FIXED_000, date(2026, 6, 1), date(2026, 9, 1))
    assert (effect.end, effect.reason) == (date(2027, 3, 31), "term_end_only")


@pytest.mark.req("CT-02")
def test_states_with_a_cancellation_notice():
    start = date(2026, 4, 1)
    given = [notice("cancellation", date(2026, 12, 1), date(2027, 3, 31))]
    assert terms.compute(start, start, FIXED_000, date(2026, 12, 2), given).state == State.ENDING
    assert terms.compute(start, start, FIXED_000, date(2027, 3, 31), given).state == State.ENDING
    ended = terms.compute(start, start, FIXED_000, date(2027, 4, 1), given)
    assert (ended.state, ended.end, ended.next_term) == (State.ENDED, date(2027, 3, 31), None)
    # Received late: the contract renews once more, so the notice is given, not yet ending.
    late = [notice("cancellation", date(2027, 3, 15), date(2028, 3, 31))]
    status = terms.compute(start, start, FIXED_000, date(2027, 3, 20), late)
    assert status.state == State.NOTICE_GIVEN
    assert (status.next_term.start, status.next_term.end) == (date(2027, 4, 1), date(2028, 3, 31))


@pytest.mark.req("CT-02")
def test_a_contract_that_does_not_renew_ends_after_its_term():
    start = date(2026, 4, 1)
    status = terms.compute(start, start, CA_003, date(2026, 5, 1))
    assert (status.state, status.end, status.next_term) == (
        State.ENDING,
        date(2027, 3, 31),
        None,
    )
    assert terms.compute(start, start, CA_003, date(2027, 4, 1)).state == State.ENDED


# --- mid-term cancellation of 001 (CT-04) ------------------------------------------------------


@pytest.mark.req("CT-04")
def test_mid_term_cancellation_ends_thirty_days_after_the_notice():
    start = date(2026, 4, 1)
    # Too late for the end of the term (deadline Mar 1): §18 ends it 30 days after the notice
    # instead of renewing for a year.
    effect = terms.cancellation_effect(start, start, FIXED_001, date(2027, 3, 10))
    assert (effect.end, effect.reason) == (date(2027, 4, 9), "mid_term")
    assert effect.params["days"] == 30


@pytest.mark.req("CT-04")
def test_mid_term_cancellation_at_a_named_month_end():
    start = date(2026, 4, 1)
    # Notice Sep 15, end of October asked: Oct 31 is at least 30 days later.
    effect = terms.cancellation_effect(
        start, start, FIXED_001, date(2026, 9, 15), date(2026, 10, 1)
    )
    assert (effect.end, effect.reason) == (date(2026, 10, 31), "")
    # End of September asked on Sep 15: too early; the earliest is Oct 15.
    early = terms.cancellation_effect(start, start, FIXED_001, date(2026, 9, 15), date(2026, 9, 1))
    assert (early.end, early.reason) == (date(2026, 10, 15), "requested_too_early")


@pytest.mark.req("CT-04")
def test_a_001_notice_in_time_without_a_month_ends_at_the_term_end():
    start = date(2026, 4, 1)
    effect = terms.cancellation_effect(start, start, FIXED_001, date(2026, 12, 1))
    assert (effect.end, effect.reason) == (date(2027, 3, 31), "")
    # In time for the term end, a notice without a month ends the contract there.
    status = terms.compute(start, start, FIXED_001, date(2027, 1, 31))
    assert status.earliest_end == date(2027, 3, 31)


# --- calendar-month terms of 004 (CT-03) -------------------------------------------------------


@pytest.mark.req("CT-03")
def test_the_first_month_counts_whole_and_the_minimum_term_runs_to_the_next_month_end():
    formed = date(2027, 1, 20)
    status = terms.compute(formed, formed, MONTHLY_004, date(2027, 1, 25))
    assert (status.term.start, status.term.end) == (date(2027, 1, 20), date(2027, 1, 31))
    assert status.minimum_term_end == date(2027, 2, 28)
    assert (status.next_term.start, status.next_term.end) == (date(2027, 2, 1), date(2027, 2, 28))
    # A notice this month ends the contract at the end of next month (= the minimum term).
    assert status.notice_deadline == date(2027, 1, 31)
    assert status.ends_if_notice_by_deadline == date(2027, 2, 28)


@pytest.mark.req("CT-03")
@pytest.mark.parametrize(
    ("received", "requested", "end", "reason"),
    [
        (date(2027, 5, 10), None, date(2027, 6, 30), ""),  # M = May → end of June
        (date(2027, 5, 31), None, date(2027, 6, 30), ""),  # the last day of M still counts
        (date(2027, 6, 1), None, date(2027, 7, 31), ""),
        (date(2027, 5, 10), date(2027, 9, 1), date(2027, 9, 30), ""),  # a later month named
        (date(2027, 5, 10), date(2027, 5, 1), date(2027, 6, 30), "requested_too_early"),
        (date(2028, 1, 5), None, date(2028, 2, 29), ""),  # leap February
    ],
)
def test_a_cancellation_accepted_in_month_m_ends_at_the_end_of_m_plus_one(
    received, requested, end, reason
):
    formed = date(2027, 1, 20)
    effect = terms.cancellation_effect(formed, formed, MONTHLY_004, received, requested)
    assert (effect.end, effect.reason) == (end, reason)


@pytest.mark.req("CT-03")
def test_the_minimum_term_holds_a_cancellation_back():
    # Formed Jan 31, notice the same day (M = Jan → end of Feb = minimum term end).
    formed = date(2027, 1, 31)
    effect = terms.cancellation_effect(formed, formed, MONTHLY_004, date(2027, 1, 31))
    assert effect.end == date(2027, 2, 28)
    # A notice before formation would give end of Jan; the minimum term says end of Feb.
    early = terms.cancellation_effect(formed, formed, MONTHLY_004, date(2026, 12, 20))
    assert (early.end, early.reason) == (date(2027, 2, 28), "minimum_term")


@pytest.mark.req("CT-03")
def test_monthly_states_with_a_notice():
    formed = date(2027, 1, 20)
    given = [notice("cancellation", date(2027, 5, 10), date(2027, 6, 30))]
    assert terms.compute(formed, formed, MONTHLY_004, date(2027, 5, 20), given).state == (
        State.NOTICE_GIVEN
    )
    june = terms.compute(formed, formed, MONTHLY_004, date(2027, 6, 15), given)
    assert (june.state, june.term.end, june.next_term) == (State.ENDING, date(2027, 6, 30), None)
    assert terms.compute(formed, formed, MONTHLY_004, date(2027, 7, 1), given).state == State.ENDED


# --- cooling-off of 004 (CT-05) ----------------------------------------------------------------


@pytest.mark.req("CT-05")
def test_cooling_off_is_eight_days_including_the_application_day():
    applied = date(2027, 2, 25)
    # Feb 25 + 7 days = Mar 4 (2027 is no leap year): the eighth day.
    assert terms.cooling_off_last_day(applied, MONTHLY_004) == date(2027, 3, 4)
    assert terms.check_withdrawal(applied, MONTHLY_004, True, date(2027, 3, 4)) == date(2027, 3, 4)
    with pytest.raises(TermsError) as refused:
        terms.check_withdrawal(applied, MONTHLY_004, True, date(2027, 3, 5))
    assert refused.value.code == "cooling_off_over"
    assert "2027-03-04" in refused.value.message


@pytest.mark.req("CT-05")
def test_no_cooling_off_without_a_web_application():
    with pytest.raises(TermsError) as refused:
        terms.check_withdrawal(date(2027, 2, 25), MONTHLY_004, False, date(2027, 2, 26))
    assert refused.value.code == "not_via_web"
    with pytest.raises(TermsError) as none:
        terms.check_withdrawal(date(2027, 2, 25), FIXED_000, True, date(2027, 2, 26))
    assert none.value.code == "no_cooling_off"


@pytest.mark.req("CT-05")
def test_a_withdrawn_contract():
    applied = date(2027, 2, 25)
    given = [notice("withdrawal", date(2027, 2, 27), date(2027, 2, 27))]
    status = terms.compute(applied, applied, MONTHLY_004, date(2027, 3, 1), given, via_web=True)
    assert (status.state, status.end, status.term) == (State.WITHDRAWN, date(2027, 2, 27), None)
