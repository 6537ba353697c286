"""The invoice page in Chromium (BIL-03): a client's administrator opens their invoice on a phone
(390 px) and at a desk, in Japanese and English; nothing is wider than the screen, the
document's amount due, per-rate totals and PDF links are there. Screenshots:
test-artifacts/invoice-page-<width>-<language>.png."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.clients.models import Client
from tests.billing.documents import make_invoices
from tests.browser.phone import PHONE, overflow, shoot, sign_in_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("BIL-03"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

WORDS = {
    "ja": ("ご請求金額", "¥84,188", "10%対象", "※は軽減税率対象", "PDF（日本語）"),
    "en": ("Amount due", "¥84,188", "Subject to 10%", "reduced tax rate", "PDF (English)"),
}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_client_admin_reads_the_invoice_on_a_phone_and_at_a_desk(
    language, acme, globex, owner, live_server, page
):
    issued = make_invoices(Client.objects.get(pk=acme.pk), Client.objects.get(pk=globex.pk))
    owner.language = language
    owner.save()
    sign_in_as(page.context, live_server, owner)
    url = live_server.url + reverse("invoice_detail", args=[issued.acme.pk])
    for width, height in ((PHONE["width"], PHONE["height"]), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        response = page.goto(url)
        assert response.status == 200
        text = page.locator("main").inner_text()
        for words in WORDS[language]:
            assert words in text, (width, words)
        assert overflow(page) == [], width
        shoot(page, f"invoice-page-{width}-{language}")
    # The list in the portal, on the phone.
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + reverse("invoice_list"))
    assert "INV-2026-0005" in page.locator("main").inner_text()
    assert "INV-2026-0006" not in page.locator("main").inner_text()
    assert overflow(page) == []
    shoot(page, f"invoice-list-390-{language}")
