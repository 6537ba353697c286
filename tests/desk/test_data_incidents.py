"""Personal-data incidents (ACC-04, 001 §14, 004 §35.11(8)): recorded with what, whose and when,
reported to the client at once through the outbox, the record kept."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from mamori.clients.models import Contact
from mamori.core.models import AuditEvent
from mamori.desk import waits
from mamori.desk.models import DataIncident
from mamori.desk.services import DeskError
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind

pytestmark = [pytest.mark.req("ACC-04"), pytest.mark.django_db(databases="__all__")]


def record(acme, actor, **extra):
    fields = {
        "kind": "loss",
        "what": "A printed list of contacts' names and phone numbers",
        "whose": "Jane Smith and 2 colleagues",
        "discovered_at": timezone.now() - dt.timedelta(hours=2),
        "occurred_at": timezone.now() - dt.timedelta(days=1),
        "actor": actor,
    }
    fields.update(extra)
    return waits.record_data_incident(acme, **fields)


def test_it_is_reported_to_the_client_at_once_and_the_record_is_kept(acme, operator, smtp):
    jane = Contact.objects.get(client=acme, name="Jane Smith")
    incident = record(acme, operator, contacts=[jane])
    assert incident.reported_at is not None
    queued = Notice.objects.filter(kind=NoticeKind.DATA_INCIDENT)
    # The contact who takes incident notices, and the operator; in one transaction with the row.
    assert sorted(n.recipient for n in queued) == sorted(["yamada@acme.example", operator.email])
    assert all(n.next_attempt_at <= timezone.now() for n in queued)
    assert notices.deliver_due().sent == 2
    to_client = [m for m in smtp.messages if m.rcpt_tos == ["yamada@acme.example"]]
    assert len(to_client) == 1
    text = to_client[0].message.get_body(("plain",)).get_content()
    assert "Jane Smith and 2 colleagues" in text and "個人情報" in text

    waits.add_measures(incident, operator, "The list was found and shredded.")
    incident.refresh_from_db()
    assert "A printed list" in incident.what
    assert incident.measures.endswith("The list was found and shredded.")
    actions = list(
        AuditEvent.objects.filter(object_id=str(incident.pk), object_type="desk.DataIncident")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == ["data_incident.record", "data_incident.measures"]
    # Nothing sends the report again.
    assert Notice.objects.filter(kind=NoticeKind.DATA_INCIDENT).count() == 2


def test_every_contact_is_told_when_none_takes_incident_notices(acme, operator):
    Contact.objects.filter(client=acme).update(notify=["certificates"])
    record(acme, operator)
    recipients = set(
        Notice.objects.filter(kind=NoticeKind.DATA_INCIDENT).values_list("recipient", flat=True)
    )
    assert {"yamada@acme.example", "jane@acme.example"} <= recipients


def test_bad_input_is_refused_precisely_and_nothing_is_stored(acme, operator, owner):
    cases = [
        ({"kind": "misplaced"}, "kind"),
        ({"what": " "}, "what"),
        ({"whose": ""}, "whose"),
        ({"discovered_at": timezone.now() + dt.timedelta(days=1)}, "discovered_at"),
        ({"occurred_at": timezone.now() - dt.timedelta(hours=1)}, "occurred_at"),
    ]
    for extra, field in cases:
        with pytest.raises(DeskError) as refused:
            record(acme, operator, **extra)
        assert refused.value.field == field
    with pytest.raises(PermissionDenied):
        record(acme, owner)
    assert not DataIncident.objects.exists()
    assert not Notice.objects.exists()


def test_the_client_administrator_reads_it_and_the_viewer_does_not(
    acme, operator, owner, member, client
):
    incident = record(acme, operator)
    client.force_login(owner)
    assert client.get(reverse("data_incident_detail", args=[incident.pk])).status_code == 200
    page = client.get(acme.get_absolute_url()).content.decode()
    assert incident.get_absolute_url() in page
    client.force_login(member)
    assert client.get(reverse("data_incident_detail", args=[incident.pk])).status_code == 403
    assert incident.get_absolute_url() not in client.get(acme.get_absolute_url()).content.decode()


def test_the_command_records_it_and_refuses_bad_input_in_one_line(acme):
    call_command(
        "desk",
        "data-incident",
        "acme",
        "--kind",
        "theft",
        "--what",
        "A laptop",
        "--whose",
        "acme staff",
        "--discovered",
        "2026-11-01T10:00",
    )
    incident = DataIncident.objects.get()
    assert incident.discovered_at == dt.datetime.fromisoformat("2026-11-01T10:00+09:00")
    with pytest.raises(CommandError) as refused:
        call_command(
            "desk",
            "data-incident",
            "acme",
            "--kind",
            "theft",
            "--what",
            "x",
            "--whose",
            "y",
            "--discovered",
            "yesterday",
        )
    assert refused.value.returncode == 2 and "\n" not in str(refused.value)
