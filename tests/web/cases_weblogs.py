"""Tenancy cases of the visitors' pages (MNT-06; see tests/web/tenancy.py). acme's people read
their sites' figures; provider staff set up, collect and upload logs."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from mamori.clients.models import Client
from mamori.inventory.models import Site
from mamori.weblogs.models import DayFigures, LogFile, LogSetup, MonthCount
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, PAGE, Case

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})
LINE = (
    b'203.0.113.5 - - [10/Oct/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 512 "-" '
    b'"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"\n'
)


def acme_site() -> Site:
    acme = Client.objects.get(code="acme")
    site = Site.objects.get_or_create(
        client=acme, url="https://visitors.acme.example/", defaults={"name": "visitors"}
    )[0]
    # No server: a collection fails at once (no SSH login), and is recorded.
    LogSetup.objects.get_or_create(site=site, defaults={"paths": "/var/log/nginx/access.log*"})
    # This month's figures, so that the page shows every section.
    today = timezone.localdate()
    DayFigures.objects.get_or_create(
        site=site, day=today, defaults={"hits": 9, "page_views": 5, "visitors": 3, "bot_hits": 2}
    )
    for dimension, key in (
        ("page", "/about/"),
        ("status", "200"),
        ("referrer", "www.google.com"),
        ("search_bot", "Googlebot"),
        ("bot", "AhrefsBot"),
    ):
        MonthCount.objects.get_or_create(
            site=site,
            month=today.replace(day=1),
            dimension=dimension,
            key=key,
            defaults={"count": 2},
        )
    return site


def weblog_rows():
    acme_site()
    return [
        list(LogSetup.objects.values().order_by("pk")),
        list(LogFile.objects.values().order_by("pk")),
        list(DayFigures.objects.values().order_by("pk")),
    ]


EXEMPT: dict[str, str] = {}

CASES: dict[str, Case] = {
    "weblogs:site": Case(PAGE, lambda s: {"pk": acme_site().pk}, readers=ACME_PEOPLE),
    "weblogs:setup": Case(
        FORM,
        lambda s: {"pk": acme_site().pk},
        post=lambda s: {
            "enabled": "on",
            "paths": "/var/log/apache2/visitors.access.log*",
            "log_format": "combined",
            "interval_hours": "6",
        },
        readers=STAFF,
        writers=STAFF,
        snapshot=weblog_rows,
    ),
    "weblogs:collect": Case(
        ACTION,
        lambda s: {"pk": acme_site().pk},
        post=lambda s: {},
        writers=STAFF,
        snapshot=weblog_rows,
    ),
    "weblogs:import": Case(
        FORM,
        lambda s: {"pk": acme_site().pk},
        post=lambda s: {
            "file": SimpleUploadedFile("access.log", LINE, content_type="text/plain"),
            "log_format": "combined",
        },
        readers=STAFF,
        writers=STAFF,
        snapshot=weblog_rows,
    ),
}
