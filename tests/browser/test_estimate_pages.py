"""The estimate pages in Chromium (MNT-04): acme's administrator opens an estimate in the portal
on a 360 px phone and at a 1280 px desk, in Japanese and English, and accepts it after the
confirmation; nothing is wider than the screen. Screenshots:
test-artifacts/estimate-<page>-<width>-<language>.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from mamori.billing import estimates
from mamori.billing.models import Estimate
from tests.billing.estimates_support import draft, issuer
from tests.browser.phone import overflow, shoot, sign_in_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("MNT-04"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

WORDS = {
    "ja": ("御見積書", "お見積金額", "¥149,850", "有効期限", "10%対象", "承認する"),
    "en": ("Estimate", "Estimated amount", "¥149,850", "Valid until", "Subject to 10%", "Accept"),
}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_client_admin_reads_and_accepts_an_estimate(language, acme, owner, live_server, page):
    issuer()
    estimate = estimates.issue(
        None, draft(acme), today=dt.date.today(), valid_until=dt.date(2099, 12, 31)
    )
    owner.language = language
    owner.save()
    sign_in_as(page.context, live_server, owner)
    url = live_server.url + reverse("estimate_detail", args=[estimate.pk])
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.goto(url).status == 200
        text = page.locator("main").inner_text()
        for words in WORDS[language]:
            assert words in text, (width, words)
        assert overflow(page) == [], width
        shoot(page, f"estimate-detail-{width}-{language}")
        assert page.goto(live_server.url + reverse("estimate_list")).status == 200
        assert estimate.number in page.locator("main").inner_text()
        assert overflow(page) == [], width
        shoot(page, f"estimate-list-{width}-{language}")
    page.set_viewport_size({"width": 360, "height": 900})
    page.goto(live_server.url + reverse("estimate_accept", args=[estimate.pk]))
    assert overflow(page) == []
    shoot(page, f"estimate-accept-360-{language}")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(url)
    assert Estimate.objects.get(pk=estimate.pk).state == "accepted"
    shoot(page, f"estimate-accepted-360-{language}")


@pytest.mark.parametrize("language", ["ja", "en"])
def test_an_operator_edits_a_draft_on_a_phone(language, acme, operator, live_server, page):
    issuer()
    estimate = draft(acme)
    operator.language = language
    operator.save()
    sign_in_as(page.context, live_server, operator)
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.goto(live_server.url + reverse("estimate_edit", args=[estimate.pk])).ok
        assert overflow(page) == [], width
        shoot(page, f"estimate-edit-{width}-{language}")
