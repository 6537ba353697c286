"""Domain registration expiry (CERT-16): an RDAP check that finds the registration expiring
tells the client's contacts for certificates and the operators, once per stage, in each one's
language, and stops when the registration is renewed."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mamori.monitoring.models import Sample
from mamori.monitoring.registration import stage
from mamori.monitoring.services import run_due
from mamori.notices.models import Notice, NoticeKind

pytestmark = pytest.mark.req("CERT-16")

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def registration(days: int) -> bytes:
    # RDAP checks judge against the real clock; an hour's margin keeps the day count whole.
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days, hours=1)
    return json.dumps(
        {
            "objectClassName": "domain",
            "ldhName": "acme.example",
            "events": [{"eventAction": "expiration", "eventDate": expires.isoformat()}],
            "entities": [
                {
                    "objectClassName": "entity",
                    "roles": ["registrar"],
                    "vcardArray": ["vcard", [["fn", {}, "text", "Example Registrar KK"]]],
                }
            ],
        }
    ).encode()


def test_the_stage_is_the_smallest_threshold_at_or_above_the_days_left(settings) -> None:
    settings.MAMORI_EXPIRY_NOTICE_DAYS = [90, 60, 30, 14, 7, 3, 1]
    assert [stage(30, days) for days in (30, 29.5, 14.2, 14, 8, 7, 2, 0.5)] == [
        30,
        30,
        30,
        14,
        14,
        7,
        3,
        1,
    ]
    assert stage(45, 40) == 45  # the check's own warning comes first


def test_an_expiring_domain_is_told_once_per_stage_until_it_is_renewed(
    acme, operator, nginx, make_check
) -> None:
    port = nginx.add_files("rdap", {"domain/acme.example": registration(20)})
    nginx.start()
    rdap_file = nginx.prefix / "http" / "rdap" / "domain" / "acme.example"
    check = make_check(
        acme,
        "rdap",
        {"domain": "acme.example", "base_url": f"http://127.0.0.1:{port}/", "warn_days": 30},
        interval_seconds=3600,
    )
    told = Notice.objects.filter(kind=NoticeKind.DOMAIN_EXPIRING)

    run_due(T0)
    first = list(told.order_by("pk"))
    by_recipient = {n.recipient: n for n in first}
    # The contacts who receive certificate notices, and the operator; not the accountant.
    assert {"yamada@acme.example", "jane@acme.example"} <= set(by_recipient)
    assert "keiri@acme.example" not in by_recipient
    assert any(n.recipient_kind == "operator" for n in first)
    japanese, english = by_recipient["yamada@acme.example"], by_recipient["jane@acme.example"]
    assert japanese.subject == (
        "【ドメイン有効期限のお知らせ】acme.example の登録期限まで残り20日です"
    )
    assert "登録事業者（レジストラ）: Example Registrar KK" in japanese.body_text
    assert english.subject == "[Domain expiry] The registration of acme.example expires in 20 days"
    assert "Please renew it with the registrar" in english.body_text

    # Later runs in the same stage (recorded as quiet successes) send nothing more.
    run_due(T0 + DAY)
    assert told.count() == len(first)

    # The next stage (7 days) is told once more.
    rdap_file.write_bytes(registration(5))
    run_due(T0 + 2 * DAY)
    run_due(T0 + 3 * DAY)
    second = told.exclude(pk__in=[n.pk for n in first])
    assert second.count() == len(first)
    assert second.get(recipient="jane@acme.example").subject.endswith("expires in 5 days")

    # Renewed: the flag clears and nothing more is sent.
    rdap_file.write_bytes(registration(400))
    run_due(T0 + 4 * DAY)
    assert told.count() == 2 * len(first)
    latest = Sample.objects.filter(uptime_check=check).latest("at")
    assert (latest.ok, latest.error_code) == (True, "")
