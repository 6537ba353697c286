"""The visitors' API (MNT-06): the month's figures with known answers, the setup's validation,
what a client user may do."""

from __future__ import annotations

import pytest

from mamori.core.tokens import create_token
from mamori.weblogs import services
from tests.weblogs.conftest import day_one, day_two


def bearer(client, user):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {create_token(user, 'test')[1]}"
    return client


@pytest.mark.req("MNT-06")
def test_the_months_figures(site, tmp_path, owner, client):
    log = tmp_path / "access.log"
    log.write_text("".join(day_one() + day_two()))
    services.import_file(site, log)
    answer = bearer(client, owner).get(f"/api/v1/sites/{site.pk}/visitors?month=2026-10")
    assert answer.status_code == 200
    data = answer.json()
    assert (data["hits"], data["page_views"], data["visitors"], data["rejected_lines"]) == (
        11,
        5,
        4,
        1,
    )
    assert data["pages"][0] == {"key": "/", "count": 3}
    assert data["search_bots"] == [{"key": "Googlebot", "count": 1}]
    assert [d["day"] for d in data["days"]] == ["2026-10-10", "2026-10-11"]
    bad = client.get(f"/api/v1/sites/{site.pk}/visitors?month=October")
    assert bad.status_code == 422


def test_the_setup_is_validated_and_for_staff(site, operator, owner, client):
    url = f"/api/v1/sites/{site.pk}/visitors/setup"
    body = {"paths": ["/var/log/nginx/example.access.log*"], "interval_hours": 3}
    refused = bearer(client, owner).put(url, body, content_type="application/json")
    assert refused.status_code == 403
    operator.language = "en"
    operator.save()
    bearer(client, operator)
    saved = client.put(url, body, content_type="application/json")
    assert saved.status_code == 200
    assert saved.json()["paths"] == ["/var/log/nginx/example.access.log*"]
    unsafe = client.put(url, {"paths": ["/var/log/x; rm -rf /"]}, content_type="application/json")
    assert unsafe.status_code == 422
    collect = client.post(f"/api/v1/sites/{site.pk}/visitors/collect")
    assert collect.status_code == 200
    assert "no SSH login" in collect.json()["error"]


@pytest.mark.req("MNT-06")
def test_a_log_sent_as_the_body_is_counted_once(site, tmp_path, operator, owner, client):
    import gzip

    url = f"/api/v1/sites/{site.pk}/visitors/logs?name=access.log.1.gz"
    body = gzip.compress("".join(day_one() + day_two()).encode())
    staff = bearer(client, operator)
    answer = staff.post(url, body, content_type="application/octet-stream")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"path": "access.log.1.gz", "lines": 12, "rejected": 1, "skipped": ""}
    again = staff.post(url, body, content_type="application/octet-stream")
    assert again.status_code == 200 and again.json()["lines"] == 0  # counted once
    figures = staff.get(f"/api/v1/sites/{site.pk}/visitors?month=2026-10").json()
    assert (figures["hits"], figures["visitors"]) == (11, 4)

    # A log larger than Django's in-memory request limit (2.5 MB) is streamed, not refused.
    big = "".join(day_two() * 40_000).encode()
    assert len(big) > 3_000_000
    answer = staff.post(
        f"/api/v1/sites/{site.pk}/visitors/logs?name=big.log", big, content_type="text/plain"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["lines"] == 40_000

    wrong = staff.post(f"{url}&format=apache", body, content_type="application/octet-stream")
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["query", "format"]
    # A client's user sees the figures but does not send logs.
    refused = bearer(client, owner).post(url, body, content_type="application/octet-stream")
    assert refused.status_code == 403
