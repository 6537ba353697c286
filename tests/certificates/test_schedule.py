"""The expiry notice rule for certificate lifetimes from 6 to 398 days (CERT-03)."""

import pytest

from mamori.certificates.schedule import applicable_thresholds, due_threshold

DEFAULT = [90, 60, 30, 14, 7, 3, 1]


def notices_over_life(lifetime_days: float, schedule=DEFAULT, first_seen_day: float = 0, step=0.25):
    """Simulate checks every ``step`` days over a certificate's life; return the thresholds
    noticed, in order, each at most once (as the outbox's idempotency key guarantees)."""
    sent: list[int] = []
    day = first_seen_day
    while day <= lifetime_days + 1:
        threshold = due_threshold(schedule, lifetime_days, lifetime_days - day)
        if threshold is not None and threshold not in sent:
            sent.append(threshold)
        day += step
    return sent


@pytest.mark.req("CERT-03")
@pytest.mark.parametrize(
    ("lifetime", "expected"),
    [
        (6, [1]),
        (47, [14, 7, 3, 1]),
        (90, [30, 14, 7, 3, 1]),
        (398, [90, 60, 30, 14, 7, 3, 1]),
    ],
)
def test_it_sends_each_applicable_threshold_once_in_order(lifetime, expected):
    assert notices_over_life(lifetime) == expected


@pytest.mark.req("CERT-03")
@pytest.mark.parametrize("lifetime", [6, 47, 90, 398])
def test_it_sends_nothing_for_a_freshly_issued_certificate(lifetime):
    # The first two days of any lifetime (the first third of a 6-day certificate) are quiet.
    for hours in range(0, 48):
        assert due_threshold(DEFAULT, lifetime, lifetime - hours / 24) is None


@pytest.mark.req("CERT-03")
def test_it_sends_only_the_most_urgent_threshold_when_first_seen_late():
    # First seen with 5 days left: the 7-day notice, then 3 and 1; not 90, 60, 30, 14.
    assert notices_over_life(398, first_seen_day=393) == [7, 3, 1]


@pytest.mark.req("CERT-03")
def test_it_falls_back_to_a_sixth_of_the_lifetime_when_no_threshold_fits():
    assert applicable_thresholds([30, 14], 6) == [1]
    assert applicable_thresholds([60], 47) == [7]
    assert notices_over_life(47, schedule=[60]) == [7]


def test_it_has_no_threshold_once_expired():
    assert due_threshold(DEFAULT, 90, 0) is None
    assert due_threshold(DEFAULT, 90, -3) is None
