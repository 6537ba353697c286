"""A site's visitors page in Chromium (MNT-06): figures counted from a log the test writes, read
by an operator and by the client's administrator (read-only: no setup, no upload, no files), on
a 360 px phone and at a 1280 px desk, in Japanese and English; nothing wider than the screen.
Screenshots: test-artifacts/visitors-<role>-<width>-<language>.png."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mamori.weblogs import services
from tests.browser.phone import overflow, shoot, sign_in_as
from tests.weblogs.conftest import day_one, day_two, site  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("MNT-06"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

WORDS = {
    "ja": ("の訪問者", "訪問者", "ページビュー", "日別", "検索エンジンのボット", "参照元"),
    "en": ("Visitors of", "Visitors", "Page views", "Each day", "Search engine bots", "Referrers"),
}
STAFF_ONLY = {
    "ja": ("アクセスログの設定", "ログファイルをアップロード", "読んだログファイル"),
    "en": ("Access log setup", "Upload a log file", "Log files read"),
}


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("role", ["operator", "owner"])
def test_a_sites_visitors_page(role, language, site, tmp_path, live_server, page, request):  # noqa: F811
    log = tmp_path / "access.log"
    log.write_text("".join(day_one() + day_two()))
    services.import_file(site, log)
    user = request.getfixturevalue(role)
    user.language = language
    user.save()
    sign_in_as(page.context, live_server, user)
    url = live_server.url + reverse("weblogs:site", args=[site.pk]) + "?month=2026-10"
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.goto(url).status == 200
        text = page.locator("main").inner_text()
        for words in WORDS[language]:
            assert words in text, (width, words)
        assert "www.google.com" in text and "Googlebot" in text and "2026-10-10" in text
        for words in STAFF_ONLY[language]:
            assert (words in text) == (role == "operator"), (role, words)
        assert overflow(page) == [], width
        shoot(page, f"visitors-{role}-{width}-{language}")
    client_page = live_server.url + site.client.get_absolute_url()
    assert page.goto(client_page).status == 200
    assert page.locator(f"a[href='{reverse('weblogs:site', args=[site.pk])}']").count() == 1
