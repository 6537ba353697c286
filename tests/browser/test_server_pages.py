"""A server's pages as a user reads them (MNT-01, MNT-02, BKP-02): the server page with its end
of life dates from the shipped endoflife.date copy, links with counts to its vulnerability
findings and its backup job; the findings page; the backup calendar; the client page that leads
to them. At 360 and 1280 px, in Japanese and English: one language, nothing wider than the
screen. Screenshots: test-artifacts/server-<page>-<width>-<language>.png."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from mamori.advisories import feeds, matching
from mamori.advisories.models import Advisory
from mamori.software.models import Collection, Component, OperatingSystem, Package
from tests.advisories.conftest import FIXTURES
from tests.browser.phone import other_language, overflow, shoot, sign_in_as
from tests.browser.test_backup_pages import job_with_runs
from tests.web.test_one_language import user_data

pytestmark = [
    pytest.mark.browser,
    pytest.mark.req("MNT-01"),
    pytest.mark.req("MNT-02"),
    pytest.mark.django_db(databases="__all__", transaction=True),
]

INSTALLED = [
    ("Debian:12", "openssl", "3.0.11-1~deb12u2"),
    ("Debian:12", "zlib", "1:1.2.13.dfsg-1"),
]
STACK = [  # kind, name, version: what the collection reports
    ("web_server", "nginx", "1.22.1"),
    ("php", "php", "8.1.31"),
    ("database", "mariadb", "10.11.6"),
    ("cms", "wordpress", "6.4.2"),
]
WORDS = {
    "ja": ("サポート終了", "脆弱性", "バックアップ", "www.acme.example nightly"),
    "en": ("End of life", "Vulnerabilities", "Backups", "www.acme.example nightly"),
}


def furnish(server, client):
    """The server as a collection leaves it, with findings and a backup job of its own."""
    collection = Collection.objects.create(server=server, started_at=timezone.now(), state="ok")
    OperatingSystem.objects.create(
        server=server,
        os_id="debian",
        version_id="12",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
        collection=collection,
    )
    for kind, name, version in STACK:
        Component.objects.create(server=server, kind=kind, name=name, version=version, path="")
    for ecosystem, name, version in INSTALLED:
        Package.objects.create(
            server=server, ecosystem=ecosystem.split(":")[0], name=name, version=version
        )
    feeds.import_path(FIXTURES)
    matching.scan_server(server, INSTALLED)
    job = job_with_runs(client)
    job.server = server
    job.save(update_fields=["server"])
    return job


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_server_and_its_records(scene, operator, live_server, page, language):
    server = scene.server
    job = furnish(server, scene.acme)
    operator.language = language
    operator.save()
    sign_in_as(page.context, live_server, operator)
    # What people typed (the client's name ...) and the advisories' summaries (the feed's
    # words) are data, in their own language.
    data = (*user_data(scene), *Advisory.objects.values_list("summary", flat=True))
    pages = {
        "software": reverse("software:server", args=[server.pk]),
        "findings": reverse("advisory_server", args=[server.pk]),
        "packages": reverse("software:packages", args=[server.pk]),
        "updates": reverse("advisory_updates"),
        "backups": reverse("backup_list"),
        "client": reverse("client_detail", args=[scene.acme.code]),
    }
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in pages.items():
            assert page.goto(live_server.url + url).status == 200, name
            assert page.locator("html").get_attribute("lang") == language
            shoot(page, f"server-{name}-{width}-{language}")
            assert overflow(page) == [], (name, width)
            assert other_language(page, language, data) == [], (name, width)
        page.goto(live_server.url + pages["software"])
        text = page.locator("main").inner_text()
        for word in WORDS[language]:
            assert word in text, (width, word)
        # End of life from the shipped copy (endoflife.date): PHP 8.1's security support ended
        # on 31 December 2025, MariaDB 10.11 ends on 16 February 2028, nginx 1.22 on 11 April
        # 2023, WordPress 6.4 on 2 April 2024.
        eol = page.locator("#eol").inner_text()
        for date in ("2025-12-31", "2028-02-16", "2023-04-11", "2024-04-02", "2026-07-11"):
            assert date in eol, date
        related = page.locator("#related")
        assert related.locator(f"a[href='{pages['findings']}']").count() == 1
        assert related.locator(f"a[href='{job.get_absolute_url()}']").count() == 1
        # The client page leads to the server and to its findings.
        page.goto(live_server.url + pages["client"])
        servers = page.locator("#servers")
        assert servers.locator(f"a[href='{pages['software']}']").count() == 1
        assert servers.locator(f"a[href='{pages['findings']}']").count() == 1
