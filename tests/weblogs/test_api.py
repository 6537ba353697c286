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
