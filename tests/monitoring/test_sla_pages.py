"""The SLA pages, the billing API and ``mamori sla`` (MON-07)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token
from mamori.monitoring import sla
from mamori.monitoring.models import Cause, Incident, SlaCredit, SlaPolicy, SlaTable
from mamori.monitoring.views_sla import parse_tiers

pytestmark = [pytest.mark.django_db, pytest.mark.req("MON-07")]

JST = ZoneInfo("Asia/Tokyo")
NOVEMBER = dt.date(2026, 11, 1)


@pytest.fixture(autouse=True)
def english(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def policy(acme) -> SlaPolicy:
    return SlaPolicy.objects.create(
        client=acme,
        name="運用支援サービス SLA",
        monthly_fee=Decimal(50000),
        tiers=[{"below": 99.9, "credit_percent": 10}, {"below": 99.0, "credit_percent": 25}],
    )


@pytest.fixture
def globex_policy(globex) -> SlaPolicy:
    return SlaPolicy.objects.create(client=globex, name="Globex SLA", monthly_fee=Decimal(9000))


@pytest.fixture
def unattributed(acme) -> Incident:
    """Seven hours of total outage without a cause on Nov 3 (≥ 6 h: it counts):
    1 − 420/43,200 = 99.027 % → 10 %."""
    return Incident.objects.create(
        client=acme,
        title="www down",
        started_at=dt.datetime(2026, 11, 3, 10, tzinfo=JST),
        confirmed_at=dt.datetime(2026, 11, 3, 10, tzinfo=JST),
        recovered_at=dt.datetime(2026, 11, 3, 17, tzinfo=JST),
        state="recovered",
    )


def table(http, **query) -> str:
    response = http.get(reverse("sla_table"), {"month": "2026-11", **query})
    assert response.status_code == 200
    return response.content.decode()


def test_client_users_read_their_figures_marked_provisional_without_buttons(
    client, owner, policy, globex_policy, unattributed
):
    sla.compute_month(policy, NOVEMBER)
    sla.compute_month(globex_policy, NOVEMBER)
    client.force_login(owner)
    body = table(client)
    assert "99.027 %" in body and "5,000円" in body  # the owner reads Japanese
    with translation.override(owner.preferred_language()):
        assert translation.gettext("provisional") in body
        assert translation.gettext("Finalize") not in body
    assert "Globex" not in body
    assert reverse("sla_compute", args=[policy.pk]) not in body


def test_operators_compute_and_finalize_from_the_table(client, operator, policy, unattributed):
    client.force_login(operator)
    body = table(client, client="acme")
    assert reverse("sla_compute", args=[policy.pk]) in body
    response = client.post(
        reverse("sla_compute", args=[policy.pk]), {"month": "2026-11", "client": "acme"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("sla_table") + "?month=2026-11&client=acme"
    credit = SlaCredit.objects.get(policy=policy, month=NOVEMBER)
    assert credit.provisional and credit.credit_amount == 5000

    response = client.post(reverse("sla_finalize", args=[credit.pk]), follow=True)
    with translation.override(operator.preferred_language()):
        expected = translation.gettext(
            "Some downtime of this month has no cause yet: attribute it before finalizing."
        )
    assert expected in response.content.decode()
    credit.refresh_from_db()
    assert credit.finalized_at is None

    unattributed.cause = Cause.PROVIDER
    unattributed.save()
    client.post(reverse("sla_finalize", args=[credit.pk]))
    credit.refresh_from_db()
    assert credit.finalized_at is not None and not credit.provisional
    assert AuditEvent.objects.filter(action="sla.finalize", actor=operator).exists()
    assert reverse("sla_finalize", args=[credit.pk]) not in table(client)


def test_a_month_not_begun_is_refused_with_a_message(client, operator, policy):
    client.force_login(operator)
    response = client.post(
        reverse("sla_compute", args=[policy.pk]), {"month": "2099-01"}, follow=True
    )
    with translation.override(operator.preferred_language()):
        assert (
            translation.gettext("%(month)s has not begun.") % {"month": "2099-01"}
            in response.content.decode()
        )
    response = client.post(reverse("sla_compute", args=[policy.pk]), {"month": "2026-13"})
    assert response.status_code == 302
    assert not SlaCredit.objects.exists()


def test_operators_add_and_edit_a_policy_with_its_tiers(client, operator, acme):
    client.force_login(operator)
    url = reverse("sla_policy_add", args=["acme"])
    assert client.get(url).status_code == 200
    data = {
        "name": "Hosting SLA",
        "monthly_fee": "80000",
        "currency": "JPY",
        "target_percent": "99.9",
        "tiers_text": "95 50\n99.9 10%\n99.0, 25\n",
        "long_outage_hours": "6",
        "table": "availability",
        "length_tiers_text": "12 25\n6 10",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    policy = SlaPolicy.objects.get(name="Hosting SLA")
    assert policy.tiers == [
        {"below": 99.9, "credit_percent": 10},
        {"below": 99, "credit_percent": 25},
        {"below": 95, "credit_percent": 50},
    ]
    assert policy.length_tiers == [
        {"hours": 6, "credit_percent": 10},
        {"hours": 12, "credit_percent": 25},
    ]
    event = AuditEvent.objects.get(action="sla_policy.create")
    assert event.changes["tiers"] == policy.tiers
    assert event.changes["length_tiers"] == policy.length_tiers

    edit = reverse("sla_policy_edit", args=[policy.pk])
    assert "99.9 10\n99 25\n95 50" in client.get(edit).content.decode()
    response = client.post(
        edit,
        {**data, "tiers_text": "99.5 15", "monthly_fee": "90000", "table": "outage_length"},
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.tiers, policy.monthly_fee) == ([{"below": 99.5, "credit_percent": 15}], 90000)
    assert policy.table == SlaTable.OUTAGE_LENGTH
    assert AuditEvent.objects.filter(action="sla_policy.update").count() == 1


def test_the_policy_form_says_precisely_what_is_wrong(client, operator, acme):
    client.force_login(operator)
    data = {
        "name": "Bad",
        "monthly_fee": "-1",
        "currency": "JPY",
        "target_percent": "99.9",
        "tiers_text": "99.9 10\n99.0 5",
        "length_tiers_text": "6 130",
        "table": "outage_length",
        "valid_from": "2026-12-01",
        "valid_until": "2026-11-01",
    }
    body = client.post(reverse("sla_policy_add", args=["acme"]), data).content.decode()
    with translation.override(operator.preferred_language()):
        for message in (
            translation.gettext(
                "Line %(n)s: a lower availability must not earn a smaller credit than line %(m)s."
            )
            % {"n": 2, "m": 1},
            translation.gettext("The fee cannot be negative."),
            translation.gettext(
                "Line %(n)s: the credit must be 0 to 100 %%, with at most 2 decimals."
            )
            % {"n": 1},
            translation.gettext("The end comes before the start."),
        ):
            assert message in body
    assert not SlaPolicy.objects.exists()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("99.9", "Line 1: write two numbers"),
        ("99.9 10\nabc 5", "Line 2: abc 5 is not a number."),
        ("0 10", "Line 1: the availability must be above 0"),
        ("99.9999 10", "with at most 3 decimals"),
        ("99.9 101", "Line 1: the credit must be 0 to 100 %"),
        ("99.9 10\n\n99.9 20", "Line 3: a tier below 99.9 % is there already."),
    ],
)
def test_tiers_are_validated_line_by_line(text, line):
    with translation.override("en"), pytest.raises(Exception) as error:
        parse_tiers(text)
    assert line in " ".join(error.value.messages)


def test_the_billing_api_lists_credits_by_month_to_whoever_may_see_them(
    client, owner, outsider, operator, policy, globex_policy
):
    sla.compute_month(policy, NOVEMBER)
    sla.compute_month(policy, dt.date(2026, 10, 1))
    sla.compute_month(globex_policy, NOVEMBER)

    def get(user, **query):
        token = create_token(user, "billing")[1]
        return client.get(
            "/api/v1/sla/credits", query, headers={"Authorization": f"Bearer {token}"}
        )

    items = get(operator, month="2026-11").json()["items"]
    assert [(i["client"], i["month"]) for i in items] == [
        ("acme", "2026-11"),
        ("globex", "2026-11"),
    ]
    acme_item = items[0]
    assert acme_item["credit_amount"] == "0" and acme_item["finalized"] is False
    assert acme_item["availability_percent"] == "100.000" and acme_item["currency"] == "JPY"
    assert [i["month"] for i in get(owner).json()["items"]] == ["2026-11", "2026-10"]
    assert [i["client"] for i in get(outsider).json()["items"]] == ["globex"]
    assert get(operator, finalized="true").json()["items"] == []
    bad = get(operator, month="11/2026")
    assert bad.status_code == 422
    assert "YYYY-MM" in bad.json()["detail"][0]["msg"]


def test_the_command_computes_finalizes_and_shows_a_month(policy, unattributed):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 month"):
        call_command("sla", "compute", "--month", "2026-11", "--finalize", stdout=out, stderr=err)
    assert "availability 99.027 %" in out.getvalue() and "[provisional]" in out.getvalue()
    assert "no cause yet" in err.getvalue()
    unattributed.cause = Cause.CARRIER
    unattributed.save()
    out = StringIO()
    call_command(
        "sla", "compute", "--month", "2026-11", "--client", "acme", "--finalize", stdout=out
    )
    assert "availability 100.000 %" in out.getvalue() and "[finalized]" in out.getvalue()
    out = StringIO()
    call_command("sla", "show", "--month", "2026-11", stdout=out)
    assert "not counted 420 min" in out.getvalue() and "= ¥0 [finalized]" in out.getvalue()
    out = StringIO()
    call_command("sla", "show", "--month", "2026-09", stdout=out)
    assert "Nothing computed for 2026-09" in out.getvalue()
    # Called wrongly: exit status 2, as every mamori command.
    with pytest.raises(CommandError, match="YYYY-MM") as wrong_month:
        call_command("sla", "show", "--month", "Sept")
    with pytest.raises(CommandError, match="no client") as wrong_client:
        call_command("sla", "compute", "--client", "nobody")
    assert wrong_month.value.returncode == wrong_client.value.returncode == 2
