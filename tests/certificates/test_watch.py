"""The certificate watch end to end: real nginx endpoints, a real SMTP server, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from mamori.certificates.models import Certificate, CertificateEvent, CertificateSighting, EventKind
from mamori.inventory.models import Endpoint, EndpointState
from mamori.notices.models import Notice, NoticeKind, NoticeState

pytestmark = pytest.mark.django_db


def issued(ca, name: str, *, age_days: float, lifetime_days: float = 90):
    now = timezone.now()
    return ca.issue(
        [name],
        not_before=now - dt.timedelta(days=age_days),
        not_after=now - dt.timedelta(days=age_days) + dt.timedelta(days=lifetime_days),
    )


def runchecks() -> dict:
    out = StringIO()
    call_command("runchecks", "--once", "--json", stdout=out)
    return json.loads(out.getvalue())


def make_due() -> None:
    """Make every endpoint due now, as if its interval had passed."""
    Endpoint.objects.update(next_check_at=timezone.now())


def write_inventory(tmp_path, port: int, bundle: str):
    path = tmp_path / "clients.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            clients:
              - code: sample
                name: 株式会社サンプル
                contacts:
                  - {{name: 山田太郎, email: yamada@sample.example, language: ja,
                      notify: [certificates, incidents]}}
                  - {{name: Jane Smith, email: jane@sample.example, language: en,
                      notify: [certificates]}}
                  - {{name: 経理部, email: keiri@sample.example, language: ja, notify: [contracts]}}
                contracts:
                  - {{type: ssl_management, start: 2026-04-01, renewal_policy: approval,
                      expiry_notice_days: [60, 30, 14, 7, 1]}}
                endpoints:
                  - host: 127.0.0.1
                    port: {port}
                    sni: www.sample.example
                    trust_bundle: |
            """
        )
        + textwrap.indent(bundle, " " * 26)
    )
    return path


@pytest.mark.req("CERT-01")
@pytest.mark.req("CERT-03")
@pytest.mark.req("CERT-14")
@pytest.mark.req("NOT-01")
@pytest.mark.req("NOT-02")
def test_it_warns_the_right_people_once_and_follows_a_replaced_certificate(
    tmp_path, nginx, test_ca, issuing_ca, smtp, operator
):
    # A 90-day certificate with 10 days left: the contract's 14-day notice is due.
    first = issued(issuing_ca, "www.sample.example", age_days=79.5)
    port = nginx.add_site("www", cert=first)
    nginx.start()
    call_command(
        "import", str(write_inventory(tmp_path, port, test_ca.cert_pem)), stdout=StringIO()
    )
    endpoint = Endpoint.objects.get()

    report = runchecks()

    assert report["checked"] == 1
    received = sorted((m.to, m.subject) for m in smtp.messages)
    assert [to for to, _ in received] == sorted(
        ["yamada@sample.example", "jane@sample.example", operator.email]
    )
    by_to = {m.to: m for m in smtp.messages}
    assert "残り10日" in by_to["yamada@sample.example"].subject
    assert "山田太郎 様" in by_to["yamada@sample.example"].text()
    # The days actually left, not the schedule's threshold (the 14-day notice).
    assert "残り10日" in by_to["yamada@sample.example"].text()
    assert "14日前" not in by_to["yamada@sample.example"].text()
    assert "expires in 10 days" in by_to["jane@sample.example"].subject
    assert "Dear Jane Smith" in by_to["jane@sample.example"].text()
    assert by_to["jane@sample.example"].html().startswith("<!DOCTYPE html>")
    # The inventory knows the certificate and who serves it.
    cert = Certificate.objects.get()
    assert cert.fingerprint_sha256 == first.fingerprint_sha256
    assert cert.sans == ["www.sample.example"]
    assert cert.issuer_cn == "Mamori Watch Test Issuing CA"
    endpoint.refresh_from_db()
    assert endpoint.current_certificate == cert
    assert endpoint.problems == ["expiring_soon"]
    # Every notice is on record with recipients, content, time and delivery result.
    notices = Notice.objects.filter(kind=NoticeKind.CERT_EXPIRING)
    assert notices.count() == 3
    assert all(n.state == NoticeState.SENT and n.sent_at and n.body_text for n in notices)

    # A second run, even with the endpoint due again, sends nothing.
    smtp.clear()
    make_due()
    assert runchecks()["checked"] == 1
    assert smtp.messages == []

    # Someone replaces the certificate with a fresh one: operators are told (CERT-14), the
    # client is not, and no expiry notice goes out for the new certificate.
    fresh = issued(issuing_ca, "www.sample.example", age_days=1)
    nginx.replace_cert("www", fresh)
    nginx.reload()
    make_due()
    runchecks()
    assert [(m.to, "差し替え" in m.subject) for m in smtp.messages] == [(operator.email, True)]
    replaced = CertificateEvent.objects.get(kind=EventKind.REPLACED)
    assert replaced.unmanaged and replaced.previous_certificate == cert
    history = CertificateSighting.objects.filter(endpoint=endpoint).order_by("first_seen_at")
    assert [s.certificate.fingerprint_sha256 for s in history] == [
        first.fingerprint_sha256,
        fresh.fingerprint_sha256,
    ]
    assert history[0].ended_at is not None and history[1].ended_at is None

    # The schedule follows the new certificate: when the one now served is close to expiry,
    # its own notices go out, once.
    smtp.clear()
    late = issued(issuing_ca, "www.sample.example", age_days=83.5)
    nginx.replace_cert("www", late)
    nginx.reload()
    make_due()
    runchecks()
    subjects = sorted(m.subject.strip() for m in smtp.messages)
    expiry_ja = "【SSL証明書 有効期限のお知らせ】www.sample.example の有効期限まで残り6日です"
    replaced_ja = (
        f"【証明書の差し替えを検知】127.0.0.1:{port} (www.sample.example)（株式会社サンプル）"
    )
    assert subjects == sorted(
        [
            expiry_ja,  # to yamada
            expiry_ja,  # to the operator
            "[Certificate expiry] www.sample.example expires in 6 days",  # to jane
            replaced_ja,  # to the operator
        ]
    )
    late_notices = Notice.objects.filter(
        kind=NoticeKind.CERT_EXPIRING, certificate__fingerprint_sha256=late.fingerprint_sha256
    )
    assert late_notices.count() == 3
    smtp.clear()
    make_due()
    runchecks()
    assert smtp.messages == []


@pytest.mark.req("CERT-02")
@pytest.mark.req("NOT-01")
def test_it_notifies_a_broken_endpoint_once_per_state_change(
    nginx, test_ca, issuing_ca, smtp, acme, operator
):
    expired = issued(issuing_ca, "shop.acme.example", age_days=95)
    port = nginx.add_site("shop", cert=expired)
    nginx.start()
    endpoint = Endpoint.objects.create(
        client=acme,
        host="127.0.0.1",
        port=port,
        sni="shop.acme.example",
        trust_bundle=test_ca.cert_pem,
    )

    runchecks()
    endpoint.refresh_from_db()
    assert endpoint.state == EndpointState.PROBLEM and endpoint.problems == ["expired"]
    problem = smtp.messages
    # Contacts receiving certificate notices (ja and en) and the operator; not the accountant.
    assert sorted(m.to for m in problem) == sorted(
        ["yamada@acme.example", "jane@acme.example", operator.email]
    )
    by_to = {m.to: m for m in problem}
    assert by_to["yamada@acme.example"].subject.strip().endswith("(shop.acme.example): 期限切れ")
    assert by_to["jane@acme.example"].subject.strip().endswith("(shop.acme.example): Expired")
    # Clients read the problem in their language; the probe's technical detail (English) goes
    # to English readers and to operators only.
    assert "証明書の有効期限が切れています" in by_to["yamada@acme.example"].text()
    assert "certificate expired" not in by_to["yamada@acme.example"].text()
    assert "Detail: certificate expired" in by_to["jane@acme.example"].text()
    assert "技術的な詳細（英語）: certificate expired" in by_to[operator.email].text()

    smtp.clear()
    make_due()
    runchecks()
    assert smtp.messages == []

    nginx.replace_cert("shop", issued(issuing_ca, "shop.acme.example", age_days=1))
    nginx.reload()
    make_due()
    runchecks()
    endpoint.refresh_from_db()
    assert endpoint.state == EndpointState.OK and endpoint.problems == []
    assert sorted(
        m.to for m in smtp.messages if "解消" in m.subject or "Resolved" in m.subject
    ) == sorted(["yamada@acme.example", "jane@acme.example", operator.email])


@pytest.mark.req("CERT-02")
def test_it_confirms_a_connection_failure_before_telling_anyone(
    nginx, test_ca, issuing_ca, smtp, acme
):
    port = nginx.add_site("www", cert=issued(issuing_ca, "www.acme.example", age_days=1))
    nginx.start()
    endpoint = Endpoint.objects.create(
        client=acme,
        host="127.0.0.1",
        port=port,
        sni="www.acme.example",
        trust_bundle=test_ca.cert_pem,
    )
    runchecks()
    endpoint.refresh_from_db()
    assert endpoint.state == EndpointState.OK

    nginx.stop()
    make_due()
    runchecks()
    endpoint.refresh_from_db()
    assert endpoint.state == EndpointState.OK and endpoint.pending_problems == ["unreachable"]
    assert smtp.messages == []
    # The confirmation check comes within minutes, not hours.
    assert endpoint.next_check_at - timezone.now() < dt.timedelta(minutes=6)

    make_due()
    runchecks()
    endpoint.refresh_from_db()
    assert endpoint.state == EndpointState.PROBLEM and endpoint.problems == ["unreachable"]
    assert len(smtp.messages) == 2
    assert endpoint.current_certificate is not None  # what it served before stays on record


def test_it_checks_a_new_endpoint_at_once_and_then_on_its_interval(
    nginx, test_ca, issuing_ca, acme
):
    port = nginx.add_site("www", cert=issued(issuing_ca, "www.acme.example", age_days=1))
    nginx.start()
    endpoint = Endpoint.objects.create(
        client=acme,
        host="127.0.0.1",
        port=port,
        sni="www.acme.example",
        trust_bundle=test_ca.cert_pem,
        check_interval=3600,
    )
    assert runchecks()["checked"] == 1
    assert runchecks()["checked"] == 0
    endpoint.refresh_from_db()
    delay = endpoint.next_check_at - endpoint.last_checked_at
    assert dt.timedelta(minutes=59) < delay <= dt.timedelta(hours=1)


@pytest.mark.req("MON-02")
def test_a_new_endpoint_whose_name_does_not_resolve_is_shown_unreachable_at_once(smtp, acme):
    endpoint = Endpoint.objects.create(client=acme, host="no-such-host.invalid")
    runchecks()
    endpoint.refresh_from_db()
    # Shown as the problem the check found, as `mamori scan` shows it, not "not checked yet"...
    assert endpoint.state == EndpointState.PROBLEM and endpoint.problems == ["unreachable"]
    # ... while the notice waits for the confirmation (MON-02).
    assert not CertificateEvent.objects.filter(endpoint=endpoint).exists()
    assert smtp.messages == []
    make_due()
    runchecks()
    endpoint.refresh_from_db()
    assert endpoint.state == EndpointState.PROBLEM and endpoint.problems == ["unreachable"]
    assert endpoint.pending_problems is None
    assert CertificateEvent.objects.filter(endpoint=endpoint, kind=EventKind.PROBLEM).count() == 1
    assert smtp.messages
