"""A managed site and access log lines written by the tests, with known answers."""

from __future__ import annotations

import pytest

from mamori.inventory.models import Server, Site

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
AHREFS = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"


def line(ip, day, request, status, ua, referrer="-", size="512", hour="10:00:00"):
    """One line in nginx's combined format."""
    return f'{ip} - - [{day}:{hour} +0900] "{request}" {status} {size} "{referrer}" "{ua}"\n'


def day_one() -> list[str]:
    """10 October 2026: 10 hits (1 POST, 3 bots), 4 page views, 3 visitors, 1 malformed line.

    - 203.0.113.1 with Firefox: / (200), /style.css (an asset), /about/ from Google;
    - 203.0.113.2 with Chrome: / from the site itself, /missing (404), POST /contact/;
    - 203.0.113.1 with an iPhone (a second visitor): /news/?id=3 (304);
    - Googlebot (a search bot), AhrefsBot and an empty user agent (other bots).
    """
    d = "10/Oct/2026"
    return [
        line("203.0.113.1", d, "GET / HTTP/1.1", 200, FIREFOX),
        line("203.0.113.1", d, "GET /style.css HTTP/1.1", 200, FIREFOX, size="-"),
        line(
            "203.0.113.1",
            d,
            "GET /about/ HTTP/1.1",
            200,
            FIREFOX,
            referrer="https://www.google.com/search?q=mamori",
        ),
        line("203.0.113.2", d, "GET / HTTP/2.0", 200, CHROME, referrer="https://example.jp/"),
        "this line is not an access log line\n",
        line("203.0.113.2", d, "GET /missing HTTP/2.0", 404, CHROME),
        line("203.0.113.2", d, "POST /contact/ HTTP/2.0", 200, CHROME),
        line("203.0.113.1", d, "GET /news/?id=3 HTTP/1.1", 304, IPHONE),
        line("66.249.66.1", d, "GET / HTTP/1.1", 200, GOOGLEBOT),
        line("54.36.148.1", d, "GET /about/ HTTP/1.1", 200, AHREFS),
        line("198.51.100.9", d, "GET / HTTP/1.0", 200, "-"),
    ]


def day_two() -> list[str]:
    """11 October 2026: 203.0.113.1 with Firefox again: 1 hit, 1 page view, 1 visitor."""
    return [line("203.0.113.1", "11/Oct/2026", "GET / HTTP/1.1", 200, FIREFOX)]


@pytest.fixture
def site(acme) -> Site:
    server = Server.objects.create(client=acme, name="web1", kind="vps")
    return Site.objects.create(
        client=acme, name="Example", url="https://example.jp/", server=server
    )


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English (Mamori's default language is Japanese)."""
    from django.utils import translation

    with translation.override("en"):
        yield
