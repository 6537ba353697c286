"""The client's instruction (CERT-04): under ``approval`` Mamori asks the client's administrators
and contacts, reminds them as expiry nears, and orders nothing without the yes; under
``standing`` it orders without asking. Real mail through a real SMTP server."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.clients.models import Contract
from mamori.core.models import AuditEvent
from mamori.lifecycle import approvals, renewal
from mamori.lifecycle.models import (
    Approval,
    ApprovalChannel,
    ApprovalState,
    OrderPurpose,
    OrderState,
    RenewalInstruction,
)
from mamori.notices.models import Notice, NoticeKind
from mamori.notices.services import deliver_due
from tests.lifecycle.renewal.conftest import give_certificate

pytestmark = [pytest.mark.django_db(databases=["default", "keystore"]), pytest.mark.req("CERT-04")]

DAY = dt.timedelta(days=1)


def kinds_to(smtp, kind_subject: str) -> set[str]:
    return {m.to for m in smtp.messages if kind_subject in m.subject}


def test_under_approval_it_asks_reminds_and_orders_once_after_the_yes(
    make_managed, smtp, owner, member, operator, client, renewal_ca
):
    managed = make_managed(lifetime_days=90, age_days=61)  # the contract says: approval
    assert managed.effective_instruction() == RenewalInstruction.APPROVAL
    now = timezone.now()

    report = renewal.run_pass(now)
    assert report.asked == 1
    assert not managed.orders.open().exists()
    approval = Approval.objects.get(managed=managed)
    assert approval.state == ApprovalState.REQUESTED
    assert approval.renewal_of == managed.certificate
    renewal.run_pass(now + dt.timedelta(hours=1))
    assert Approval.objects.filter(managed=managed).count() == 1
    assert not managed.orders.open().exists()

    assert deliver_due().sent == 3
    asked = {m.to: m for m in smtp.messages}
    # Certificate contacts and the client's administrator; not the billing contact, not the
    # viewer, not yet the operators.
    assert set(asked) == {"yamada@acme.example", "jane@acme.example", "owner@acme.example"}
    link = reverse("approval_decide", args=[approval.pk])
    assert all(link in m.text() for m in asked.values())
    assert "ご承認" in asked["yamada@acme.example"].subject
    assert "Approval needed" in asked["jane@acme.example"].subject

    # Half the remaining time gone: a reminder to the client only; sent once.
    renewal.run_pass(now + 16 * DAY)
    renewal.run_pass(now + 16 * DAY + dt.timedelta(hours=2))
    deliver_due()
    reminders = [m for m in smtp.messages if "Reminder" in m.subject or "再送" in m.subject]
    assert {m.to for m in reminders} == set(asked)
    # Closer to expiry: the next reminder copies the operators.
    renewal.run_pass(now + 23 * DAY)
    deliver_due()
    reminders = [m for m in smtp.messages if "Reminder" in m.subject or "再送" in m.subject]
    assert len(reminders) == 7  # the three of the client's people, twice, and the operator
    assert "operator@provider.example" in {m.to for m in reminders}
    approval.refresh_from_db()
    # Half and a quarter of the 29 days that were left when the client was asked.
    assert approval.reminders == [14.5, 7.25]
    assert (
        not managed.orders.exists()
        or not managed.orders.filter(purpose=OrderPurpose.RENEW).exists()
    )

    # The client's administrator approves in the portal (the viewer cannot).
    client.force_login(member)
    assert client.post(link, {"decision": "approve"}).status_code == 403
    client.force_login(owner)
    response = client.post(link, {"decision": "approve", "note": "go ahead"})
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.state == ApprovalState.APPROVED
    assert approval.channel == ApprovalChannel.PORTAL and approval.decided_by == owner
    assert AuditEvent.objects.filter(action="approval.approve", actor=owner).exists()

    # The next pass orders the renewal, once.
    later = now + 23 * DAY + dt.timedelta(hours=1)
    assert renewal.run_pass(later).ordered == 1
    assert renewal.run_pass(later + dt.timedelta(minutes=5)).ordered == 0
    order = managed.orders.get(purpose=OrderPurpose.RENEW)
    assert order.state == OrderState.NEW  # a commercial CA's: an operator applies
    assert order.approval == approval
    approval.refresh_from_db()
    assert approval.state == ApprovalState.USED

    # The new certificate arrives: nothing more to ask or order.
    give_certificate(managed, renewal_ca, lifetime_days=90)
    renewal.run_pass(later + dt.timedelta(hours=1))
    assert managed.orders.filter(purpose=OrderPurpose.RENEW).count() == 1
    managed.refresh_from_db()
    assert renewal.status_of(managed).code == "valid"


def test_a_declined_renewal_is_not_ordered(make_managed, owner, client, smtp):
    managed = make_managed(lifetime_days=47, age_days=33)
    now = timezone.now()
    renewal.run_pass(now)
    approval = Approval.objects.get(managed=managed)
    client.force_login(owner)
    url = reverse("approval_decide", args=[approval.pk])
    assert client.post(url, {"decision": "decline", "note": "moving away"}).status_code == 302
    approval.refresh_from_db()
    assert approval.state == ApprovalState.DECLINED and approval.note == "moving away"
    for hours in (1, 24, 72, 240):
        renewal.run_pass(now + dt.timedelta(hours=hours))
    assert not managed.orders.filter(purpose=OrderPurpose.RENEW).exists()
    assert Approval.objects.filter(managed=managed).count() == 1  # not asked again
    managed.refresh_from_db()
    assert renewal.status_of(managed, now).code == "declined"
    # Deciding twice is refused with a clear message.
    with pytest.raises(approvals.ApprovalError, match="already declined"):
        approvals.approve(approval, actor=owner, channel=ApprovalChannel.PORTAL)


def test_a_standing_instruction_orders_without_asking(make_managed, acme):
    by_certificate = make_managed(age_days=61, instruction=RenewalInstruction.STANDING)
    Contract.objects.filter(client=acme).update(renewal_policy="standing")
    by_contract = make_managed(age_days=61)
    not_due = make_managed(age_days=30, instruction=RenewalInstruction.STANDING)
    report = renewal.run_pass()
    assert report.ordered == 2 and report.asked == 0
    for managed in (by_certificate, by_contract):
        order = managed.orders.get(purpose=OrderPurpose.RENEW)
        assert order.approval is None and order.replaces == managed.certificate
    assert not not_due.orders.filter(purpose=OrderPurpose.RENEW).exists()
    assert not Approval.objects.exists()
    assert not Notice.objects.filter(kind=NoticeKind.APPROVAL_REQUESTED).exists()
    # Never a second order while one is open, nor while backing off.
    assert renewal.run_pass().ordered == 0


def test_it_waits_while_backing_off(make_managed):
    managed = make_managed(age_days=61, instruction=RenewalInstruction.STANDING)
    managed.next_attempt_at = timezone.now() + dt.timedelta(hours=1)
    managed.save()
    assert renewal.run_pass().ordered == 0
    assert renewal.run_pass(timezone.now() + dt.timedelta(hours=2)).ordered == 1


def test_an_operator_records_a_yes_given_by_phone(make_managed, operator):
    managed = make_managed(age_days=61)
    renewal.run_pass()
    yesterday = timezone.now() - DAY
    with pytest.raises(approvals.ApprovalError, match="who at the client"):
        approvals.record_approval(managed, actor=operator, given_by=" ", channel="phone")
    with pytest.raises(approvals.ApprovalError, match="phone, letter"):
        approvals.record_approval(managed, actor=operator, given_by="山田", channel="portal")
    approval = approvals.record_approval(
        managed, actor=operator, given_by="山田太郎", channel="phone", at=yesterday, note="TEL"
    )
    assert approval.state == ApprovalState.APPROVED
    assert (approval.given_by, approval.channel) == ("山田太郎", "phone")
    assert approval.decided_at == yesterday and approval.decided_by == operator
    assert Approval.objects.filter(managed=managed).count() == 1  # it answered the request
    event = AuditEvent.objects.get(action="approval.approve")
    assert event.actor == operator and event.changes["given_by"] == "山田太郎"
    assert renewal.run_pass().ordered == 1


def test_a_yes_can_be_recorded_before_the_renewal_is_due(make_managed, operator):
    managed = make_managed(age_days=10)
    approvals.record_approval(managed, actor=operator, given_by="Jane Smith", channel="letter")
    assert renewal.run_pass().ordered == 0  # not due yet
    assert renewal.run_pass(timezone.now() + 51 * DAY).ordered == 1
    assert not Notice.objects.filter(kind=NoticeKind.APPROVAL_REQUESTED).exists()


def test_people_without_the_right_cannot_decide(make_managed, member, outsider, subcontractor):
    managed = make_managed(age_days=61)
    renewal.run_pass()
    approval = Approval.objects.get(managed=managed)
    from django.core.exceptions import PermissionDenied

    for user in (member, outsider):
        with pytest.raises(PermissionDenied):
            approvals.approve(approval, actor=user, channel="portal")
    approval.refresh_from_db()
    assert approval.state == ApprovalState.REQUESTED
    # The subcontractor assigned to acme records on the client's behalf.
    approvals.approve(approval, actor=subcontractor, channel="email", given_by="Jane Smith")


def test_the_client_hears_once_that_the_renewed_certificate_is_installed(
    make_managed, renewal_ca, smtp
):
    from mamori.lifecycle.models import Deployment, DeploymentState, DeploymentTarget, TargetKind

    managed = make_managed(age_days=61, instruction=RenewalInstruction.STANDING)
    target = DeploymentTarget.objects.create(
        managed=managed, name="web01", kind=TargetKind.LOCAL, key_path="/etc/ssl/www.key"
    )
    renewal.run_pass()
    previous = managed.certificate
    new = give_certificate(managed, renewal_ca, lifetime_days=90)
    renewal.run_pass()
    assert not Notice.objects.filter(kind=NoticeKind.CERT_INSTALLED).exists()  # not served yet
    deployment = Deployment.objects.filter(target=target, certificate=new).first()
    if deployment is None:
        deployment = Deployment.objects.create(target=target, certificate=new)
    Deployment.objects.filter(pk=deployment.pk).update(state=DeploymentState.SUCCEEDED)
    renewal.run_pass()
    renewal.run_pass()
    deliver_due()
    installed = [m for m in smtp.messages if "renewed" in m.subject or "更新しました" in m.subject]
    assert {m.to for m in installed} == {"yamada@acme.example", "jane@acme.example"}
    english = next(m for m in installed if m.to == "jane@acme.example").text()
    assert new.serial in english and previous.serial in english and "web01" in english


def test_a_request_recorded_before_a_crash_is_still_sent_once(make_managed):
    managed = make_managed(age_days=61)
    renewal.schedule(managed)
    # The request row was recorded, then the process died before queueing its notices.
    approval = Approval.objects.create(managed=managed, renewal_of=managed.certificate)
    renewal.run_pass()
    renewal.run_pass()
    asked = Notice.objects.filter(kind=NoticeKind.APPROVAL_REQUESTED)
    assert sorted(n.recipient for n in asked) == ["jane@acme.example", "yamada@acme.example"]
    assert all(f"approval:{approval.pk}:request" in n.key for n in asked)
    assert Approval.objects.filter(managed=managed).count() == 1


def test_no_path_orders_a_renewal_without_the_instruction(make_managed, operator, client):
    """CERT-04 holds wherever an order comes from: the order itself refuses a renewal that has
    neither a standing instruction nor the client's yes, and so does the commercial-CA page."""
    from mamori.lifecycle import manual, orders

    managed = make_managed(age_days=61)  # the contract says: approval
    with pytest.raises(orders.InstructionMissing):
        orders.create_order(managed)
    with pytest.raises(orders.InstructionMissing):
        manual.create_manual_order(managed, actor=operator)
    client.force_login(operator)
    response = client.post(reverse("order_new", args=[managed.pk]), follow=True)
    assert "needs the client&#x27;s approval first" in response.content.decode()
    assert not managed.orders.filter(purpose=OrderPurpose.RENEW).exists()
    # A first issue and a re-issue the client asked for are orders the client gave.
    assert orders.create_order(managed, OrderPurpose.REISSUE).purpose == OrderPurpose.REISSUE
    # With the yes recorded, the renewal is ordered, once.
    managed.orders.update(state=OrderState.CANCELED)
    approvals.record_approval(managed, actor=operator, given_by="Yamada", channel="phone")
    order = manual.create_manual_order(managed, actor=operator)
    assert order.purpose == OrderPurpose.RENEW
    assert Approval.objects.get(pk=order.approval_id).state == ApprovalState.USED


def test_a_new_certificate_withdraws_the_request_and_the_next_renewal_asks_afresh(
    make_managed, renewal_ca
):
    from mamori.lifecycle import orders

    managed = make_managed(age_days=61)  # approval; due
    now = timezone.now()
    renewal.run_pass(now)
    first = Approval.objects.get(managed=managed)
    assert first.state == ApprovalState.REQUESTED
    # Meanwhile the certificate is re-issued (say after a revocation the client asked for).
    orders.create_order(managed, OrderPurpose.REISSUE)
    give_certificate(managed, renewal_ca, lifetime_days=90, age_days=61)
    first.refresh_from_db()
    assert first.state == ApprovalState.WITHDRAWN
    # The new certificate is due as well: the client is asked about it, not about the old one.
    assert renewal.run_pass(now).asked == 1
    second = Approval.objects.get(managed=managed, state=ApprovalState.REQUESTED)
    assert second.renewal_of == managed.certificate != first.renewal_of
