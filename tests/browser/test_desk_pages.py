"""The desk in Chromium (MNT-03, MNT-05): the operators' queue at a desk and on a phone, and the
request page in the client's portal, in Japanese and English; nothing is wider than the screen,
the late request is marked; the operator's request page holds every part of the desk, the client
sees no internal note. Screenshots: test-artifacts/desk-queue-<width>-<language>.png,
desk-staff-request-<width>-<language>.png, desk-portal-request-<width>-<language>.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.clients.models import Client, Contact
from mamori.desk import services
from mamori.desk.models import Request
from tests.browser.phone import overflow, shoot, sign_in_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("MNT-03"),
    pytest.mark.req("MNT-05"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

SMALL = {"width": 360, "height": 780}
WIDE = {"width": 1280, "height": 900}
WORDS = {
    "ja": {"queue": ("依頼", "遅延", "期限"), "portal": ("ご依頼", "やり取り", "メッセージを送る")},
    "en": {"queue": ("Desk", "late", "Due"), "portal": ("Requests", "Conversation", "Write to us")},
}


def desk_scene(operator, owner):
    acme = Client.objects.get(code="acme")
    globex = Client.objects.get(code="globex")
    yamada = Contact.objects.get(client=acme, email="yamada@acme.example")
    now = timezone.now()
    late = services.create_request(
        acme,
        channel="email",
        subject="お問い合わせフォームから送信できない（至急）",
        body="送信ボタンを押すとエラー画面になります。",
        contact=yamada,
    )
    Request.objects.filter(pk=late.pk).update(first_response_due=now - dt.timedelta(hours=2))
    soon = services.create_request(
        globex,
        channel="phone",
        subject="Replace the team photo on the About page",
        body="New photo attached.",
        requester="Mr. Brown",
        actor=operator,
    )
    Request.objects.filter(pk=soon.pk).update(first_response_due=now + dt.timedelta(hours=3))
    portal = services.create_request(
        acme,
        channel="portal",
        subject="採用ページの募集要項を更新してください",
        body="2027年度の募集要項に差し替えてください。PDF を添付します。",
        actor=owner,
    )
    services.add_attachment(
        portal, filename="募集要項2027.pdf", content=b"%PDF-1.4 test", actor=owner
    )
    services.add_note(portal, "社内メモ：先方の CMS は古いので注意", operator)
    services.reply(portal, "承知しました。明日中に更新いたします。", operator)
    return portal


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_desk_queue_and_the_portal_request_page(
    language, acme, globex, operator, owner, live_server, page
):
    portal = desk_scene(operator, owner)
    operator.language = language
    operator.save()
    sign_in_as(page.context, live_server, operator)
    for size in (SMALL, WIDE):
        page.set_viewport_size(size)
        response = page.goto(live_server.url + reverse("desk_queue"))
        assert response.status == 200
        text = page.locator("main").inner_text()
        for words in WORDS[language]["queue"]:
            assert words in text, (size, words)
        rows = page.locator("table.desk-queue tbody tr")
        assert "至急" in rows.nth(0).inner_text()  # the late one first
        assert "late" in (rows.nth(0).get_attribute("class") or "")
        assert overflow(page) == [], size
        if size is WIDE:
            nav = page.locator("nav.mainnav")
            assert nav.evaluate("n => n.scrollWidth <= n.clientWidth + 1")
        shoot(page, f"desk-queue-{size['width']}-{language}")
        # The request as the operator works it: every part of the desk on one page.
        response = page.goto(live_server.url + portal.get_absolute_url())
        assert response.status == 200
        for part in ("targets", "classify", "waiting", "thread", "write", "attachments", "work"):
            assert page.locator(f"#{part}").count() == 1, (size, part)
        assert "社内メモ" in page.locator("main").inner_text()  # staff read internal notes
        assert overflow(page) == [], size
        shoot(page, f"desk-staff-request-{size['width']}-{language}")
    page.context.clear_cookies()
    owner.language = language
    owner.save()
    sign_in_as(page.context, live_server, owner)
    for size in (SMALL, WIDE):
        page.set_viewport_size(size)
        response = page.goto(live_server.url + portal.get_absolute_url())
        assert response.status == 200
        text = page.locator("main").inner_text()
        for words in WORDS[language]["portal"]:
            assert words in text, (size, words)
        assert "明日中に更新いたします" in text and "募集要項2027.pdf" in text
        assert "社内メモ" not in text
        assert overflow(page) == [], size
        if size is WIDE:  # the portal's menu, with Requests in it, fits a desk
            nav = page.locator("nav.mainnav")
            assert nav.evaluate("n => n.scrollWidth <= n.clientWidth + 1")
        shoot(page, f"desk-portal-request-{size['width']}-{language}")
