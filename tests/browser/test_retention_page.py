"""The retention plan in Chromium (END-02): an operator reads which client's records are purged
when, on a 360 px phone, in Japanese and English; nothing is wider than the screen and the page
is in one language. Screenshots: test-artifacts/retention-plan-360-<language>.png."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.browser.phone import other_language, overflow, shoot, sign_in_as
from tests.retention.support import ended_client, events, invoice, notice

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("END-02"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

WORDS = {
    "ja": ("契約終了後の記録の保存", "保存期限", "送信した通知：2 件、2026-04-01 から削除"),
    "en": ("Records kept after the contract", "Kept until", "Notices sent: 2, from 2026-04-01"),
}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_operator_reads_the_plan_on_a_phone(language, operator, live_server, page):
    import datetime as dt

    client = ended_client("kaisha-with-a-rather-long-client-code")
    notice(client, 1)
    notice(client, 2)
    invoice(client, "INV-2023-0001", dt.date(2023, 3, 1))
    events(client, 3)
    operator.language = language
    operator.save()
    sign_in_as(page.context, live_server, operator)
    page.set_viewport_size({"width": 360, "height": 900})
    assert page.goto(live_server.url + reverse("retention_plan")).status == 200
    text = page.locator("main").inner_text()
    for word in WORDS[language]:
        assert word in text
    assert "2031-07-01" in text  # the invoice's statutory period
    assert overflow(page) == []
    assert other_language(page, language, data=(client.name,)) == []
    shoot(page, f"retention-plan-360-{language}")
