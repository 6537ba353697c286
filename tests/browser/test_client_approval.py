"""A client's administrator opens the approval e-mail on a phone and approves the renewal
(CERT-04, issue 15): the link in the real e-mail (sent through an SMTP server) leads, after
signing in, to a page written to the client: what will happen, what it costs, by when, what
declining means. In Japanese and English, at 390 px (and at 1280 px for the screenshots)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from mamori.lifecycle import renewal
from mamori.lifecycle.models import Approval, ApprovalState, Order
from mamori.notices import services as notices
from tests.browser.phone import PHONE, overflow, shoot
from tests.conftest import PASSWORD
from tests.lifecycle.renewal.conftest import make_managed, renewal_ca  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(databases="__all__", transaction=True),
    pytest.mark.req("CERT-04"),
]

WORDS = {
    "ja": {
        "subject": "【ご承認のお願い】",
        "heading": "証明書更新のご承認のお願い",
        "what": "お客様の作業は必要ありません",
        "cost": "15,000円",
        "deadline": "ご回答期限",
        "decline": "セキュリティ警告",
        "approve": "更新を承認する",
        "thanks": "承認",
    },
    "en": {
        "subject": "[Approval needed]",
        "heading": "Your approval is needed",
        "what": "You do not need to do anything else",
        "cost": "¥15,000",
        "deadline": "Answer needed by",
        "decline": "security warning",
        "approve": "Approve the renewal",
        "thanks": "Thank you",
    },
}


@pytest.fixture
def asked(make_managed, owner, smtp, settings, live_server):  # noqa: F811
    """A renewal due for acme, whose client asks to approve each one; the approval request
    e-mailed (for real) with links to this live server."""
    settings.BASE_URL = live_server.url
    managed = make_managed(age_days=61)
    Order.objects.filter(managed=managed).update(fee_amount=15000, fee_currency="JPY")
    return managed


def link_in_mail(smtp, address: str, subject: str) -> str:
    mail = next(m for m in smtp.messages if m.to == address)
    assert subject in mail.subject
    return re.search(r"https?://\S+/lifecycle/approvals/\d+/", mail.text()).group(0)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_client_approves_a_renewal_from_the_email_on_a_phone(
    language, asked, owner, smtp, live_server, chromium
):
    owner.language = language
    owner.save()
    assert renewal.run_pass().asked == 1
    notices.deliver_due()
    url = link_in_mail(smtp, owner.email, WORDS[language]["subject"])

    context = chromium.new_context(viewport=PHONE, locale=f"{language}-JP")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(url)
        # Not signed in: the sign-in form first, then straight on to the approval page.
        page.fill("#id_username", "owner")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(url)
        words = WORDS[language]
        assert words["heading"] in page.locator("h1").inner_text()
        assert words["what"] in page.locator("#terms-what").inner_text()
        assert words["cost"] in page.locator("#terms-cost").inner_text()
        assert words["deadline"] in page.locator("#approval-terms").inner_text()
        assert words["decline"] in page.locator("#terms-decline").inner_text()
        body = page.locator("main").inner_text()
        assert "waiting for the client" not in body.lower()
        assert "お客様の回答待ち" not in body
        assert overflow(page) == []
        shoot(page, f"approval-390-{language}")
        button = page.get_by_role("button", name=words["approve"])
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        button.click()
        page.wait_for_url(url)
        assert words["thanks"] in page.locator(".messages").inner_text()
        assert overflow(page) == []
        shoot(page, f"approval-390-{language}-approved")
    finally:
        context.close()

    approval = Approval.objects.get()
    assert approval.state == ApprovalState.APPROVED
    assert approval.decided_by == owner and approval.channel == "portal"
    # The next renewal pass orders it under this approval.
    assert renewal.run_pass().ordered == 1


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_approval_page_on_a_desk(language, asked, owner, live_server, page):
    from tests.browser.phone import sign_in_as

    owner.language = language
    owner.save()
    renewal.run_pass()
    sign_in_as(page.context, live_server, owner)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("approval_decide", args=[Approval.objects.get().pk]))
    assert WORDS[language]["cost"] in page.locator("#terms-cost").inner_text()
    shoot(page, f"approval-1280-{language}")
