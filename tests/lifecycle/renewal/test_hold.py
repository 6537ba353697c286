"""A renewal on hold waits for the client (CERT-05, CT-09): what is awaited and since when is
recorded and shown with the notices that asked for it, and nothing is ordered meanwhile."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.core.models import AuditEvent
from mamori.lifecycle import renewal
from mamori.lifecycle.models import Awaiting, OrderPurpose, RenewalInstruction
from mamori.notices.models import Notice, NoticeKind
from mamori.notices.services import deliver_due

pytestmark = [
    pytest.mark.django_db(databases=["default", "keystore"]),
    pytest.mark.req("CERT-05"),
    pytest.mark.req("CT-09"),
]


def test_a_hold_blocks_ordering_until_released(make_managed, operator, owner, client, smtp):
    managed = make_managed(age_days=61, instruction=RenewalInstruction.STANDING)
    before = timezone.now()
    managed = renewal.put_on_hold(
        managed, Awaiting.PAYMENT, "Invoice 2026-0412 is unpaid", actor=operator
    )
    assert managed.awaiting == Awaiting.PAYMENT and managed.awaiting_since >= before
    assert AuditEvent.objects.filter(action="managed.hold", actor=operator).exists()

    report = renewal.run_pass()
    assert report.on_hold == 1 and report.ordered == 0
    assert not managed.orders.filter(purpose=OrderPurpose.RENEW).exists()
    assert renewal.status_of(managed).code == "hold"

    # The client was asked, and the page lists what asked and since when.
    asked = Notice.objects.filter(kind=NoticeKind.RENEWAL_ON_HOLD)
    assert {n.recipient for n in asked} == {
        "yamada@acme.example",
        "jane@acme.example",
        "owner@acme.example",
    }
    assert all(n.key.startswith(renewal.notice_prefix(managed)) for n in asked)
    deliver_due()
    english = next(m for m in smtp.messages if m.to == "jane@acme.example")
    assert "Invoice 2026-0412 is unpaid" in english.text() and "Payment" in english.text()
    client.force_login(owner)
    page = client.get(reverse("managed_detail", args=[managed.pk])).content.decode()
    assert 'id="hold"' in page and "Invoice 2026-0412 is unpaid" in page
    assert (
        managed.awaiting_since.astimezone(timezone.get_current_timezone()).strftime(
            "%Y-%m-%d %H:%M"
        )
        in page
    )
    assert "jane@acme.example" in page  # the notice that asked

    # Holding again for the same thing keeps the time it started; nothing is ordered.
    again = renewal.put_on_hold(managed, Awaiting.PAYMENT, "reminder", actor=operator)
    assert again.awaiting_since == managed.awaiting_since
    assert renewal.run_pass(timezone.now() + dt.timedelta(days=3)).ordered == 0

    released = renewal.release_hold(managed, actor=operator)
    assert released.awaiting == "" and released.awaiting_since is None
    event = AuditEvent.objects.get(action="managed.release")
    assert event.changes["awaited"] == "payment" and event.changes["waited_seconds"] >= 0
    assert renewal.run_pass().ordered == 1


def test_a_renewal_cannot_be_ordered_by_hand_while_on_hold(make_managed, operator):
    managed = make_managed(age_days=61, instruction=RenewalInstruction.STANDING)
    renewal.put_on_hold(managed, Awaiting.DECISION, "", actor=operator, notify=False)
    managed.refresh_from_db()
    with pytest.raises(renewal.RenewalError, match="on hold"):
        renewal.renew_now(managed, actor=operator)
    assert not Notice.objects.exists()  # notify=False asks nobody


def test_it_holds_only_for_what_the_client_can_give(make_managed, operator):
    managed = make_managed()
    with pytest.raises(renewal.RenewalError, match="payment, information, decision"):
        renewal.put_on_hold(managed, "weather", "", actor=operator)
    with pytest.raises(renewal.RenewalError, match="not on hold"):
        renewal.release_hold(managed, actor=operator)
