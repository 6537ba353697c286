"""Check kinds and their settings (MON-01): exactly the probes' arguments, precise errors."""

import inspect

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from mamori.inventory.models import Server, Site
from mamori.monitoring.kinds import SETTINGS, CheckKind, probe_call, validate_settings
from mamori.monitoring.models import Check
from mamori.probe.checks import CHECKS

pytestmark = pytest.mark.req("MON-01")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def test_every_setting_is_a_keyword_argument_of_its_probe():
    from mamori.monitoring.kinds import check_tls

    probes = {**CHECKS, "tls": check_tls}
    assert set(SETTINGS) == set(CheckKind.values) == set(probes)
    for kind, rules in SETTINGS.items():
        parameters = inspect.signature(probes[kind]).parameters
        assert set(rules) <= set(parameters), kind
        assert "timeout" in parameters, kind  # the check's timeout is passed to every probe


@pytest.mark.parametrize(
    ("kind", "settings", "problems"),
    [
        ("http", {"url": "https://www.example.jp/"}, []),
        ("http", {}, ["url: required"]),
        (
            "http",
            {"url": "ftp://x.example/"},
            ["url: must be an http:// or https:// URL with a host"],
        ),
        (
            "http",
            {"url": "https://x.example/", "expect_status": [200, 999], "method": "BREW"},
            [
                "method: must be one of GET, HEAD, POST, PUT, OPTIONS",
                "expect_status: must be a non-empty list of HTTP status codes (100–599)",
            ],
        ),
        (
            "http",
            {"url": "https://x.example/", "max_response_ms": 0, "follow_redirects": "yes"},
            [
                "max_response_ms: must be a positive number of milliseconds",
                "follow_redirects: must be true or false",
            ],
        ),
        (
            "http",
            {"url": "https://x.example/", "headers": {"X-A": 1}},
            ["headers: must be an object of header names to string values"],
        ),
        ("tcp", {"host": "mail.example.jp", "port": 25}, []),
        ("tcp", {"host": "mail.example.jp"}, ["port: required"]),
        (
            "tcp",
            {"host": "mail.example.jp", "port": 70000},
            ["port: must be an integer from 1 to 65535"],
        ),
        (
            "tcp",
            {"host": "https://mail.example.jp", "port": 25},
            ["host: must be a host name or IP address (no scheme, port or path)"],
        ),
        ("tcp", {"host": "2001:db8::1", "port": 25}, []),
        ("dns", {"name": "example.jp", "rdtype": "mx", "expected": ["10 mx.example.jp"]}, []),
        (
            "dns",
            {"name": "example.jp", "rdtype": "XX"},
            ["rdtype: must be one of A, AAAA, CNAME, MX, NS, TXT, CAA, SOA, SRV, PTR"],
        ),
        (
            "dns",
            {"name": "example.jp", "nameservers": ["ns1.example.jp"]},
            ["nameservers: 'ns1.example.jp' is not an IP address (give name servers by address)"],
        ),
        (
            "dns",
            {"name": "example.jp", "port": 53},
            ["port: not a setting of dns checks (allowed: name, rdtype, expected, nameservers)"],
        ),
        ("icmp", {"host": "192.0.2.1"}, []),
        ("rdap", {"domain": "example.jp", "warn_days": 30}, []),
        (
            "rdap",
            {"domain": "localhost", "warn_days": -1},
            [
                "domain: must be a registered domain name such as example.jp",
                "warn_days: must be an integer from 0 to 365",
            ],
        ),
        ("tls", {"host": "www.example.jp", "port": 443, "sni": "www.example.jp"}, []),
        ("tls", {"port": True}, ["host: required", "port: must be an integer from 1 to 65535"]),
        ("smtp", {}, ["unknown kind 'smtp'"]),
        ("tcp", ["host"], ["settings must be a JSON object"]),
    ],
)
def test_it_validates_settings_per_kind_with_precise_messages(kind, settings, problems):
    assert validate_settings(kind, settings) == problems


def test_it_passes_the_check_timeout_and_normalises_names():
    assert probe_call("http", {"url": "http://x.example/", "method": "head"}, 7) == (
        "http",
        {"url": "http://x.example/", "method": "HEAD", "timeout": 7.0},
    )


def test_a_check_must_belong_to_the_client_of_its_site_and_server(acme, globex, acme_site):
    other = Server.objects.create(client=globex, name="other", kind="vps")
    check = Check(
        client=acme,
        site=acme_site,
        server=other,
        name="www",
        kind="tcp",
        settings={"host": "www.acme.example", "port": 80},
        interval_seconds=20,
        timeout_seconds=30,
    )
    with pytest.raises(ValidationError) as caught:
        check.full_clean()
    errors = caught.value.message_dict
    assert set(errors) == {"server", "interval_seconds", "timeout_seconds"}
    assert errors["server"] == ["The server belongs to another client."]
    assert errors["timeout_seconds"] == ["The timeout must be shorter than the interval."]

    check.server = None
    check.site = Site.objects.create(client=globex, name="g", url="https://g.example/")
    check.interval_seconds = 60
    with pytest.raises(ValidationError) as caught:
        check.full_clean()
    assert caught.value.message_dict == {"site": ["The site belongs to another client."]}


def test_full_clean_reports_the_settings_problems(acme):
    check = Check(client=acme, name="dns", kind="dns", settings={"rdtype": "A"})
    with pytest.raises(ValidationError) as caught:
        check.full_clean()
    assert caught.value.message_dict == {"settings": ["name: required"]}


def test_problems_are_given_in_the_active_language_with_the_setting_name_as_is():
    with translation.override("ja"):
        problems = validate_settings("tcp", {"port": 0, "path": "/"})
    assert problems == [
        "host: 必須です",
        "port: 1 から 65535 までの整数で指定してください",
        "path: tcp チェックの設定項目ではありません（指定できるもの: host, port）",
    ]
