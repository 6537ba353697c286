"""``/metrics`` for Prometheus: who may read it, and figures that match the database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mamori.certificates.models import Certificate, CertificateSighting
from mamori.core.tokens import create_token
from mamori.inventory.models import Endpoint
from mamori.lifecycle.models import IssuerKind, ManagedCertificate, Order, OrderState
from mamori.monitoring.models import Check, CheckState, Incident, IncidentState, Sample
from mamori.notices.models import Notice, NoticeKind, NoticeState, RecipientKind
from mamori.operations import metrics


def scrape(client, user=None, **headers):
    if user is not None:
        headers["Authorization"] = f"Bearer {create_token(user, 'prometheus')[1]}"
    return client.get("/metrics", headers=headers)


def parse(text: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}``, read by Prometheus' own parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def samples(response) -> dict[tuple[str, tuple], float]:
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def value(found, name: str, **labels) -> float:
    return found[(name, tuple(sorted(labels.items())))]


# --- who may read them ----------------------------------------------------------------------------


def test_it_asks_for_a_token_without_one(client, db):
    response = scrape(client)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"mamori_" not in response.content


def test_it_refuses_an_unknown_token(client, db):
    response = scrape(client, Authorization="Bearer mamori_not-a-real-token")
    assert response.status_code == 401


@pytest.mark.parametrize("who", ["owner", "member", "outsider", "subcontractor"])
def test_it_refuses_everyone_who_does_not_see_every_client(client, who, request):
    # Client users and subcontractors see some clients only; the figures count all of them.
    response = scrape(client, request.getfixturevalue(who))
    assert response.status_code == 403
    assert b"mamori_checks" not in response.content


@pytest.mark.parametrize(
    ("language", "says"), [("ja", "提供者の管理者とオペレーターだけ"), ("en", "administrators")]
)
def test_it_says_why_in_the_users_language(client, owner, language, says):
    owner.language = language
    owner.save()
    assert says in scrape(client, owner).content.decode()


@pytest.mark.parametrize("who", ["operator", "provider_admin"])
def test_it_answers_provider_administrators_and_operators(client, who, request):
    response = scrape(client, request.getfixturevalue(who))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert value(samples(response), "mamori_incidents", state="open") == 0


def test_it_answers_a_signed_in_operator_in_the_browser(client, operator):
    client.force_login(operator)
    assert samples(scrape(client))


def test_it_speaks_openmetrics_when_asked(client, operator):
    response = scrape(client, operator, Accept="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


def test_it_only_reads(client, operator):
    token = create_token(operator, "prometheus")[1]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/metrics", headers=headers).status_code == 405
    assert client.head("/metrics", headers=headers).status_code == 200


# --- what they say --------------------------------------------------------------------------------


def certificate(name: str, not_after: dt.datetime) -> Certificate:
    return Certificate.objects.create(
        fingerprint_sha256=name.encode().hex().ljust(64, "0")[:64],
        subject=f"CN={name}",
        subject_cn=name,
        issuer="CN=Test CA",
        serial=name.encode().hex(),
        not_before=not_after - dt.timedelta(days=90),
        not_after=not_after,
        key_type="EC",
        signature_algorithm="ecdsa-with-SHA256",
        pem="-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
    )


def serve(endpoint: Endpoint, cert: Certificate, ended: dt.datetime | None = None) -> None:
    now = timezone.now()
    CertificateSighting.objects.create(
        certificate=cert, endpoint=endpoint, first_seen_at=now, last_seen_at=now, ended_at=ended
    )


def notice(acme, key: str, state: str, channel: str = "email", age=dt.timedelta(0)) -> Notice:
    return Notice.objects.create(
        key=key,
        kind=NoticeKind.INCIDENT_OPENED,
        channel=channel,
        client=acme,
        recipient_kind=RecipientKind.CONTACT,
        recipient="yamada@acme.example",
        language="ja",
        subject="障害",
        body_text="障害が発生しました",
        state=state,
        created_at=timezone.now() - age,
    )


@pytest.fixture
def world(acme, globex):
    """Two clients' checks, incidents, notices, certificates and orders."""
    now = timezone.now()
    down1 = Check.objects.create(client=acme, name="www", kind="http", state=CheckState.DOWN)
    Check.objects.create(client=globex, name="shop", kind="http", state=CheckState.DOWN)
    Check.objects.create(client=acme, name="smtp", kind="tcp", state=CheckState.UP)
    Check.objects.create(client=acme, name="old", kind="http", state=CheckState.DOWN, enabled=False)
    Check.objects.create(client=globex, name="dns", kind="dns")
    # The down checks missed their slot two minutes ago and no worker holds them.
    Check.objects.filter(state=CheckState.DOWN, enabled=True).update(
        next_run_at=now - dt.timedelta(minutes=2)
    )
    Sample.objects.create(
        uptime_check=down1, at=now - dt.timedelta(seconds=30), ok=False, duration_ms=1000
    )
    Sample.objects.create(
        uptime_check=down1, at=now - dt.timedelta(seconds=90), ok=True, duration_ms=200
    )
    Sample.objects.create(
        uptime_check=down1, at=now - dt.timedelta(minutes=20), ok=True, duration_ms=9000
    )

    Incident.objects.create(client=acme, uptime_check=down1, title="www down", started_at=now)
    Incident.objects.create(
        client=globex, title="recovered", state=IncidentState.RECOVERED, started_at=now
    )
    Incident.objects.create(
        client=acme, title="old", state=IncidentState.CLOSED, started_at=now, closed_at=now
    )

    notice(acme, "queued", NoticeState.PENDING, age=dt.timedelta(minutes=10))
    notice(acme, "retrying", NoticeState.RETRY, channel="slack")
    notice(acme, "gave-up", NoticeState.FAILED, channel="slack")
    notice(acme, "sent", NoticeState.SENT)

    www = Endpoint.objects.create(client=acme, host="www.acme.example", port=443)
    mail = Endpoint.objects.create(client=acme, host="mail.acme.example", port=443)
    shop = Endpoint.objects.create(client=globex, host="shop.globex.example", port=443)
    soon = certificate("soon", now + dt.timedelta(days=5))
    serve(www, soon)
    serve(mail, soon)  # one certificate on two endpoints counts once
    serve(shop, certificate("expired", now - dt.timedelta(days=1)))
    serve(shop, certificate("replaced", now - dt.timedelta(days=300)), ended=now)  # not served
    certificate("unrelated", now + dt.timedelta(days=20))  # neither served nor managed
    managed = ManagedCertificate.objects.create(
        client=acme,
        name="api",
        names=["api.acme.example"],
        certificate=certificate("managed", now + dt.timedelta(days=45)),
    )
    Order.objects.create(
        managed=managed, purpose="renew", issuer=IssuerKind.ACME, state=OrderState.FAILED
    )
    Order.objects.create(
        managed=managed, purpose="renew", issuer=IssuerKind.ACME, state=OrderState.AUTHORIZING
    )
    return now


def test_it_counts_checks_by_kind_and_state(client, operator, world):
    found = samples(scrape(client, operator))
    assert value(found, "mamori_checks", kind="http", state="down") == 2
    assert value(found, "mamori_checks", kind="http", state="paused") == 1
    assert value(found, "mamori_checks", kind="tcp", state="up") == 1
    assert value(found, "mamori_checks", kind="dns", state="unknown") == 1
    assert value(found, "mamori_checks", kind="icmp", state="down") == 0
    assert value(found, "mamori_checks_late") == 2


def test_it_sums_the_runs_of_the_last_five_minutes_by_kind(client, operator, world):
    found = samples(scrape(client, operator))
    assert value(found, "mamori_check_runs_recent", kind="http") == 2
    assert value(found, "mamori_check_failed_runs_recent", kind="http") == 1
    assert value(found, "mamori_check_duration_avg_seconds", kind="http") == pytest.approx(0.6)
    assert value(found, "mamori_check_duration_max_seconds", kind="http") == pytest.approx(1.0)
    assert value(found, "mamori_check_runs_recent", kind="tcp") == 0
    assert ("mamori_check_duration_avg_seconds", (("kind", "tcp"),)) not in found


def test_it_counts_incidents_not_yet_closed(client, operator, world):
    found = samples(scrape(client, operator))
    assert value(found, "mamori_incidents", state="open") == 1
    assert value(found, "mamori_incidents", state="recovered") == 1
    assert value(found, "mamori_incidents_unacknowledged") == 1


def test_it_shows_the_outbox_backlog_and_failures(client, operator, world):
    found = samples(scrape(client, operator))
    assert value(found, "mamori_notices", state="pending", channel="email") == 1
    assert value(found, "mamori_notices", state="retry", channel="slack") == 1
    assert value(found, "mamori_notices", state="failed", channel="slack") == 1
    assert value(found, "mamori_notices", state="sent", channel="email") == 1
    assert value(found, "mamori_notices", state="pending", channel="slack") == 0
    oldest = value(found, "mamori_notice_oldest_waiting_seconds", state="pending")
    assert 600 <= oldest < 700
    assert value(found, "mamori_notice_oldest_waiting_seconds", state="retry") < 60


def test_it_buckets_watched_certificates_by_days_left(client, operator, world):
    found = samples(scrape(client, operator))
    buckets = {
        label: value(found, "mamori_certificates", days_left=label)
        for label, _, _ in metrics.DAYS_LEFT_BUCKETS
    }
    assert buckets == {"expired": 1, "0-7": 1, "7-14": 0, "14-30": 0, "30-60": 1, "60+": 0}


def test_it_counts_orders_and_deployments_by_state(client, operator, world):
    found = samples(scrape(client, operator))
    assert value(found, "mamori_certificate_orders", issuer="acme", state="failed") == 1
    assert value(found, "mamori_certificate_orders", issuer="acme", state="authorizing") == 1
    assert value(found, "mamori_certificate_orders", issuer="manual", state="under_review") == 0
    assert value(found, "mamori_certificate_deployments", state="failed") == 0


def test_it_reports_the_background_jobs_it_is_given(db):
    finished = dt.datetime(2026, 5, 1, 3, 0, tzinfo=dt.UTC)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        metrics.MamoriCollector(jobs=lambda: [metrics.JobRunRow("renewals", 12, 2, 3.5, finished)])
    )
    found = parse(generate_latest(registry).decode())
    assert value(found, "mamori_job_runs_total", job="renewals") == 12
    assert value(found, "mamori_job_failures_total", job="renewals") == 2
    assert value(found, "mamori_job_last_duration_seconds", job="renewals") == 3.5
    assert value(found, "mamori_job_last_finished_timestamp_seconds", job="renewals") == (
        finished.timestamp()
    )


def test_it_reports_the_runs_the_jobs_registry_recorded(client, operator):
    from mamori.operations import jobs

    outcome = jobs.run_job(jobs.REGISTRY["notice_delivery"])
    assert outcome.ran and not outcome.error
    found = samples(scrape(client, operator))
    assert value(found, "mamori_job_runs_total", job="notice_delivery") == 1
    assert value(found, "mamori_job_failures_total", job="notice_delivery") == 0
    assert value(found, "mamori_job_last_duration_seconds", job="notice_delivery") >= 0
    # A registered job that never ran is there with no runs, so an alert can see it stall.
    assert value(found, "mamori_job_runs_total", job="sla_months") == 0


def test_it_asks_the_database_a_fixed_number_of_times(acme, world, django_assert_num_queries):
    Check.objects.bulk_create(
        Check(client=acme, name=f"c{n}", kind="http", state=CheckState.UP) for n in range(50)
    )
    with django_assert_num_queries(9):
        list(metrics.registry().collect())
