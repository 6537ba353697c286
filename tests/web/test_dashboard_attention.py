"""The dashboard is the one place to look (issue 15): everything that needs attention in one list,
most urgent first, for the provider's staff and for a client's users (only their own things,
nothing of the provider's); the clients list counts a down check as down; a check's page and the
check list show the recent results as heartbeat bars and the raw results before the roll-up."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.clients.models import Client, Contact
from mamori.lifecycle.models import (
    Approval,
    ApprovalState,
    IssuerKind,
    ManagedCertificate,
)
from mamori.monitoring.models import Check, CheckState, Incident, IncidentState, Rollup, Sample


def page(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def attention(body: str) -> str:
    return body.split('id="attention"')[1].split("</section>")[0]


def row_of(listed: str, text: str) -> str:
    """The attention list's row that names ``text``."""
    (row,) = [li for li in listed.split("<li ")[1:] if text in li]
    return row


def kinds(body: str) -> list[str]:
    return re.findall(r'data-kind="([a-z_]+)"', attention(body))


def down_check(client: Client, name: str, *, hours: float = 2) -> Check:
    return Check.objects.create(
        client=client,
        name=name,
        kind="http",
        settings={"url": "http://127.0.0.1:9/"},
        state=CheckState.DOWN,
        state_changed_at=timezone.now() - dt.timedelta(hours=hours),
        last_run_at=timezone.now(),
    )


def open_incident(check: Check, title: str) -> Incident:
    return Incident.objects.create(
        client=check.client,
        uptime_check=check,
        title=title,
        state=IncidentState.OPEN,
        started_at=check.state_changed_at,
        confirmed_at=check.state_changed_at,
    )


@pytest.fixture
def attention_scene(scene):
    """On top of the page tests' scene: acme's shop is down with an incident open, its API check
    is down in a maintenance-like silence (no incident), a renewal is overdue, one approval was
    declined and one is still asked; globex has an incident of its own."""
    now = timezone.now()
    shop = down_check(scene.acme, "ショップ HTTP", hours=3)
    open_incident(shop, "ショップが応答しません")
    down_check(scene.acme, "API ポート", hours=1)
    globex_check = down_check(scene.globex, "Globex web", hours=5)
    open_incident(globex_check, "Globex のサイト停止")
    overdue = ManagedCertificate.objects.create(
        client=scene.acme,
        name="www 証明書",
        names=["www.acme.example"],
        issuer=IssuerKind.MANUAL,
        certificate=scene.expiring_cert,
        renew_at=now - dt.timedelta(days=10),
    )
    declined = ManagedCertificate.objects.create(
        client=scene.acme,
        name="shop 証明書",
        names=["shop.acme.example"],
        issuer=IssuerKind.MANUAL,
        certificate=scene.wrong_cert,
    )
    Approval.objects.create(
        managed=declined,
        renewal_of=scene.wrong_cert,
        state=ApprovalState.DECLINED,
        requested_at=now - dt.timedelta(days=3),
        decided_at=now - dt.timedelta(days=1),
    )
    asked = Approval.objects.create(
        managed=overdue,
        renewal_of=scene.expiring_cert,
        state=ApprovalState.REQUESTED,
        requested_at=now - dt.timedelta(days=2),
    )
    return {"overdue": overdue, "declined": declined, "asked": asked, "shop": shop}


@pytest.mark.req("MON-03")
def test_the_operator_sees_everything_in_one_list_most_urgent_first(
    attention_scene, operator, client
):
    body = page(client, operator, reverse("dashboard"))
    found = kinds(body)
    # Incidents first, then a down check without an incident, then broken certificates, then the
    # provider's late work, then what the client answered, then deadlines and expiries.
    expected = [
        "incident",
        "incident",
        "check_down",
        "cert_problem",
        "cert_problem",
        "renewal_overdue",
        "notice_failed",
        "approval_answered",
        "approval_requested",
    ]
    assert found[: len(expected)] == expected
    assert set(found[len(expected) :]) == {"cert_expiring"}
    listed = attention(body)
    # Within the incidents the oldest comes first (globex's started 5 hours ago).
    assert listed.index("Globex のサイト停止") < listed.index("ショップが応答しません")
    # The down check with an open incident is listed once, as the incident.
    assert "ショップ HTTP" not in listed and "API ポート" in listed
    assert 'id="stat-incidents"' in body and 'id="stat-checks-down"' in body


@pytest.mark.req("CERT-06")
def test_an_overdue_renewal_says_since_when_and_what_was_due(attention_scene, operator, client):
    from mamori.lifecycle import renewal

    managed = attention_scene["overdue"]
    body = page(client, operator, reverse("dashboard"))
    row = attention(body).split('data-kind="renewal_overdue"')[1].split("</li>")[0]
    since = timezone.localtime(renewal.overdue_at(managed)).strftime("%Y-%m-%d %H:%M")
    was_due = timezone.localtime(managed.renew_at).strftime("%Y-%m-%d %H:%M")
    expires = timezone.localtime(managed.certificate.not_after).strftime("%Y-%m-%d")
    assert "更新の遅延" in row
    assert f"{since} から遅延しています" in row
    assert f"更新予定は {was_due}" in row and f"証明書の有効期限は {expires}" in row


@pytest.mark.req("CERT-04")
def test_an_answered_approval_says_what_to_do_next(attention_scene, operator, client):
    body = page(client, operator, reverse("dashboard"))
    row = attention(body).split('data-kind="approval_answered"')[1].split("</li>")[0]
    assert "お客様が辞退" in row and "shop 証明書" in row
    assert "次の対応：お客様にご確認ください" in row
    # Approved, not ordered yet, at a commercial CA: the operator places the order.
    declined = Approval.objects.get(managed=attention_scene["declined"])
    declined.state = ApprovalState.APPROVED
    declined.save()
    body = page(client, operator, reverse("dashboard"))
    row = attention(body).split('data-kind="approval_answered"')[1].split("</li>")[0]
    assert "お客様が承認" in row and "認証局へ発注してください" in row


@pytest.mark.req("ACC-01")
@pytest.mark.req("CERT-04")
def test_a_client_sees_only_its_own_things_and_nothing_of_the_providers(
    attention_scene, owner, client
):
    body = page(client, owner, reverse("dashboard"))
    found = kinds(body)
    assert found[0] == "incident" and found.count("incident") == 1
    assert "check_down" in found and "approval_answered" in found
    for operators_only in ("renewal_overdue", "failure", "notice_failed", "task"):
        assert operators_only not in found
    listed = attention(body)
    assert "ショップが応答しません" in listed and "Globex" not in listed
    assert "現在対応中です" in listed  # written to the client, not to the operator
    row = listed.split('data-kind="approval_requested"')[1].split("</li>")[0]
    assert "ご承認のお願い" in row and "までにご回答ください" in row
    assert reverse("approval_decide", args=[attention_scene["asked"].pk]) in row
    # No provider's figures or tools: no clients count, no import or add-endpoint buttons, no
    # overdue renewals, no hint about running the scheduler.
    assert reverse("inventory_import") not in body
    assert reverse("endpoint_add") not in body
    assert 'href="' + reverse("client_list") + '"><div class="label">' not in body
    assert 'id="lifecycle-overdue"' not in body
    assert "mamori serve" not in body


def test_the_client_dashboard_reads_in_english_too(attention_scene, owner, client):
    owner.language = "en"
    owner.save()
    listed = attention(page(client, owner, reverse("dashboard")))
    assert "Open incident" in listed and "We are working on it" in listed
    assert "Your approval is needed" in listed and "Please answer by" in listed


def test_the_dashboard_asks_for_news_by_itself(scene, operator, client):
    body = page(client, operator, reverse("dashboard"))
    live = body.split('id="dashboard-live"')[1].split(">")[0]
    assert "data-live" in live and 'hx-trigger="every 15s, mamori-visible"' in live
    assert 'hx-select="#dashboard-live"' in live


@pytest.mark.req("MON-01")
def test_the_clients_list_shows_a_client_whose_check_is_down_as_down(
    attention_scene, operator, client
):
    initech = Client.objects.create(code="initech", name="イニテック株式会社")
    down_check(initech, "Initech web")
    calm = Client.objects.create(code="calm", name="カーム株式会社")
    Check.objects.create(
        client=calm,
        name="calm web",
        kind="http",
        settings={"url": "http://127.0.0.1:9/"},
        state=CheckState.UP,
        last_run_at=timezone.now(),
    )
    body = page(client, operator, reverse("client_list"))
    initech_row = body.split("イニテック株式会社")[1].split("</tr>")[0]
    assert "pill-problem" in initech_row and ">停止<" in initech_row
    assert "未チェック" not in initech_row and "まだチェックしていません" not in initech_row
    assert "state=down" in initech_row  # the down count links to the down checks
    calm_row = body.split("カーム株式会社")[1].split("</tr>")[0]
    assert "pill-ok" in calm_row
    acme_row = body.split("株式会社アクメ")[1].split("</tr>")[0]
    assert "障害 1 件" in acme_row
    # The list asks for itself again, with the same search, and gets just the results back.
    assert 'hx-trigger="every 30s, mamori-visible"' in body
    partial = client.get(reverse("client_list") + "?q=initech", HTTP_HX_REQUEST="true")
    text = partial.content.decode()
    assert "<html" not in text and "イニテック株式会社" in text and "カーム株式会社" not in text
    assert 'hx-get="/clients/?q=initech"' in text


@pytest.mark.req("MON-10")
def test_a_check_page_draws_raw_results_before_the_first_roll_up(acme, operator, client):
    check = Check.objects.create(
        client=acme, name="new web", kind="http", settings={"url": "http://127.0.0.1:9/"}
    )
    body = page(client, operator, check.get_absolute_url())
    assert "最初のチェックを実行しています" in body
    assert 'hx-trigger="every 2s, mamori-visible"' in body
    # Still nothing after ten minutes (no runner): it keeps waiting, but asks calmly.
    Check.objects.filter(pk=check.pk).update(next_run_at=timezone.now() - dt.timedelta(minutes=10))
    body = page(client, operator, check.get_absolute_url())
    assert "最初のチェックを実行しています" in body
    assert 'hx-trigger="every 20s, mamori-visible"' in body
    now = timezone.now()
    for minutes, ok in ((12, True), (7, False), (1, True)):
        Sample.objects.create(
            uptime_check=check, at=now - dt.timedelta(minutes=minutes), ok=ok, duration_ms=40
        )
    Check.objects.filter(pk=check.pk).update(
        last_run_at=now - dt.timedelta(minutes=1), state=CheckState.UP
    )
    assert not Rollup.objects.exists()
    body = page(client, operator, check.get_absolute_url())
    assert "最初のチェックを実行しています" not in body
    assert 'hx-trigger="every 20s, mamori-visible"' in body
    day = body.split('id="graph-5m"')[1].split("</section>")[0]
    assert 'class="mean"' in day and 'class="bar"' in day
    beats = body.split('id="recent-results"')[1].split("</section>")[0]
    assert re.findall(r"beat (beat-up|beat-down)", beats) == ["beat-up", "beat-down", "beat-up"]


def test_the_check_list_shows_heartbeat_bars(acme, operator, client):
    check = Check.objects.create(
        client=acme, name="bars web", kind="http", settings={"url": "http://127.0.0.1:9/"}
    )
    now = timezone.now()
    for index in range(30):
        Sample.objects.create(
            uptime_check=check,
            at=now - dt.timedelta(minutes=30 - index),
            ok=index != 28,
            duration_ms=10,
        )
    body = page(client, operator, reverse("check_list"))
    row = body.split("bars web")[1].split("</tr>")[0]
    beats = re.findall(r"beat (beat-up|beat-down)", row)
    assert len(beats) == 24 and beats[-2] == "beat-down" and beats[-1] == "beat-up"


def test_a_down_check_on_the_dashboard_has_its_recent_results(attention_scene, operator, client):
    api = Check.objects.get(name="API ポート")
    now = timezone.now()
    for minutes, ok in ((3, True), (2, False), (1, False)):
        Sample.objects.create(
            uptime_check=api, at=now - dt.timedelta(minutes=minutes), ok=ok, duration_ms=5
        )
    body = page(client, operator, reverse("dashboard"))
    row = attention(body).split('data-kind="check_down"')[1].split("</li>")[0]
    assert re.findall(r"beat (beat-up|beat-down)", row) == ["beat-up", "beat-down", "beat-down"]


@pytest.mark.req("MON-06")
def test_planned_maintenance_says_when_the_client_is_told(scene, operator, owner, client):
    from mamori.monitoring import maintenance
    from mamori.monitoring.models import MaintenanceWindow

    now = timezone.now()
    soon = MaintenanceWindow.objects.create(
        client=scene.acme,
        title="サーバー再起動",
        starts_at=now + dt.timedelta(days=2),
        ends_at=now + dt.timedelta(days=2, hours=1),
        notify_hours_before=24,
    )
    late = MaintenanceWindow.objects.create(
        client=scene.acme,
        title="OS 更新",
        starts_at=now + dt.timedelta(days=1),
        ends_at=now + dt.timedelta(days=1, hours=2),
        notify_hours_before=48,
    )
    listed = attention(page(client, operator, reverse("dashboard")))
    assert "お客様の連絡先がいません" in row_of(listed, "OS 更新")
    Contact.objects.create(
        client=scene.acme, name="運用担当", email="ops@acme.example", notify=["maintenance"]
    )
    listed = attention(page(client, operator, reverse("dashboard")))
    row = row_of(listed, "サーバー再起動")
    notice_at = timezone.localtime(soon.starts_at - dt.timedelta(hours=24))
    assert f"お客様への通知は {notice_at:%Y-%m-%d %H:%M} に送信されます" in row
    row = row_of(listed, "OS 更新")
    assert "まだ送信されていません" in row
    maintenance.announce_due(now)
    listed = attention(page(client, operator, reverse("dashboard")))
    assert "お客様へ通知済みです" in row_of(listed, "OS 更新")
    # The client sees its maintenance, without the provider's notes about notices.
    client.logout()
    listed = attention(page(client, owner, reverse("dashboard")))
    row = row_of(listed, "OS 更新")
    assert "計画メンテナンス" in row and "障害を起票しません" in row and "通知" not in row
    assert late.title in listed
