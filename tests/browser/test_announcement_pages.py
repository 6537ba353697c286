"""Announcements on a 360 px phone, in Japanese and English (NOT-04): the operator's form and
the preview of recipients, the client's announcement in the portal; nothing wider than the
screen. Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from mamori.announcements import services
from mamori.clients.models import Contract
from tests.browser.phone import overflow, shoot, sign_in_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("NOT-04"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

NARROW = {"width": 360, "height": 800}


@pytest.mark.parametrize(
    "language, preview, sent",
    [("ja", "今送信した場合の宛先", "お知らせ"), ("en", "Recipients if sent now", "Announcements")],
)
def test_an_announcement_on_a_phone(
    scene, operator, owner, live_server, page, language, preview, sent
):
    from mamori.announcements.models import NoticePeriod
    from mamori.clients.models import TermsProfile

    # The shipped rows are gone after an earlier test's flush (transaction=True): made again.
    profile, _ = TermsProfile.objects.get_or_create(
        code="monthly-004",
        defaults={"name_ja": "運用支援サービス", "name_en": "Operations support", "term_months": 1},
    )
    NoticePeriod.objects.get_or_create(
        terms_profile=profile, kind="terms_change", defaults={"days": 14, "source": "004 §2"}
    )
    Contract.objects.create(
        client=scene.acme,
        type="operations_support",
        start=dt.date(2026, 6, 1),
        terms_profile=profile,
    )
    a = services.create(
        {
            "kind": "terms_change",
            "effective_on": timezone.localdate() + dt.timedelta(days=14),
            "subject_ja": "運用支援サービス約款の改定について（第5条・第29条の変更）",
            "subject_en": "Changes to the operations support terms (articles 5 and 29)",
            "body_ja": "料金表と提供時間を改定します。詳しくは添付の新旧対照表をご覧ください。",
            "body_en": "We are revising the fee table and the hours of service.",
        },
        actor=operator,
    )
    for user in (operator, owner):
        user.language = language
        user.save()
    page.set_viewport_size(NARROW)
    sign_in_as(page.context, live_server, operator)
    page.goto(f"{live_server.url}/announcements/new/")
    assert page.locator("html").get_attribute("lang") == language
    assert overflow(page) == []
    shoot(page, f"announcement-form-360-{language}")
    page.goto(f"{live_server.url}/announcements/{a.pk}/")
    assert preview in page.locator("#recipients").inner_text()
    assert "keiri@acme.example" in page.locator("#recipients").inner_text()
    assert overflow(page) == []
    shoot(page, f"announcement-preview-360-{language}")
    page.goto(f"{live_server.url}/announcements/periods/")
    assert overflow(page) == []
    shoot(page, f"announcement-periods-360-{language}")
    services.send(a, actor=operator)
    page.context.clear_cookies()
    sign_in_as(page.context, live_server, owner)
    page.goto(f"{live_server.url}/announcements/")
    assert sent in page.locator("h1").inner_text()
    subject = a.subject_ja if language == "ja" else a.subject_en
    assert subject in page.locator("main").inner_text()
    assert overflow(page) == []
    shoot(page, f"announcement-portal-360-{language}")
