"""Announcements (NOT-04): the notice periods of the seed contracts, whom an announcement
reaches, and exactly one notice per recipient, delivered by a real SMTP server.

Known answers from the contracts: 004 §2 changes the terms with notice "14日前までに", 004 §24
ends the service with notice "廃止の2ヶ月前までに", 003 §23 ends it "3か月前までに".
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from mamori.announcements import services
from mamori.announcements.models import Announcement, AnnouncementState, NoticePeriod, Recipient
from mamori.clients.models import ContractNotice
from mamori.core.models import AuditEvent
from mamori.inventory.models import Server
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind
from tests.announcements.conftest import NOW, TODAY, profile, values

pytestmark = pytest.mark.req("NOT-04")


def test_a_terms_change_13_days_ahead_is_refused_with_the_earliest_date(ops, operator):
    with pytest.raises(ValidationError) as refused:
        services.create(
            values("terms_change", dt.date(2026, 12, 20), contract_types=["operations_support"]),
            actor=operator,
            today=TODAY,
        )
    (message,) = refused.value.message_dict["effective_on"]
    assert "2026-12-21" in message  # 7 December + 14 days
    assert "004 §2" in message and "株式会社アクメ" in message
    assert not Announcement.objects.exists()


def test_a_terms_change_14_days_ahead_is_accepted(ops, operator):
    a = services.create(
        values("terms_change", dt.date(2026, 12, 21), contract_types=["operations_support"]),
        actor=operator,
        today=TODAY,
    )
    assert a.state == AnnouncementState.DRAFT
    assert AuditEvent.objects.filter(action="announcement.create", actor=operator).exists()


def test_a_service_end_needs_2_months_under_004_and_3_months_under_003(ops, ca_client, operator):
    # 004 §24: two months before 7 February 2027 is 7 December 2026.
    services.create(
        values("service_end", dt.date(2027, 2, 7), contract_types=["operations_support"]),
        actor=operator,
        today=TODAY,
    )
    with pytest.raises(ValidationError) as refused:
        services.create(
            values("service_end", dt.date(2027, 2, 6), contract_types=["operations_support"]),
            actor=operator,
            today=TODAY,
        )
    assert "2027-02-07" in refused.value.message_dict["effective_on"][0]
    # 003 §23 also concerned: three months, so 7 March 2027 at the earliest.
    with pytest.raises(ValidationError) as refused:
        services.create(values("service_end", dt.date(2027, 2, 7)), actor=operator, today=TODAY)
    (message,) = refused.value.message_dict["effective_on"]
    assert "2027-03-07" in message and "003 §23" in message and "株式会社カイシャ" in message
    services.create(values("service_end", dt.date(2027, 3, 7)), actor=operator, today=TODAY)


def test_the_periods_are_data_an_operator_changes(ops, operator):
    assert (
        NoticePeriod.objects.get(terms_profile=profile("monthly-004"), kind="terms_change").days
        == 14
    )
    services.set_period(profile("monthly-004"), "terms_change", days=30, months=0, actor=operator)
    with pytest.raises(ValidationError) as refused:
        services.create(values("terms_change", dt.date(2026, 12, 21)), actor=operator, today=TODAY)
    assert "2027-01-06" in refused.value.message_dict["effective_on"][0]
    assert AuditEvent.objects.filter(action="announcement.period").exists()


def test_a_date_in_the_past_is_refused(site_client, operator):
    with pytest.raises(ValidationError) as refused:
        services.create(values("maintenance", dt.date(2026, 12, 6)), actor=operator, today=TODAY)
    assert "2026-12-07" in refused.value.message_dict["effective_on"][0]


def test_recipients_are_chosen_by_contract_type_profile_and_server(
    ops, ca_client, site_client, operator
):
    def clients(**extra):
        selection = services.selection_from(values("maintenance", dt.date(2027, 6, 1), **extra))
        return [a.client.code for a in services.affected(selection, TODAY)]

    assert clients() == ["acme", "hoshu", "kaisha"]
    assert clients(contract_types=["ca_service"]) == ["kaisha"]
    assert clients(contract_types=["operations_support", "site_maintenance"]) == ["acme", "hoshu"]
    assert clients(terms_profiles=[profile("monthly-004")]) == ["acme"]
    assert clients(servers=[Server.objects.get(name="web1")]) == ["hoshu"]
    # Type and server together: both must hold.
    assert clients(contract_types=["ca_service"], servers=[Server.objects.get(name="web1")]) == []


def test_a_contract_ended_before_the_date_is_not_concerned(ca_client, operator):
    contract = ca_client.contracts.get()
    ContractNotice.objects.create(
        contract=contract, kind="cancellation", received_on=dt.date(2026, 11, 1),
        medium="email", sender="Ken Mori", effective_on=dt.date(2026, 11, 30),
    )  # fmt: skip
    selection = services.selection_from(values("maintenance", dt.date(2027, 1, 10)))
    assert services.affected(selection, TODAY) == []


def test_only_provider_administrators_and_operators_announce(ops, subcontractor, owner):
    for user in (subcontractor, owner):
        with pytest.raises(PermissionDenied):
            services.create(values("maintenance", dt.date(2027, 1, 10)), actor=user, today=TODAY)


def announce(operator, **extra) -> Announcement:
    return services.create(
        values("terms_change", dt.date(2027, 1, 4), **extra), actor=operator, today=TODAY
    )


def test_each_contact_is_told_once_in_their_language_through_a_real_smtp_server(
    ops, ca_client, operator, smtp
):
    a = announce(operator)
    result = services.send(a, actor=operator, now=NOW)
    # acme: the contact who takes contract notices; kaisha: Ken Mori.
    assert (result.clients, result.notices) == (2, 2)
    assert services.send(a, actor=operator, now=NOW).already_sent
    assert Notice.objects.filter(kind=NoticeKind.ANNOUNCEMENT).count() == 2
    assert notices.deliver_due().sent == 2
    assert notices.deliver_due().sent == 0
    by_address = {m.to: m for m in smtp.messages}
    assert sorted(by_address) == ["keiri@acme.example", "ken@kaisha.example"]
    assert by_address["keiri@acme.example"].subject == "約款改定のお知らせ"
    assert "第5条を改定します。" in by_address["keiri@acme.example"].text()
    assert "2027年1月4日" in by_address["keiri@acme.example"].text()
    assert by_address["ken@kaisha.example"].subject == "Changes to our terms"
    assert "We are changing article 5." in by_address["ken@kaisha.example"].text()
    assert "4 January 2027" in by_address["ken@kaisha.example"].text()
    a.refresh_from_db()
    assert a.state == AnnouncementState.SENT
    assert AuditEvent.objects.filter(action="announcement.send").count() == 1


def test_a_crash_between_recipients_resumes_without_a_second_notice(
    ops, ca_client, operator, smtp, monkeypatch
):
    a = announce(operator)
    real = notices.enqueue
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise RuntimeError("the process died")
        return real(*args, **kwargs)

    monkeypatch.setattr(notices, "enqueue", crash_on_second)
    with pytest.raises(RuntimeError):
        services.send(a, actor=operator, now=NOW)
    a.refresh_from_db()
    assert a.state == AnnouncementState.SENDING
    # Every recipient was recorded before any notice; the first client's notice is queued.
    assert Recipient.objects.filter(announcement=a).count() == 2
    assert Recipient.objects.filter(announcement=a, notified_at__isnull=False).count() == 1
    assert Notice.objects.filter(kind=NoticeKind.ANNOUNCEMENT).count() == 1
    monkeypatch.setattr(notices, "enqueue", real)
    result = services.send(a, actor=operator, now=NOW)
    assert result.notices == 1  # only the client not told yet
    resumed = AuditEvent.objects.filter(action="announcement.send").order_by("sequence").last()
    assert resumed.changes == {"resumed": True, "clients": 1}
    assert services.send(a, actor=operator, now=NOW).already_sent
    assert notices.deliver_due().sent == 2
    assert sorted(m.to for m in smtp.messages) == ["keiri@acme.example", "ken@kaisha.example"]


def test_a_client_without_a_contact_for_the_topic_is_told_through_every_contact(
    site_client, operator
):
    site_client.contacts.update(notify=[])
    a = services.create(values("maintenance", dt.date(2027, 1, 10)), actor=operator, today=TODAY)
    assert services.send(a, actor=operator, now=NOW).notices == 1
    assert Notice.objects.get(kind=NoticeKind.ANNOUNCEMENT).recipient == "sato@hoshu.example"


def test_a_sent_announcement_cannot_be_changed(ops, operator):
    a = announce(operator)
    services.send(a, actor=operator, now=NOW)
    with pytest.raises(ValidationError):
        services.update(a, values("terms_change", dt.date(2027, 2, 1)), actor=operator, today=TODAY)


def test_the_monthly_report_reads_the_announcements_a_client_was_told(ops, ca_client, operator):
    a = announce(operator)
    services.send(a, actor=operator, now=NOW)
    (row,) = services.sent_for(ops, dt.date(2026, 12, 1))
    assert row["id"] == a.pk and row["kind"] == "terms_change" and row["notices"] == 1
    assert row["effective_on"] == dt.date(2027, 1, 4)
    assert services.sent_for(ops, dt.date(2026, 11, 1)) == []
    assert services.sent_for(ops, dt.date(2027, 1, 1)) == []


def test_a_draft_is_changed_with_an_audit_record_and_the_date_checked_again(ops, operator):
    a = announce(operator)
    services.update(a, values("terms_change", dt.date(2027, 1, 11)), actor=operator, today=TODAY)
    event = AuditEvent.objects.get(action="announcement.edit")
    assert event.changes["effective_on"] == ["2027-01-04", "2027-01-11"]
    with pytest.raises(ValidationError) as refused:
        services.update(
            a, values("terms_change", dt.date(2026, 12, 14)), actor=operator, today=TODAY
        )
    assert "2026-12-21" in refused.value.message_dict["effective_on"][0]


def test_a_sent_announcement_lists_whom_its_notices_went_to(ops, ca_client, operator):
    a = announce(operator)
    services.send(a, actor=operator, now=NOW)
    # A contact's address changed afterwards: the record still says where the notice went.
    ops.contacts.filter(email="keiri@acme.example").update(email="new@acme.example")
    rows = services.preview(a).rows
    assert {r.client.code: [q.address for q in r.recipients] for r in rows} == {
        "acme": ["keiri@acme.example"],
        "kaisha": ["ken@kaisha.example"],
    }
