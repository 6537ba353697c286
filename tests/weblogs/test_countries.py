"""Visitors by country from a local database in MaxMind's format (MNT-06): counted only when
one is configured, each new visitor of a day once, only the country code kept; a database
replaced in place is read anew; an unreadable one leaves the visitors counted and tells the
operator. The database is a real .mmdb file written by the tests, read by MaxMind's reader."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from django.core.management import call_command
from django.utils import translation
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from mamori.clients.models import Contract, ContractType
from mamori.core.tokens import create_token
from mamori.reports import build, render
from mamori.reports.models import Report
from mamori.weblogs import services
from mamori.weblogs.models import DayFigures, MonthCount
from tests.weblogs.conftest import CHROME, FIREFOX, GOOGLEBOT, line

pytestmark = pytest.mark.req("MNT-06")

OCTOBER = dt.date(2026, 10, 1)


def country_database(path, networks: dict[str, str]):
    """A country database as GeoLite2-Country shapes its records."""
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    for network, code in networks.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    return path


NETWORKS = {"203.0.113.0/25": "JP", "198.51.100.0/24": "US", "2001:db8::/32": "DE"}


def october_lines() -> list[str]:
    """Day one: five visitors (two from Japan, one each from the US and Germany, one from an
    address the database does not know), one of them twice, and a search bot; day two: the
    first visitor again (a visitor is counted once a day)."""
    d1, d2 = "10/Oct/2026", "11/Oct/2026"
    return [
        line("203.0.113.1", d1, "GET / HTTP/1.1", 200, FIREFOX),
        line("203.0.113.1", d1, "GET /about/ HTTP/1.1", 200, FIREFOX),
        line("203.0.113.2", d1, "GET / HTTP/2.0", 200, CHROME),
        line("198.51.100.7", d1, "GET / HTTP/2.0", 200, FIREFOX),
        line("2001:db8::5", d1, "GET / HTTP/2.0", 200, FIREFOX),
        line("192.0.2.200", d1, "GET / HTTP/2.0", 200, CHROME),
        line("66.249.66.1", d1, "GET / HTTP/1.1", 200, GOOGLEBOT),
        line("203.0.113.1", d2, "GET / HTTP/1.1", 200, FIREFOX),
    ]


def countries(site) -> dict[str, int]:
    return dict(services.month_figures(site, OCTOBER).top["country"])


def test_visitors_are_counted_by_country_and_no_address_is_kept(site, tmp_path, settings):
    settings.MAMORI_GEOIP_DATABASE = str(country_database(tmp_path / "country.mmdb", NETWORKS))
    log = tmp_path / "access.log"
    log.write_text("".join(october_lines()))
    services.import_file(site, log)

    assert countries(site) == {"JP": 3, "US": 1, "DE": 1, "--": 1}
    assert sum(countries(site).values()) == services.month_figures(site, OCTOBER).visitors == 6
    # Read again: nothing counted twice; a new line adds its new visitor only.
    services.import_file(site, log)
    with log.open("a") as f:
        f.write(line("198.51.100.8", "11/Oct/2026", "GET / HTTP/1.1", 200, CHROME))
        f.write(line("203.0.113.1", "11/Oct/2026", "GET /news/ HTTP/1.1", 200, FIREFOX))
    services.import_file(site, log)
    assert countries(site) == {"JP": 3, "US": 2, "DE": 1, "--": 1}
    # Only codes and counts: no address in any count.
    keys = MonthCount.objects.filter(site=site).values_list("key", flat=True)
    assert not [k for k in keys if "203.0.113" in k or "198.51.100" in k or "2001:db8" in k]


def test_without_a_database_there_are_no_countries(site, tmp_path, settings):
    settings.MAMORI_GEOIP_DATABASE = ""
    log = tmp_path / "access.log"
    log.write_text("".join(october_lines()))
    services.import_file(site, log)
    assert services.month_figures(site, OCTOBER).visitors == 6
    assert countries(site) == {}


def test_a_database_replaced_in_place_is_read_anew(site, tmp_path, settings):
    database = tmp_path / "country.mmdb"
    settings.MAMORI_GEOIP_DATABASE = str(country_database(database, NETWORKS))
    log = tmp_path / "access.log"
    log.write_text(line("203.0.113.1", "10/Oct/2026", "GET / HTTP/1.1", 200, FIREFOX))
    services.import_file(site, log)
    # geoipupdate writes the new copy next to the old one and renames it over it.
    newer = country_database(tmp_path / "country.mmdb.new", {"203.0.113.0/24": "KR"})
    newer.replace(database)
    with log.open("a") as f:
        f.write(line("203.0.113.9", "10/Oct/2026", "GET / HTTP/1.1", 200, FIREFOX))
    services.import_file(site, log)
    assert countries(site) == {"JP": 1, "KR": 1}


def test_an_unreadable_database_leaves_the_visitors_counted_and_tells_the_operator(
    site, tmp_path, settings, caplog, client, operator
):
    broken = tmp_path / "country.mmdb"
    broken.write_bytes(b"this is not a MaxMind database\n" * 20)
    settings.MAMORI_GEOIP_DATABASE = str(broken)
    log = tmp_path / "access.log"
    log.write_text("".join(october_lines()))
    with caplog.at_level(logging.WARNING, logger="mamori.weblogs.geo"):
        services.import_file(site, log)
    assert DayFigures.objects.get(site=site, day=dt.date(2026, 10, 10)).visitors == 5
    assert countries(site) == {}
    [warning] = [r.getMessage() for r in caplog.records if r.name == "mamori.weblogs.geo"]
    assert str(broken) in warning and "without countries" in warning

    client.force_login(operator)
    page = client.get(f"/visitors/sites/{site.pk}/?month=2026-10")  # in Japanese, the default
    assert page.status_code == 200
    text = page.content.decode()
    assert f"国・地域のデータベース {broken} を読み込めません: MaxMind 形式の" in text
    assert "訪問者は国・地域なしで集計されます" in text


def test_countries_by_name_in_the_readers_language_on_the_page_in_the_api_and_the_report(
    site, tmp_path, settings, client, operator, owner
):
    settings.MAMORI_GEOIP_DATABASE = str(country_database(tmp_path / "country.mmdb", NETWORKS))
    log = tmp_path / "access.log"
    log.write_text("".join(october_lines()))
    services.import_file(site, log)

    client.force_login(operator)
    page = client.get(f"/visitors/sites/{site.pk}/?month=2026-10").content.decode()
    assert "日本" in page and "アメリカ合衆国" in page and "ドイツ" in page

    out = io.StringIO()
    with translation.override("ja"):
        call_command("logs", "show", "acme/Example", "--month", "2026-10", stdout=out)
    assert "country:\n         3  JP 日本\n" in out.getvalue()

    token = create_token(owner, "test")[1]
    data = client.get(
        f"/api/v1/sites/{site.pk}/visitors?month=2026-10", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    assert data["countries"][0] == {"key": "JP", "count": 3}

    # The monthly report of a site maintenance client (the contract covering visitors).
    Contract.objects.create(
        client=site.client, type=ContractType.SITE_MAINTENANCE, start=dt.date(2026, 4, 1)
    )
    figures = build.build(site.client, OCTOBER)
    [row] = figures["sections"]["visitors"]["sites"]
    assert row["top_countries"][0] == ["JP", 3]
    report = Report(client=site.client, month=OCTOBER, figures=figures)
    for language, japan in (("ja", "日本"), ("en", "Japan")):
        [shown] = render.document(report, language).sections["visitors"]
        assert shown["countries"][0] == (japan, 3)
