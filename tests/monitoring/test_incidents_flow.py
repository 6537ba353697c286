"""An outage from the first failed run to the recovery notice, against real servers on loopback:
nginx is the client's site, a real SMTP server and a JSON webhook receiver take the notices
(MON-02, MON-03, MON-04)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from mamori.monitoring import incidents
from mamori.monitoring.models import (
    CheckState,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentState,
)
from mamori.monitoring.services import record_result, run_due
from mamori.notices import services as notices
from mamori.notices.models import Channel, Notice, NoticeKind, NoticeState
from mamori.notices.templatetags.notice_text import duration_text
from mamori.probe.checks_result import CheckError, CheckResult

pytestmark = pytest.mark.django_db(databases="__all__")

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def recipients(acme, operator, hooks, settings):
    """Two contacts receive incidents (yamada in Japanese by e-mail and on a webhook, jane in
    English by e-mail), plus an operator by e-mail and the operators' chat channel."""
    settings.MAMORI_OPERATOR_CHANNELS = [hooks.url("/operators")]
    jane = acme.contacts.get(email="jane@acme.example")
    jane.notify = ["certificates", "incidents"]
    jane.save()
    yamada = acme.contacts.get(email="yamada@acme.example")
    notices.add_contact_channel(
        yamada,
        kind=Channel.WEBHOOK,
        label="監視ボット",
        secret=hooks.url("/acme"),
        topics=["incidents"],
        actor=operator,
    )
    return acme


def mail_to(smtp, address: str):
    return [m for m in smtp.messages if m.to == address]


@pytest.mark.req("MON-02")
@pytest.mark.req("MON-03")
@pytest.mark.req("MON-04")
def test_an_outage_is_notified_once_and_its_recovery_once(
    recipients, acme_site, nginx, web, smtp, hooks, make_check
):
    check = make_check(acme_site.client, "http", {"url": web, "keyword": "Welcome"}, site=acme_site)
    assert (check.failures_to_confirm, check.recoveries_to_confirm) == (2, 2)
    run_due(T0)
    nginx.stop()

    run_due(T0 + MINUTE)  # the first failure: nothing yet
    check.refresh_from_db()
    assert check.state == CheckState.UP and check.consecutive_failures == 1
    assert not Incident.objects.exists() and not Notice.objects.exists()

    run_due(T0 + 2 * MINUTE)  # confirmed
    incident = Incident.objects.get()
    assert (incident.state, incident.uptime_check, incident.site) == ("open", check, acme_site)
    assert (incident.started_at, incident.confirmed_at) == (T0 + MINUTE, T0 + 2 * MINUTE)
    # One notice per recipient and channel: 3 e-mails, the contact's and the operators' hooks.
    assert notices.deliver_due().sent == 5
    assert sorted(m.to for m in smtp.messages) == [
        "jane@acme.example",
        "operator@provider.example",
        "yamada@acme.example",
    ]
    assert len(hooks.to("/acme")) == 1 and len(hooks.to("/operators")) == 1

    # The outage goes on: more failed runs and more deliveries send nothing more.
    for minute in (3, 4, 5):
        run_due(T0 + minute * MINUTE)
        assert notices.deliver_due().sent == 0
    assert len(smtp.messages) == 3 and len(hooks.received) == 2
    assert Incident.objects.count() == 1

    [ja] = mail_to(smtp, "yamada@acme.example")
    assert incident.title in ja.subject and "障害" in ja.subject
    assert "山田太郎 様" in ja.text() and "障害が発生しております" in ja.text()
    assert "2026年11月20日 10:01" in ja.text()  # started, in Tokyo time
    [en] = mail_to(smtp, "jane@acme.example")
    assert incident.title in en.subject and "is down" in en.subject
    assert "Dear Jane Smith" in en.text() and incident.title in en.text()
    [ops] = mail_to(smtp, "operator@provider.example")
    assert "運用担当各位" in ops.text()
    # The technical detail (in English) is for the operators, not the client.
    detail = incident.events.get(kind=IncidentEventKind.CONFIRMED).text
    assert detail and detail in ops.text() and detail not in ja.text()
    assert incident.get_absolute_url() in ops.text()
    [hook] = hooks.to("/acme")
    assert incident.title in hook.body["title"] and "山田太郎 様" in hook.body["message"]

    nginx.start()
    run_due(T0 + 6 * MINUTE)  # the first success: not confirmed yet
    incident.refresh_from_db()
    assert incident.state == IncidentState.OPEN
    assert notices.deliver_due().sent == 0

    run_due(T0 + 7 * MINUTE)  # recovery confirmed
    incident.refresh_from_db()
    assert incident.state == IncidentState.RECOVERED
    assert incident.recovered_at == T0 + 6 * MINUTE
    assert incident.downtime() == 5 * MINUTE
    assert notices.deliver_due().sent == 5
    for minute in (8, 9):
        run_due(T0 + minute * MINUTE)
        assert notices.deliver_due().sent == 0
    assert len(smtp.messages) == 6 and len(hooks.to("/acme")) == 2
    assert len(hooks.to("/operators")) == 2
    recovered = [m for m in smtp.messages if m.to == "yamada@acme.example"][1]
    assert incident.title in recovered.subject and "復旧" in recovered.subject
    with translation.override("ja"):
        assert "復旧いたしました" in recovered.text()
        assert duration_text(5 * MINUTE) in recovered.text()
    [en_recovered] = mail_to(smtp, "jane@acme.example")[1:]
    assert "has recovered" in en_recovered.text() and "5 min" in en_recovered.text()

    # The timeline (MON-03): detected at the first failure, confirmed and notified at the
    # second, recovered at the first success, the recovery notified at its confirmation.
    timeline = list(incident.events.values_list("kind", "at"))
    assert timeline == [
        (IncidentEventKind.DETECTED, T0 + MINUTE),
        (IncidentEventKind.CONFIRMED, T0 + 2 * MINUTE),
        (IncidentEventKind.NOTIFIED, T0 + 2 * MINUTE),
        (IncidentEventKind.RECOVERED, T0 + 6 * MINUTE),
        (IncidentEventKind.RECOVERY_NOTIFIED, T0 + 7 * MINUTE),
    ]
    notified = incident.events.get(kind=IncidentEventKind.NOTIFIED)
    assert notified.data == {"notices": 5, "to_contacts": 3}
    # Every notice is recorded, linked to the incident and sent (MON-04).
    sent = Notice.objects.filter(incident=incident)
    assert sent.count() == 10 and {n.state for n in sent} == {NoticeState.SENT}
    assert sorted(set(sent.values_list("kind", flat=True))) == [
        NoticeKind.INCIDENT_OPENED,
        NoticeKind.INCIDENT_RECOVERED,
    ]


def down(detail: str = "connection refused") -> CheckResult:
    return CheckResult.down(1.0, CheckError.CONNECTION_REFUSED, detail)


@pytest.fixture
def confirmed_down(acme, operator, make_check):
    """A check whose failure was just confirmed at T0 + 1 min, and its incident."""
    check = make_check(acme, "tcp", {"host": "127.0.0.1", "port": 9}, failures_to_confirm=1)
    record_result(check, CheckResult.up(1.0, "connected"), T0)
    record_result(check, down(), T0 + MINUTE)
    check.refresh_from_db()
    assert check.state == CheckState.DOWN
    return check, Incident.objects.get()


@pytest.mark.req("MON-02")
def test_a_second_worker_or_a_retry_opens_no_second_incident(confirmed_down):
    check, incident = confirmed_down
    notices_before = Notice.objects.count()
    events_before = IncidentEvent.objects.count()

    # The same slot recorded again (a batch handed out twice): nothing happens.
    assert record_result(check, down(), T0 + MINUTE) is None
    # evaluate run again, as a retry would.
    incidents.evaluate(check, down(), T0 + MINUTE, True)
    # A worker that looked before the incident existed and inserts after: it finds the open one.
    assert incidents._open_or_reopen(check, down(), T0 + MINUTE) == incident
    # And the database itself refuses a second open incident for the check.
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(
            client=check.client, uptime_check=check, title="again", started_at=T0
        )

    assert list(Incident.objects.all()) == [incident]
    assert Notice.objects.count() == notices_before
    assert IncidentEvent.objects.count() == events_before


@pytest.mark.req("MON-02")
def test_an_up_check_that_did_not_change_costs_no_query(
    acme, make_check, django_assert_num_queries
):
    check = make_check(acme, "tcp", {"host": "127.0.0.1", "port": 9})
    record_result(check, CheckResult.up(1.0, "connected"), T0)
    with django_assert_num_queries(0):
        incidents.evaluate(check, CheckResult.up(1.0, "connected"), T0 + MINUTE, False)


@pytest.mark.req("MON-02")
def test_a_check_that_stays_down_costs_one_query(confirmed_down, django_assert_num_queries):
    check, _ = confirmed_down
    with django_assert_num_queries(1):
        incidents.evaluate(check, down(), T0 + 2 * MINUTE, False)
