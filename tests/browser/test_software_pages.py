"""A server's software page in Chromium (MNT-01, MNT-07): collected from the real sshd test host,
read by an operator and by the client's administrator (read-only: no collection, no setup, no
acknowledging), on a 360 px phone and at a 1280 px desk, in Japanese and English; nothing wider
than the screen. Screenshots: test-artifacts/software-server-<role>-<width>-<language>.png."""

from __future__ import annotations

import threading

import pytest
from django.urls import reverse

from mamori.software import services
from tests.browser.phone import overflow, shoot, sign_in_as
from tests.software.conftest import public_key, server, setup, tree  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("MNT-01"),
    pytest.mark.req("MNT-07"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]


def collect(managed) -> None:
    """Collect in a thread of its own: Playwright's sync API keeps an event loop running in
    this one, and the SSH session runs its own loop."""
    thread = threading.Thread(target=services.collect_server, args=(managed,))
    thread.start()
    thread.join(120)


WORDS = {
    "ja": (
        "のソフトウェア",
        "OS とミドルウェア",
        "サポート終了",
        "アカウント",
        "SSH の許可された鍵",
    ),
    "en": (
        "Software of",
        "Operating system and stack",
        "End of life",
        "Accounts",
        "SSH authorized keys",
    ),
}
STAFF_ONLY = {"ja": ("今すぐ収集", "収集の設定"), "en": ("Collect now", "Collection setup")}


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("role", ["operator", "owner"])
def test_a_servers_software_page(role, language, setup, server, tree, live_server, page, request):  # noqa: F811
    key, fingerprint = public_key("alice@laptop")
    tree.write("home/deploy/.ssh/authorized_keys", key + "\n")
    collect(server)
    # A second run that finds a new key: an account change to show.
    other, _ = public_key("mallory")
    tree.write("home/deploy/.ssh/authorized_keys", key + "\n" + other + "\n")
    collect(server)

    user = request.getfixturevalue(role)
    user.language = language
    user.save()
    sign_in_as(page.context, live_server, user)
    url = live_server.url + reverse("software:server", args=[server.pk])
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.goto(url).status == 200
        text = page.locator("main").inner_text()
        for words in WORDS[language]:
            assert words in text, (width, words)
        assert "wordpress" in text and "6.4.2" in text
        assert fingerprint in text
        assert ("Debian" in text) and ("2026-07-11" in text)  # Debian 12's end of life
        for words in STAFF_ONLY[language]:
            assert (words in text) == (role == "operator"), (role, words)
        assert overflow(page) == [], width
        shoot(page, f"software-server-{role}-{width}-{language}")
