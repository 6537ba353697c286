"""WordPress core and plugin vulnerabilities (MNT-02) from a feed in Wordfence Intelligence's
format, fetched from a local HTTP server with its API key, kept, and matched against the
WordPress versions of a server."""

from __future__ import annotations

import pytest

from mamori.advisories import feeds, matching, versions, wordpress
from mamori.advisories.models import Advisory, Feed, Finding
from mamori.inventory.models import Server
from tests.advisories.wordfence import FEED, KEY, FeedServer

pytestmark = [pytest.mark.req("MNT-02"), pytest.mark.django_db]

#: The test site of tests/software/conftest.py.
SITE = [
    ("WordPress", "wordpress", "6.4.2"),
    ("WordPress plugin", "akismet", "5.3"),
    ("WordPress plugin", "contact-form-7", "5.8.4"),
]


@pytest.fixture
def feed_server(settings):
    server = FeedServer(FEED)
    settings.MAMORI_WORDPRESS_FEED_URL = server.url
    settings.MAMORI_WORDPRESS_FEED_KEY = KEY
    yield server
    server.stop()


def test_wordpress_versions_order_as_php_does():
    # PHP's documented version_compare results.
    assert versions.compare("WordPress plugin", "5.8.4", "5.8.5") == -1
    assert versions.compare("WordPress plugin", "1.0", "1.0.0") == -1
    assert versions.compare("WordPress plugin", "1.0", "1.0-beta") == 1
    assert versions.compare("WordPress plugin", "1.0rc1", "1.0") == -1
    assert versions.compare("WordPress plugin", "1.0-alpha", "1.0-beta") == -1
    assert versions.compare("WordPress plugin", "1.0", "1.0pl1") == -1
    assert versions.compare("WordPress", "6.10", "6.9.4") == 1
    with pytest.raises(versions.VersionError):
        versions.key("WordPress plugin", "trunk")


def test_the_feed_is_fetched_with_its_key_kept_and_matched(feed_server, acme, operator):
    report = wordpress.refresh()
    assert report.added == 3 and not report.skipped  # the theme is not kept
    assert feed_server.requests[0][1] == f"Bearer {KEY}"
    cf7 = Advisory.objects.get(osv_id="WF-0a1b2c3d-0000-4000-8000-000000000001")
    assert cf7.aliases == ["CVE-2099-3001"]
    assert cf7.severity_score == 6.1 and cf7.level == "medium"
    assert cf7.url.endswith("/0a1b2c3d-0000-4000-8000-000000000001")
    assert Advisory.objects.get(osv_id="WF-0a1b2c3d-0000-4000-8000-000000000002").level == "high"
    feed = Feed.objects.get(ecosystem="Wordfence")
    assert feed.records == 3 and feed.checked_at and not feed.error

    # Unchanged: not downloaded again.
    assert wordpress.refresh().not_modified
    assert feed_server.downloads == 1

    web1 = Server.objects.create(client=acme, name="web1", kind="vps")
    matching.scan_server(web1, SITE)
    found = {
        f.advisory.osv_id[-2:]: (f.package, f.installed_version, f.level, f.fixed_version)
        for f in Finding.objects.open().filter(server=web1).select_related("advisory")
    }
    assert found == {
        # "* - 5.8.4" with 5.8.4 included; the feed's patched version is the fix.
        "01": ("contact-form-7", "5.8.4", "medium", "5.8.5"),
        # 6.4 up to 6.4.3 excluded.
        "03": ("wordpress", "6.4.2", "critical", "6.4.3"),
    }
    # The fixed versions are not affected.
    report = matching.scan_server(
        web1,
        [("WordPress", "wordpress", "6.4.3"), ("WordPress plugin", "contact-form-7", "5.8.5")],
    )
    assert len(report.closed) == 2


def test_a_wrong_key_is_a_feed_error_that_names_no_key(feed_server, settings):
    settings.MAMORI_WORDPRESS_FEED_KEY = "wrong-key-value"
    with pytest.raises(feeds.FeedError) as caught:
        wordpress.refresh()
    assert "HTTP 401" in str(caught.value) and "wrong-key-value" not in str(caught.value)
    assert "wrong-key-value" not in Feed.objects.get(ecosystem="Wordfence").error
    assert not Advisory.objects.exists()


def test_no_feed_configured_fetches_nothing(settings):
    settings.MAMORI_WORDPRESS_FEED_URL = ""
    assert wordpress.refresh() is None
    assert not Feed.objects.exists()
