"""The announcement pages (NOT-04): draft, preview of recipients, send once; the notice
periods; a client sees its own announcements in the portal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.announcements import services
from mamori.announcements.models import Announcement, NoticePeriod
from mamori.core.models import AuditEvent
from mamori.notices.models import Notice, NoticeKind
from tests.announcements.conftest import profile

pytestmark = pytest.mark.req("NOT-04")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def form(day: dt.date, **extra) -> dict:
    return {
        "kind": "terms_change",
        "effective_on": day.isoformat(),
        "subject_ja": "約款改定のお知らせ",
        "subject_en": "Changes to our terms",
        "body_ja": "第5条を改定します。",
        "body_en": "We are changing article 5.",
        "contract_types": ["operations_support"],
        **extra,
    }


def test_an_operator_drafts_previews_and_sends_once(ops, ca_client, operator, client):
    client.force_login(operator)
    today = timezone.localdate()
    # 13 days ahead: refused with the earliest allowed date (7 Dec + 14 = 21 Dec style).
    response = client.post(reverse("announcement_add"), form(today + dt.timedelta(days=13)))
    assert response.status_code == 400
    earliest = (today + dt.timedelta(days=14)).isoformat()
    assert earliest in response.content.decode()
    assert not Announcement.objects.exists()
    response = client.post(reverse("announcement_add"), form(today + dt.timedelta(days=14)))
    assert response.status_code == 302
    a = Announcement.objects.get()
    page = client.get(a.get_absolute_url()).content.decode()
    # The preview: acme (operations support) only, to its contact for contract notices.
    assert "株式会社アクメ" in page and "keiri@acme.example" in page
    assert "株式会社カイシャ" not in page
    assert client.post(reverse("announcement_send", args=[a.pk])).status_code == 302
    assert client.post(reverse("announcement_send", args=[a.pk])).status_code == 302
    assert Notice.objects.filter(kind=NoticeKind.ANNOUNCEMENT).count() == 1
    # A sent announcement's form is closed.
    response = client.get(reverse("announcement_edit", args=[a.pk]))
    assert response.status_code == 302


def test_a_client_sees_its_announcements_in_its_language(ops, ca_client, operator, owner, client):
    a = services.create(
        {
            "kind": "maintenance",
            "effective_on": timezone.localdate() + dt.timedelta(days=3),
            "subject_ja": "共用設備の保守",
            "subject_en": "Maintenance of shared equipment",
            "body_ja": "深夜に作業します。",
            "body_en": "Work at night.",
            "contract_types": ["operations_support"],
        },
        actor=operator,
    )
    draft_seen = Announcement.objects.visible_to(owner).exists()
    assert not draft_seen
    services.send(a, actor=operator)
    owner.language = "en"
    owner.save()
    client.force_login(owner)
    listing = client.get(reverse("announcement_list")).content.decode()
    assert "Maintenance of shared equipment" in listing
    detail = client.get(a.get_absolute_url()).content.decode()
    assert "Work at night." in detail and "深夜に作業します。" not in detail
    assert "株式会社カイシャ" not in detail


def test_an_announcement_to_another_client_is_hidden(ops, ca_client, operator, owner, client):
    a = services.create(
        {
            "kind": "maintenance",
            "effective_on": timezone.localdate() + dt.timedelta(days=3),
            "subject_ja": "カイシャ様向け",
            "subject_en": "For kaisha",
            "body_ja": "本文",
            "body_en": "Text",
            "contract_types": ["ca_service"],
        },
        actor=operator,
    )
    services.send(a, actor=operator)
    client.force_login(owner)
    assert client.get(a.get_absolute_url()).status_code == 404
    assert "For kaisha" not in client.get(reverse("announcement_list")).content.decode()


@pytest.mark.parametrize("role", ["owner", "member", "subcontractor"])
def test_only_administrators_and_operators_draft_and_set_periods(role, ops, client, request):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("announcement_add")).status_code == 403
    assert client.get(reverse("announcement_periods")).status_code == 403
    today = timezone.localdate()
    assert client.post(reverse("announcement_add"), form(today)).status_code == 403


def test_an_operator_changes_a_notice_period(ops, operator, client):
    client.force_login(operator)
    page = client.get(reverse("announcement_periods")).content.decode()
    assert "004 §2" in page
    pk = profile("monthly-004").pk
    response = client.post(
        reverse("announcement_periods"),
        {f"p{pk}_terms_change_days": "30", f"p{pk}_terms_change_months": "0"},
    )
    assert response.status_code == 302
    period = NoticePeriod.objects.get(terms_profile_id=pk, kind="terms_change")
    assert (period.days, period.months) == (30, 0)
    # Untouched cells keep their values: 004 §24's two months.
    assert NoticePeriod.objects.get(terms_profile_id=pk, kind="service_end").months == 2
    assert AuditEvent.objects.filter(action="announcement.period").count() == 1
    response = client.post(reverse("announcement_periods"), {f"p{pk}_service_end_days": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_operators_pages_speak_one_language(language, ops, operator, client):
    from tests.web.test_one_language import other_language, visible_text

    operator.language = language
    operator.save()
    client.force_login(operator)
    names = ["株式会社アクメ", "山田太郎", "経理担当", "東京都千代田区1-1"]
    for name in ("announcement_add", "announcement_periods", "announcement_list"):
        html = client.get(reverse(name)).content.decode()
        found = other_language(visible_text(html, names), language)
        assert not found, f"{name} in {language}: {found}"


def test_sending_is_refused_to_everyone_but_administrators_and_operators(
    ops, operator, owner, member, subcontractor, outsider, client
):
    a = services.create(
        {
            "kind": "maintenance",
            "effective_on": timezone.localdate() + dt.timedelta(days=3),
            "subject_ja": "保守",
            "subject_en": "Maintenance",
            "body_ja": "本文",
            "body_en": "Text",
        },
        actor=operator,
    )
    url = reverse("announcement_send", args=[a.pk])
    # A draft: nobody but the announcers sees it.
    for user in (owner, member, subcontractor, outsider):
        client.force_login(user)
        assert client.post(url).status_code == 404
        assert client.get(reverse("announcement_edit", args=[a.pk])).status_code == 404
    assert not Notice.objects.exists()
    services.send(a, actor=operator)
    count = Notice.objects.count()
    # Sent to acme: its people and its subcontractor see it, and may not send it again.
    for user in (owner, member, subcontractor):
        client.force_login(user)
        assert client.post(url).status_code == 403
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    assert Notice.objects.count() == count
