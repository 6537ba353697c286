"""Issue 16, the SLA by the contract, in Chromium: an operator puts an incident opened by hand in
waiting for the client, the client answers, the operator records when the service came back;
then the SLA policy form with both tables. In Japanese and English."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.clients.models import ClientWait
from mamori.monitoring import incidents
from mamori.monitoring.models import SlaPolicy
from tests.browser.test_csp import sign_in
from tests.browser.test_small_things import local

pytestmark = [pytest.mark.browser, pytest.mark.django_db(databases="__all__", transaction=True)]

WORDS = {
    "ja": {
        "wait": "お客様待ちにする",
        "answered": "お客様から回答あり",
        "record": "復旧日時を記録",
    },
    "en": {
        "wait": "Wait for the client",
        "answered": "The client answered",
        "record": "Record the recovery",
    },
}


@pytest.mark.req("CT-09")
@pytest.mark.req("MON-07")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_operator_records_waiting_and_recovery_on_the_incident_page(
    scene, operator, live_server, page, screenshot, language
):
    words = WORDS[language]
    operator.language = language
    operator.save(update_fields=["language"])
    started = timezone.now() - dt.timedelta(hours=5)
    incident = incidents.open_manual(
        scene.acme, operator, "www.acme.example 応答なし", started_at=started, notify=False
    )
    sign_in(page, live_server, operator.username)
    page.goto(live_server.url + reverse("incident_detail", args=[incident.pk]))
    assert page.locator("html").get_attribute("lang") == language

    page.fill("#id_awaited", "FTP のパスワード")
    page.fill("#id_since", local(started + dt.timedelta(hours=1)))
    page.click(f"#waiting button:has-text('{words['wait']}')")
    page.wait_for_load_state()
    assert "FTP のパスワード" in page.locator("#waiting").inner_text()
    screenshot(f"sla-incident-waiting-{language}")

    page.fill("#id_until", local(started + dt.timedelta(hours=3)))
    page.click(f"#waiting button:has-text('{words['answered']}')")
    page.wait_for_load_state()
    [wait] = ClientWait.objects.all()
    assert wait.until is not None

    page.fill("#id_recovered_at", local(started + dt.timedelta(hours=4)))
    page.click(f"#recovery button:has-text('{words['record']}')")
    page.wait_for_load_state()
    incident.refresh_from_db()
    assert incident.recovered_at is not None
    screenshot(f"sla-incident-recovered-{language}")


@pytest.mark.req("MON-07")
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_policy_form_offers_both_tables(
    scene, operator, live_server, page, screenshot, language
):
    operator.language = language
    operator.save(update_fields=["language"])
    policy = SlaPolicy.objects.create(
        client=scene.acme,
        name="運用支援サービス SLA",
        monthly_fee=50000,
        tiers=[{"below": 99.9, "credit_percent": 10}],
        length_tiers=[{"hours": 6, "credit_percent": 20}, {"hours": 12, "credit_percent": 40}],
    )
    sign_in(page, live_server, operator.username)
    page.goto(live_server.url + reverse("sla_policy_edit", args=[policy.pk]))
    assert page.locator("#id_length_tiers_text").input_value() == "6 20\n12 40"
    page.select_option("#id_table", "outage_length")
    page.click(".form-actions button[type=submit]")
    page.wait_for_load_state()
    policy.refresh_from_db()
    assert policy.table == "outage_length"
    page.goto(live_server.url + reverse("sla_policy_edit", args=[policy.pk]))
    screenshot(f"sla-policy-form-{language}")
