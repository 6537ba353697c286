"""Recording cancellation and withdrawal notices, reminders before the notice deadline, and the
contract's terms on its page, in the API, the CLI, the dashboard and the import/export
(CT-02 to CT-05). Dates are worked out by hand from the contract texts."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone, translation

from mamori.clients import reminders, services, terms
from mamori.clients.models import Contract, ContractNotice, TermsProfile
from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.inventory import transfer
from mamori.notices.models import Notice, NoticeKind
from mamori.operations.jobs import REGISTRY


def profile(code: str) -> TermsProfile:
    return TermsProfile.objects.get(code=code)


@pytest.fixture
def maintenance(acme) -> Contract:
    """A website maintenance contract (001) from 2026-04-01."""
    return Contract.objects.create(
        client=acme,
        type="site_maintenance",
        start=dt.date(2026, 4, 1),
        terms_profile=profile("fixed-1y-001"),
    )


@pytest.fixture
def servers(acme) -> Contract:
    """A server management contract (002) from 2026-04-01."""
    return Contract.objects.create(
        client=acme,
        type="server_management",
        start=dt.date(2026, 4, 1),
        terms_profile=profile("fixed-1y-002"),
    )


@pytest.fixture
def monthly(acme) -> Contract:
    """An operations-support contract (004) applied for on the web on 2027-02-25."""
    return Contract.objects.create(
        client=acme,
        type="operations_support",
        start=dt.date(2027, 2, 25),
        formed_on=dt.date(2027, 2, 25),
        applied_via_web=True,
        terms_profile=profile("monthly-004"),
    )


@pytest.mark.req("CT-02")
@pytest.mark.req("CT-03")
@pytest.mark.req("CT-04")
@pytest.mark.req("CT-05")
def test_mamori_ships_one_profile_per_kind_of_seed_contract(db):
    codes = set(TermsProfile.objects.filter(builtin=True).values_list("code", flat=True))
    assert codes == {"fixed-1y-000", "fixed-1y-001", "fixed-1y-002", "ca-003", "monthly-004"}
    p004 = profile("monthly-004")
    assert (p004.term_kind, p004.cooling_off_days, p004.first_month_whole) == (
        "calendar_month",
        8,
        True,
    )
    assert p004.bill_to_period_end
    assert profile("fixed-1y-001").mid_term_notice_days == 30
    assert profile("fixed-1y-000").notice_days == 30
    with translation.override("ja"):
        assert "SSL証明書管理契約" in str(profile("fixed-1y-000"))
    with translation.override("en"):
        assert str(profile("fixed-1y-000")).startswith("SSL certificate management")


@pytest.mark.req("CT-02")
def test_a_notice_on_the_deadline_day_ends_the_term_and_is_audited(servers, operator):
    notice = services.record_contract_notice(
        operator,
        servers,
        kind="cancellation",
        received_on=dt.date(2027, 3, 1),  # Mar 31 - 30 days
        medium="letter",
        sender="山田太郎（総務部）",
    )
    assert (notice.effective_on, notice.reason) == (dt.date(2027, 3, 31), "")
    event = AuditEvent.objects.get(action="contract.cancellation")
    assert event.changes["effective_on"] == "2027-03-31"
    assert event.client_id == servers.client_id
    status = terms.status(servers, dt.date(2027, 3, 10))
    assert (status.state, status.end, status.next_term) == ("ending", dt.date(2027, 3, 31), None)


@pytest.mark.req("CT-02")
def test_a_late_notice_gets_the_next_term_end_and_says_why_in_the_readers_language(
    servers, operator
):
    notice = services.record_contract_notice(
        operator,
        servers,
        kind="cancellation",
        received_on=dt.date(2027, 3, 2),
        medium="email",
        sender="山田太郎",
    )
    assert (notice.effective_on, notice.reason) == (dt.date(2028, 3, 31), "after_deadline")
    with translation.override("en"):
        assert "2027-03-01" in services.notice_reason(notice)
        assert "renews" in services.notice_reason(notice)
    with translation.override("ja"):
        text = services.notice_reason(notice)
    assert "2027-03-01" in text and "更新" in text


@pytest.mark.req("CT-04")
def test_mid_term_cancellation_of_001(maintenance, operator):
    notice = services.record_contract_notice(
        operator,
        maintenance,
        kind="cancellation",
        received_on=dt.date(2026, 9, 15),
        medium="email",
        sender="佐藤",
        requested_end_month=dt.date(2026, 10, 1),
    )
    assert notice.effective_on == dt.date(2026, 10, 31)
    assert terms.status(maintenance, dt.date(2026, 10, 1)).state == "ending"
    assert terms.status(maintenance, dt.date(2026, 11, 1)).state == "ended"


@pytest.mark.req("CT-03")
def test_a_monthly_cancellation_ends_at_the_end_of_the_next_month(monthly, operator):
    notice = services.record_contract_notice(
        operator,
        monthly,
        kind="cancellation",
        received_on=dt.date(2027, 5, 31),
        medium="email",
        sender="経理部",
    )
    assert notice.effective_on == dt.date(2027, 6, 30)
    # A second letter confirming it (or naming a later month) leaves the earliest end.
    services.record_contract_notice(
        operator,
        monthly,
        kind="cancellation",
        received_on=dt.date(2027, 6, 1),
        medium="letter",
        sender="経理部",
        requested_end_month=dt.date(2027, 9, 1),
    )
    assert terms.status(monthly, dt.date(2027, 6, 10)).end == dt.date(2027, 6, 30)


@pytest.mark.req("CT-05")
def test_cooling_off_withdrawal_within_eight_days_and_refused_after(monthly, operator, acme):
    with pytest.raises(terms.TermsError) as late:
        services.record_contract_notice(
            operator,
            monthly,
            kind="withdrawal",
            received_on=dt.date(2027, 3, 5),
            medium="email",
            sender="担当者",
        )
    assert late.value.code == "cooling_off_over"
    with translation.override("ja"):
        assert "2027-03-04" in late.value.message and "クーリング・オフ" in late.value.message
    assert not ContractNotice.objects.exists()
    assert not AuditEvent.objects.filter(action="contract.withdrawal").exists()
    notice = services.record_contract_notice(
        operator,
        monthly,
        kind="withdrawal",
        received_on=dt.date(2027, 3, 4),
        medium="letter",
        sender="担当者",
    )
    assert notice.effective_on == dt.date(2027, 3, 4)
    assert terms.status(monthly, dt.date(2027, 3, 10)).state == "withdrawn"


@pytest.mark.req("CT-02")
def test_reminders_go_once_per_term_to_operators_and_contract_contacts(servers, acme, operator):
    # acme's contacts: keiri@ receives "contracts", yamada@ and jane@ do not.
    assert "contract_notice_reminders" in REGISTRY
    ours = Notice.objects.filter(
        kind=NoticeKind.CONTRACT_NOTICE_DEADLINE,
        key__startswith=f"contract-notice-deadline:{servers.pk}:",
    )
    # Deadline 2027-03-01; 30 days before is 2027-01-30.
    reminders.remind_due(dt.date(2027, 1, 29))
    assert not ours.exists()
    reminders.remind_due(dt.date(2027, 1, 30))
    addresses = set(ours.values_list("recipient", flat=True))
    assert "keiri@acme.example" in addresses and "operator@provider.example" in addresses
    assert not addresses & {"yamada@acme.example", "jane@acme.example"}
    contact_notice = ours.get(recipient="keiri@acme.example")
    assert "2027年3月1日" in contact_notice.subject
    assert "2027年3月31日" in contact_notice.body_text
    count = ours.count()
    # Again the next days: nothing new for the same term.
    reminders.remind_due(dt.date(2027, 2, 10))
    reminders.remind_due(dt.date(2027, 3, 1))
    assert ours.count() == count
    # The next term's deadline (2028-03-01) gets its own reminder.
    reminders.remind_due(dt.date(2028, 2, 1))
    assert ours.count() == 2 * count


@pytest.mark.req("CT-02")
def test_no_reminder_once_notice_is_given(servers, operator, settings):
    settings.MAMORI_CONTRACT_NOTICE_REMINDER_DAYS = 60
    services.record_contract_notice(
        operator,
        servers,
        kind="cancellation",
        received_on=dt.date(2026, 12, 1),
        medium="letter",
        sender="山田",
    )
    assert reminders.due_reminder(servers, dt.date(2027, 2, 1)) is None
    reminders.remind_due(dt.date(2027, 2, 1))
    assert not Notice.objects.filter(key__startswith=f"contract-notice-deadline:{servers.pk}:")


# --- pages ---------------------------------------------------------------------------------------


@pytest.mark.req("CT-02")
def test_the_contract_page_shows_its_terms_and_records_a_notice(client, servers, operator):
    client.force_login(operator)
    url = reverse("contract_detail", args=["acme", servers.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ja")
    assert page.status_code == 200
    text = page.content.decode()
    assert "解約通知の期限" in text or "通知期限" in text
    assert 'id="terms"' in text
    response = client.post(
        url,
        {
            "kind": "cancellation",
            "received_on": "2027-03-02",
            "medium": "letter",
            "sender": "山田太郎",
            "requested_end_month": "",
        },
    )
    assert response.status_code == 302
    notice = ContractNotice.objects.get()
    assert notice.effective_on == dt.date(2028, 3, 31)
    page = client.get(url).content.decode()
    assert "2028-03-31" in page and 'data-reason="after_deadline"' in page


@pytest.mark.req("CT-05")
def test_a_refused_withdrawal_is_shown_on_the_form(client, monthly, operator):
    client.force_login(operator)
    url = reverse("contract_detail", args=["acme", monthly.pk])
    response = client.post(
        url,
        {"kind": "withdrawal", "received_on": "2027-03-05", "medium": "email", "sender": "x"},
    )
    assert response.status_code == 400
    assert "2027-03-04" in response.content.decode()


@pytest.mark.req("CT-02")
def test_a_client_viewer_sees_the_terms_but_records_nothing(client, servers, member):
    client.force_login(member)
    url = reverse("contract_detail", args=["acme", servers.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'id="record-notice"' not in page.content.decode()
    assert client.post(url, {"kind": "cancellation"}).status_code == 403


def test_terms_profiles_pages(client, operator, owner):
    client.force_login(operator)
    assert b"monthly-004" in client.get(reverse("terms_profile_list")).content
    response = client.post(
        reverse("terms_profile_add"),
        {
            "code": "fixed-2y",
            "name_ja": "2年契約",
            "name_en": "Two years",
            "term_kind": "fixed",
            "term_months": "24",
            "auto_renew": "on",
            "notice_days": "60",
            "minimum_term": "none",
            "cancellation": "term_end",
            "mid_term_notice_days": "0",
            "cooling_off_days": "0",
            "reminder_days": "",
            "bill_to_period_end": "on",
            "retention_years": "5",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert TermsProfile.objects.get(code="fixed-2y").term_months == 24
    assert TermsProfile.objects.get(code="fixed-2y").retention_years == 5
    assert AuditEvent.objects.filter(action="terms_profile.create").exists()
    client.force_login(owner)
    assert client.get(reverse("terms_profile_add")).status_code == 403


# --- API -----------------------------------------------------------------------------------------


def bearer(client, user):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {create_token(user, 'test')[1]}"
    return client


@pytest.mark.req("CT-02")
def test_the_api_reads_terms_and_records_notices(client, servers, monthly, operator):
    api = bearer(client, operator)
    data = api.get(f"/api/v1/contracts/{servers.pk}").json()
    assert data["terms_profile"] == "fixed-1y-002"
    assert set(data["terms"]) >= {"state", "term_end", "notice_deadline", "minimum_term_end"}
    response = api.post(
        f"/api/v1/contracts/{servers.pk}/notices",
        json.dumps(
            {
                "received_on": "2027-03-02",
                "medium": "email",
                "sender": "山田",
                "kind": "cancellation",
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["effective_on"] == "2028-03-31"
    assert response.json()["reason"] == "after_deadline"
    refused = api.post(
        f"/api/v1/contracts/{monthly.pk}/notices",
        json.dumps(
            {"received_on": "2027-03-05", "medium": "email", "sender": "x", "kind": "withdrawal"}
        ),
        content_type="application/json",
    )
    assert refused.status_code == 409
    bad = api.post(
        f"/api/v1/contracts/{servers.pk}/notices",
        json.dumps({"received_on": "2027-03-02", "medium": "fax", "sender": "x"}),
        content_type="application/json",
    )
    assert bad.status_code == 422


def test_the_api_manages_terms_profiles(client, operator, owner, acme):
    api = bearer(client, operator)
    assert len(api.get("/api/v1/terms-profiles").json()) == 5
    created = api.post(
        "/api/v1/terms-profiles",
        json.dumps(
            {
                "code": "monthly-x",
                "name_ja": "月額",
                "name_en": "Monthly",
                "term_kind": "calendar_month",
                "term_months": 1,
                "cancellation": "month_after_acceptance",
            }
        ),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    changed = api.patch(
        "/api/v1/terms-profiles/monthly-x",
        json.dumps({"cooling_off_days": 8}),
        content_type="application/json",
    )
    assert changed.json()["cooling_off_days"] == 8
    Contract.objects.create(client=acme, type="operations_support", start=dt.date(2027, 1, 1),
                            terms_profile=profile("monthly-x"))  # fmt: skip
    assert api.delete("/api/v1/terms-profiles/monthly-x").status_code == 409
    owner_api = bearer(client, owner)
    assert owner_api.get("/api/v1/terms-profiles").status_code == 403


# --- CLI -----------------------------------------------------------------------------------------


@pytest.mark.req("CT-02")
def test_the_cli_shows_status_and_records_a_cancellation(servers, monthly, capsys):
    call_command("contracts", "status", "acme", "--json", "--on", "2026-12-01")
    rows = json.loads(capsys.readouterr().out)
    row = next(r for r in rows if r["id"] == servers.pk)
    assert (row["notice_deadline"], row["term_end"], row["state"]) == (
        "2027-03-01",
        "2027-03-31",
        "in_force",
    )
    call_command(
        "contracts", "cancel", "acme", "server_management", "--received", "2027-03-01",
        "--by", "letter", "--sender", "山田", "--json",
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["effective_on"] == "2027-03-31"
    with pytest.raises(CommandError) as refused:
        call_command(
            "contracts", "cancel", "acme", str(monthly.pk), "--received", "2027-03-05",
            "--by", "email", "--sender", "x", "--withdraw",
        )  # fmt: skip
    assert refused.value.returncode == 2
    with pytest.raises(CommandError) as unknown:
        call_command(
            "contracts", "cancel", "acme", "ca_service", "--received", "2027-03-05",
            "--by", "email", "--sender", "x",
        )  # fmt: skip
    assert unknown.value.returncode == 2


# --- dashboard, import and export ---------------------------------------------------------------


@pytest.mark.req("CT-02")
def test_the_dashboard_lists_contracts_whose_notice_deadline_is_near(acme, operator):
    from mamori.operations.dashboard import attention

    today = timezone.localdate()
    # Ends in 40 days: the notice deadline is in 10 days.
    start = today.replace(year=today.year - 1) + dt.timedelta(days=41)
    contract = Contract.objects.create(
        client=acme, type="server_management", start=start, terms_profile=profile("fixed-1y-002")
    )
    found = attention(operator)
    items = [i for i in found.items if i.kind == "contract_notice"]
    ours = [i for i in items if i.obj.pk == contract.pk]
    assert len(ours) == 1
    assert timezone.localtime(ours[0].due).date() == today + dt.timedelta(days=10)


@pytest.mark.req("CT-02")
def test_the_dashboard_words_a_near_notice_deadline(client, acme, operator):
    today = timezone.localdate()
    Contract.objects.create(
        client=acme,
        type="server_management",
        start=today.replace(year=today.year - 1) + dt.timedelta(days=41),
        terms_profile=profile("fixed-1y-002"),
    )
    client.force_login(operator)
    page = client.get(reverse("dashboard")).content.decode()
    deadline = f"{today + dt.timedelta(days=10):%Y-%m-%d}"
    assert "契約の解約通知期限" in page
    assert f"{deadline}までに通知があれば" in page


@pytest.mark.req("CT-02")
def test_import_and_export_carry_the_terms_fields(acme):
    text = """
clients:
  - code: acme
    contracts:
      - type: operations_support
        start: 2027-01-20
        terms_profile: monthly-004
        formed_on: 2027-01-18
        applied_via_web: true
"""
    report = transfer.import_file(text.encode(), filename="inventory.yaml")
    assert not report.errors, report.errors
    contract = Contract.objects.get(type="operations_support")
    assert (contract.terms_profile.code, contract.formed_on, contract.applied_via_web) == (
        "monthly-004",
        dt.date(2027, 1, 18),
        True,
    )
    exported = transfer.export_inventory(fmt="yaml")
    assert "terms_profile: monthly-004" in exported
    assert "applied_via_web: true" in exported
    bad = transfer.import_file(
        text.replace("monthly-004", "monthly-999").encode(), filename="inventory.yaml"
    )
    assert any("monthly-999" in str(e) for e in bad.errors)


@pytest.mark.req("CT-03")
@pytest.mark.req("CT-05")
def test_a_monthly_contract_page_in_english_shows_minimum_term_and_cooling_off(
    client, monthly, operator
):
    operator.language = "en"
    operator.save()
    client.force_login(operator)
    page = client.get(reverse("contract_detail", args=["acme", monthly.pk])).content.decode()
    assert "Minimum term until" in page and "2027-03-31" in page  # formed Feb 25: end of March
    assert "Cooling-off until" in page and "2027-03-04" in page
    assert "月" not in page.split('id="terms"')[1].split("</section>")[0]
