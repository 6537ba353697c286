"""A server's vulnerabilities page on a phone, in Japanese and English (MNT-02): findings with
their severity and fix, the record of updates, nothing wider than the screen. Screenshots go to
test-artifacts/ for a person to look at."""

from __future__ import annotations

import pytest

from mamori.advisories import feeds, matching, updates
from tests.advisories.conftest import FIXTURES
from tests.browser.phone import PHONE, overflow, shoot, sign_in_as

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("MNT-02"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

INSTALLED = [
    ("Debian:12", "openssl", "3.0.11-1~deb12u2"),
    ("Debian:12", "zlib", "1:1.2.13.dfsg-1"),
    ("PyPI", "Jinja2", "3.1.2"),
    ("npm", "lodash", "4.17.20"),
    ("Packagist", "guzzlehttp/guzzle", "7.4.4"),
]


@pytest.mark.parametrize(
    "language, heading, no_fix",
    [
        ("ja", "未解決の該当", "正式な修正はまだありません"),
        ("en", "Open findings", "No official fix yet"),
    ],
)
def test_a_servers_findings_on_a_phone(
    scene, operator, live_server, page, language, heading, no_fix
):
    feeds.import_path(FIXTURES)
    matching.scan_server(scene.server, INSTALLED)
    updates.record_update(
        operator,
        scene.acme,
        {
            "server": scene.server,
            "package": "openssl",
            "from_version": "3.0.11-1~deb12u2",
            "to_version": "3.0.13-1~deb12u1",
            "kind": "urgent",
            "notify_client": False,
        },
    )
    operator.language = language
    operator.save()
    page.set_viewport_size(PHONE)
    sign_in_as(page.context, live_server, operator)
    page.goto(f"{live_server.url}/advisories/servers/{scene.server.pk}/")
    assert page.locator("html").get_attribute("lang") == language
    findings = page.locator("#findings")
    assert heading in findings.inner_text()
    assert "GHSA-9999-llll-0002" in findings.inner_text()
    assert "3.0.13-1~deb12u1" in findings.inner_text()
    assert no_fix in findings.inner_text()
    assert "openssl" in page.locator("#updates").inner_text()
    assert overflow(page) == []
    shoot(page, f"advisories-server-{language}")
