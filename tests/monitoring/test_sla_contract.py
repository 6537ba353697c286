"""The SLA as contract 004 says it, month by month with known answers (MON-07, CT-09).

004 §30.4: from when the provider knew that the service could not be used at all (当サービスの
利用が全てできない状態であることを当社が知った時から), an outage under 6 hours refunds nothing;
6 hours or more goes to §36. §36.1: a total outage (利用が全くできない状態) the provider is
responsible for and knew of is reduced by the SLA table; §36.3 and §36.4: not the carrier's,
not the cloud vendor's. CT-09: time waiting on the client is the client's delay.

November 2026 in Asia/Tokyo: 43,200 minutes. The availability table: below 99.9 % → 10 %,
below 99.5 % → 15 %, below 99.0 % → 25 %. The length table: 6 h → 20 %, 12 h → 40 %.
Monthly fee ¥50,000.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from mamori.clients import waits
from mamori.clients.models import ClientWait
from mamori.core.models import AuditEvent
from mamori.monitoring import incidents, sla
from mamori.monitoring.models import (
    Cause,
    Incident,
    IncidentEventKind,
    IncidentState,
    SlaCredit,
    SlaPolicy,
    SlaTable,
)
from tests.monitoring.test_sla import LATER, NOVEMBER, TIERS, jst, outage

pytestmark = [pytest.mark.django_db, pytest.mark.req("MON-07")]

LENGTHS = [{"hours": 6, "credit_percent": 20}, {"hours": 12, "credit_percent": 40}]


@pytest.fixture(autouse=True)
def tokyo(settings):
    settings.TIME_ZONE = "Asia/Tokyo"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def by_availability(acme) -> SlaPolicy:
    return SlaPolicy.objects.create(
        client=acme, name="by availability", monthly_fee=Decimal(50000), tiers=TIERS
    )


@pytest.fixture
def by_length(acme) -> SlaPolicy:
    return SlaPolicy.objects.create(
        client=acme,
        name="by length",
        monthly_fee=Decimal(50000),
        table=SlaTable.OUTAGE_LENGTH,
        length_tiers=LENGTHS,
    )


@pytest.fixture
def check(acme, make_check):
    return make_check(acme, "http", {"url": "https://www.acme.example/"})


def month(policy) -> SlaCredit:
    return sla.compute_month(policy, NOVEMBER, now=LATER)


# --- 6 hours ---------------------------------------------------------------------------------


def test_a_provider_outage_of_5_h_59_min_gives_nothing(acme, by_availability, by_length):
    outage(acme, jst(10, 1), jst(10, 6, 59))
    for policy in (by_availability, by_length):
        credit = month(policy)
        assert (credit.downtime_minutes, credit.longest_outage_minutes) == (0, 359)
        assert credit.availability_percent == 100  # not even in the availability
        assert (credit.credit_percent, credit.credit_amount) == (0, 0)
        assert credit.excluded_minutes == 359


def test_a_provider_outage_of_6_h_00_min_gets_the_table(acme, by_availability, by_length):
    """360 minutes: 1 − 360/43,200 = 99.1666… % → below 99.5 → 15 % = ¥7,500; by length:
    6 hours → 20 % = ¥10,000."""
    outage(acme, jst(10, 1), jst(10, 7))
    credit = month(by_availability)
    assert (credit.downtime_minutes, credit.availability_percent) == (360, Decimal("99.166"))
    assert (credit.credit_percent, credit.credit_amount) == (15, 7500)
    credit = month(by_length)
    assert (credit.longest_outage_minutes, credit.credit_percent) == (360, 20)
    assert credit.credit_amount == 10000


def test_the_length_table_takes_the_longest_tier_reached_and_the_longest_outage(acme, by_length):
    """Outages of 7 h and 13 h in one month: the longest, 13 h, reaches the 12-hour tier → 40 %
    (the table credits the month once, not per outage)."""
    outage(acme, jst(3, 0), jst(3, 7))
    outage(acme, jst(20, 0), jst(20, 13))
    credit = month(by_length)
    assert (credit.longest_outage_minutes, credit.downtime_minutes) == (780, 420 + 780)
    assert (credit.credit_percent, credit.credit_amount) == (40, 20000)


# --- overlapping incidents -------------------------------------------------------------------


def test_two_overlapping_4_hour_outages_offset_by_2_hours_are_one_6_hour_outage(
    acme, by_availability, by_length
):
    """00:00–04:00 and 02:00–06:00 on Nov 12: the service was unusable 00:00–06:00 = 6 h
    (the union, not 4 + 4 = 8 h, and not two 4-hour outages) → the table."""
    outage(acme, jst(12, 0), jst(12, 4), title="web")
    outage(acme, jst(12, 2), jst(12, 6), title="db")
    credit = month(by_availability)
    assert (credit.downtime_minutes, credit.longest_outage_minutes) == (360, 360)
    assert credit.credit_percent == 15
    assert month(by_length).credit_percent == 20


def test_two_4_hour_outages_with_service_between_them_are_two_short_outages(acme, by_length):
    outage(acme, jst(12, 0), jst(12, 4))
    outage(acme, jst(12, 4, 1), jst(12, 8, 1))  # back for one minute in between
    credit = month(by_length)
    assert (credit.downtime_minutes, credit.longest_outage_minutes) == (0, 240)
    assert credit.credit_percent == 0


def test_an_outage_of_the_carrier_beside_one_of_the_provider_does_not_lengthen_it(acme, by_length):
    """Provider 00:00–04:00, carrier 03:00–09:00: the provider's outage is 4 hours; the
    carrier's time is not the provider's (§36.3)."""
    outage(acme, jst(12, 0), jst(12, 4))
    outage(acme, jst(12, 3), jst(12, 9), cause=Cause.CARRIER)
    credit = month(by_length)
    assert (credit.downtime_minutes, credit.longest_outage_minutes) == (0, 240)
    assert credit.excluded_minutes == 540


# --- what counts -----------------------------------------------------------------------------


def test_a_degraded_service_of_10_hours_gives_nothing(acme, by_availability, by_length):
    outage(acme, jst(5, 0), jst(5, 10), total_outage=False)
    for policy in (by_availability, by_length):
        credit = month(policy)
        assert (credit.downtime_minutes, credit.credit_amount) == (0, 0)
        assert credit.longest_outage_minutes == 0
        assert credit.excluded_minutes == 600


@pytest.mark.parametrize(
    "cause", [Cause.CARRIER, Cause.HOSTING, Cause.CLIENT, Cause.ATTACK, Cause.FORCE_MAJEURE]
)
def test_a_total_outage_of_10_hours_not_caused_by_the_provider_gives_nothing(
    acme, by_availability, cause
):
    outage(acme, jst(5, 0), jst(5, 10), cause=cause)
    credit = month(by_availability)
    assert (credit.downtime_minutes, credit.credit_amount, credit.provisional) == (0, 0, False)
    assert credit.excluded_minutes == 600


def test_an_unattributed_outage_of_6_hours_counts_provisionally_and_holds_finalizing(
    acme, by_availability, operator
):
    incident = outage(acme, jst(5, 0), jst(5, 6), cause=Cause.UNATTRIBUTED)
    credit = month(by_availability)
    assert (credit.credit_percent, credit.provisional) == (15, True)
    with pytest.raises(sla.SlaError, match="no cause"):
        sla.finalize(credit, operator, now=LATER)
    incidents.set_cause(incident, operator, Cause.CARRIER)
    credit = sla.finalize(credit, operator, now=LATER)
    assert (credit.credit_percent, credit.provisional) == (0, False)


def test_a_short_unattributed_outage_cannot_change_anything_and_does_not_hold_finalizing(
    acme, by_availability, operator
):
    outage(acme, jst(5, 0), jst(5, 2), cause=Cause.UNATTRIBUTED)
    credit = month(by_availability)
    assert (credit.credit_percent, credit.provisional) == (0, False)
    assert sla.finalize(credit, operator, now=LATER).finalized_at == LATER


# --- an incident opened by hand ----------------------------------------------------------------


def opened_by_hand(acme, operator, *, started, known) -> Incident:
    """The operator records a client's report: opened with the page's service function, then
    dated to when the provider learned of it (the report came in at ``known``)."""
    incident = incidents.open_manual(
        acme, operator, "お客様より: サイトが表示されない", notify=False, started_at=started
    )
    Incident.objects.filter(pk=incident.pk).update(confirmed_at=known)
    incident.refresh_from_db()
    return incident


def test_an_incident_opened_by_hand_and_closed_days_later_counts_until_its_recovery(
    acme, by_availability, operator
):
    """Reported Nov 8 09:00 (down since 08:00), the service back at 16:00, the incident closed
    on December 5 or so (today): 7 hours from when the provider knew → 420 minutes, not a
    month. 1 − 420/43,200 = 99.027 % → 15 %."""
    incident = opened_by_hand(acme, operator, started=jst(8, 8), known=jst(8, 9))
    incidents.record_recovery(incident, operator, jst(8, 16))
    incidents.set_cause(incident, operator, Cause.PROVIDER, "設定誤り")
    incidents.close(incident, operator)
    incident.refresh_from_db()
    assert incident.closed_at > jst(1, 0, month=12)
    assert incident.recovered_at == jst(8, 16)
    assert incident.events.filter(kind=IncidentEventKind.RECOVERED, user=operator).exists()
    assert AuditEvent.objects.filter(action="incident.recovery", actor=operator).exists()
    credit = month(by_availability)
    assert (credit.downtime_minutes, credit.excluded_minutes) == (420, 60)
    assert (credit.credit_percent, credit.credit_amount) == (15, 7500)


def test_an_incident_opened_by_hand_without_a_recovery_holds_finalizing(
    acme, by_availability, operator
):
    incident = opened_by_hand(acme, operator, started=jst(8, 8), known=jst(8, 9))
    incidents.set_cause(incident, operator, Cause.PROVIDER)
    incidents.close(incident, operator)  # closing is not recovering
    incident.refresh_from_db()
    assert incident.recovered_at is None
    credit = month(by_availability)
    # Open-ended until the recovery is recorded: the rest of November is down.
    assert credit.downtime_minutes == (30 - 8) * 1440 + 15 * 60
    with pytest.raises(sla.SlaError, match=f"incident #{incident.pk} recover"):
        sla.finalize(credit, operator, now=LATER)
    incidents.record_recovery(incident, operator, jst(8, 11))  # two hours: nothing
    credit = sla.finalize(credit, operator, now=LATER)
    assert (credit.downtime_minutes, credit.credit_amount) == (0, 0)


def test_a_recovery_is_recorded_only_where_no_check_sees_it_and_never_before_the_start(
    acme, operator, check
):
    watched = outage(acme, jst(8, 8), None, uptime_check=check)
    with pytest.raises(incidents.IncidentError, match="recovers when its check does"):
        incidents.record_recovery(watched, operator, jst(8, 9))
    incident = opened_by_hand(acme, operator, started=jst(8, 8), known=jst(8, 9))
    with pytest.raises(incidents.IncidentError, match="before the start"):
        incidents.record_recovery(incident, operator, jst(8, 7))
    with pytest.raises(incidents.IncidentError, match="future"):
        incidents.record_recovery(incident, operator, LATER + dt.timedelta(days=400))
    incident.refresh_from_db()
    assert (incident.recovered_at, incident.state) == (None, IncidentState.OPEN)


# --- waiting on the client (CT-09) -------------------------------------------------------------


@pytest.mark.req("CT-09")
def test_3_hours_of_an_8_hour_outage_waiting_on_the_client_leave_5_hours_and_nothing(
    acme, by_availability, by_length, operator
):
    """Down 00:00–08:00; the provider waited for the client's server password 02:00–05:00.
    The provider's outage is 8 − 3 = 5 hours → nothing; the 3 hours are the client's delay."""
    incident = outage(acme, jst(14, 0), jst(14, 8))
    incidents.wait_for_client(incident, operator, "サーバのパスワード", since=jst(14, 2))
    incidents.end_client_wait(incident, operator, until=jst(14, 5))
    for policy in (by_availability, by_length):
        credit = month(policy)
        assert (credit.downtime_minutes, credit.longest_outage_minutes) == (0, 300)
        assert credit.client_delay_minutes == 180
        assert credit.credit_amount == 0
    kinds = list(incident.events.values_list("kind", flat=True))
    assert IncidentEventKind.WAITING in kinds and IncidentEventKind.WAITING_ENDED in kinds
    assert AuditEvent.objects.filter(action="incident.wait").count() == 1
    assert AuditEvent.objects.filter(action="incident.wait_end").count() == 1


@pytest.mark.req("CT-09")
def test_waiting_shortens_an_outage_that_still_reaches_6_hours(acme, by_availability, operator):
    """Down 00:00–09:00, waiting 01:00–03:00: 7 hours are the provider's (one outage: the wait
    does not split it) → 420 minutes → 99.027 % → 15 %; 120 minutes of client's delay."""
    incident = outage(acme, jst(14, 0), jst(14, 9))
    incidents.wait_for_client(incident, operator, "承認", since=jst(14, 1))
    incidents.end_client_wait(incident, operator, until=jst(14, 3))
    credit = month(by_availability)
    assert (credit.downtime_minutes, credit.client_delay_minutes) == (420, 120)
    assert (credit.longest_outage_minutes, credit.credit_percent) == (420, 15)
    assert credit.excluded_minutes == 0


@pytest.mark.req("CT-09")
def test_waiting_on_one_incident_does_not_excuse_another_outage_at_the_same_time(
    acme, by_availability, operator
):
    """web waits on the client 00:00–08:00 (all of it); db is down 00:00–07:00 at the same
    time without waiting: the service was unusable by the provider's doing for 7 hours."""
    web = outage(acme, jst(14, 0), jst(14, 8), title="web")
    outage(acme, jst(14, 0), jst(14, 7), title="db")
    incidents.wait_for_client(web, operator, "DNS の変更", since=jst(14, 0))
    incidents.end_client_wait(web, operator, until=jst(14, 8))
    credit = month(by_availability)
    assert (credit.downtime_minutes, credit.client_delay_minutes) == (420, 60)


@pytest.mark.req("CT-09")
def test_a_wait_still_open_counts_until_now_and_is_refused_twice(acme, operator):
    incident = outage(acme, jst(14, 0), None)
    wait = incidents.wait_for_client(incident, operator, "ログ", since=jst(14, 1))
    assert waits.open_wait(incident) == wait
    assert waits.spans(incident, jst(14, 4)) == [(jst(14, 1), jst(14, 4))]
    with pytest.raises(incidents.IncidentError, match="waiting for the client already"):
        incidents.wait_for_client(incident, operator, "ほかのもの")
    with pytest.raises(incidents.IncidentError, match="before the start"):
        incidents.end_client_wait(incident, operator, until=jst(14, 0))
    with pytest.raises(incidents.IncidentError, match="before the incident"):
        incidents.wait_for_client(outage(acme, jst(15, 0), None), operator, "x", since=jst(1, 0))
    incidents.end_client_wait(incident, operator, until=jst(14, 2))
    with pytest.raises(incidents.IncidentError, match="not waiting"):
        incidents.end_client_wait(incident, operator)
    with pytest.raises(incidents.IncidentError, match="overlap"):
        incidents.wait_for_client(incident, operator, "x", since=jst(14, 1, 30))
    assert ClientWait.objects.of(incident).count() == 1


@pytest.mark.req("CT-09")
def test_a_client_user_may_not_put_an_incident_in_waiting(acme, owner):
    from django.core.exceptions import PermissionDenied

    incident = outage(acme, jst(14, 0), None)
    with pytest.raises(PermissionDenied):
        incidents.wait_for_client(incident, owner, "x")
    assert not ClientWait.objects.exists()


# --- billing ---------------------------------------------------------------------------------


def test_finalized_credits_are_offered_to_billing_and_never_change(
    acme, globex, by_availability, operator
):
    outage(acme, jst(10, 1), jst(10, 7))
    globex_policy = SlaPolicy.objects.create(
        client=globex, name="g", monthly_fee=Decimal(9000), tiers=TIERS
    )
    outage(globex, jst(10, 1), jst(10, 7))
    credit = month(by_availability)
    assert list(sla.unbilled_finalized_credits(acme.pk, NOVEMBER)) == []  # not finalized
    sla.finalize(credit, operator, now=LATER)
    sla.finalize(sla.compute_month(globex_policy, NOVEMBER, now=LATER), operator, now=LATER)
    assert list(sla.unbilled_finalized_credits(acme.pk, NOVEMBER)) == [credit]
    assert list(sla.unbilled_finalized_credits(acme.pk, dt.date(2026, 12, 1))) == [credit]
    assert list(sla.unbilled_finalized_credits(acme.pk, dt.date(2026, 10, 1))) == []
    credit.refresh_from_db()
    credit.credit_amount = Decimal(1)
    with pytest.raises(ValidationError):
        credit.save()
    with pytest.raises(ValidationError):
        credit.delete()
    assert SlaCredit.objects.get(pk=credit.pk).credit_amount == 7500


def test_a_finalized_month_without_credit_is_not_offered(acme, by_availability, operator):
    sla.finalize(month(by_availability), operator, now=LATER)
    assert list(sla.unbilled_finalized_credits(acme.pk, NOVEMBER)) == []


def test_a_credit_on_an_invoice_line_is_billed_and_not_offered_again(
    acme, by_availability, operator
):
    """Billing links its line to the credit (``InvoiceLine.sla_credit``): the next run does not
    see it, and the credit cannot be deleted under the line."""
    from django.db.models import ProtectedError

    from mamori.billing.models import Invoice, InvoiceLine, LineKind

    outage(acme, jst(10, 1), jst(10, 7))
    credit = sla.finalize(month(by_availability), operator, now=LATER)
    invoice = Invoice.objects.create(
        client=acme,
        number="2026-12-0001",
        month=dt.date(2026, 12, 1),
        issue_date=dt.date(2026, 12, 31),
        due_date=dt.date(2027, 1, 31),
        net_total=0,
        tax_total=0,
        total=0,
    )
    # Lines are written once, with their invoice, as the invoice run writes them.
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                position=1,
                kind=LineKind.SLA_CREDIT,
                quantity=1,
                unit_price=-credit.credit_amount,
                amount=-credit.credit_amount,
                tax_rate=10,
                sla_credit=credit,
            )
        ]
    )
    assert list(sla.unbilled_finalized_credits(acme.pk, dt.date(2026, 12, 1))) == []
    with pytest.raises((ProtectedError, ValidationError)):
        credit.delete()
