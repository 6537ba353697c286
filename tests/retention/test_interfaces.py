"""The retention plan and purge on the command line, the page and the API (END-02)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from mamori.core import audit
from mamori.core.models import AuditEvent
from mamori.notices.models import Notice
from tests.retention.support import ended_client, events, notice

pytestmark = pytest.mark.req("END-02")


@pytest.fixture
def oldco(db):
    client = ended_client()
    notice(client, 1)
    notice(client, 2)
    events(client, 2)
    return client


def test_plan_as_json_on_a_known_day(oldco, acme, capsys):
    call_command("retention", "plan", "--on", "2026-03-31", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data == [
        {
            "client": "oldco",
            "state": "keeping",
            "contract_end": "2023-03-31",
            "keep_until": "2026-03-31",
            "purge_on": "2026-04-01",
            "batches": [
                {"kind": "notices", "count": 2, "purge_on": "2026-04-01"},
                {"kind": "audit_events", "count": 2, "purge_on": "2026-04-01"},
            ],
        }
    ]


def test_plan_in_japanese(oldco, capsys):
    with translation.override("ja"):
        call_command("retention", "plan", "--on", "2026-04-01")
    out = capsys.readouterr().out
    assert "oldco: 保存期間満了" in out
    assert "契約終了 2023-03-31、保存期限 2026-03-31" in out
    assert "送信した通知：2 件、2026-04-01 から削除" in out


def test_plan_refuses_a_bad_day_and_an_unknown_client(db):
    with pytest.raises(CommandError) as bad_day:
        call_command("retention", "plan", "--on", "2026-13-01")
    assert bad_day.value.returncode == 2
    with pytest.raises(CommandError) as unknown:
        call_command("retention", "plan", "--client", "nosuch")
    assert unknown.value.returncode == 2


def test_purge_runs_today_and_only_once(oldco, capsys):
    # Today (the real calendar) is long after 2026-03-31 only from 2026-04-01 on; the seed
    # client ended 2023-03-31.
    call_command("retention", "purge", "--dry-run", "--json")
    dry = json.loads(capsys.readouterr().out)
    assert Notice.objects.filter(client=oldco).count() == 2
    call_command("retention", "purge", "--json")
    done = json.loads(capsys.readouterr().out)
    if dt.date.today() < dt.date(2026, 4, 1):  # pragma: no cover (calendar)
        assert dry["purged"] == done["purged"] == []
        return
    assert dry["purged"] == [
        {"client": "oldco", "counts": {"notices": 2, "audit_events": 2}, "event": None}
    ]
    assert done["purged"][0]["counts"] == {"notices": 2, "audit_events": 2}
    assert not Notice.objects.filter(client=oldco).exists()
    assert AuditEvent.objects.filter(action=audit.PURGE_ACTION).count() == 1
    with translation.override("en"):
        call_command("retention", "purge")
    assert "Nothing is due for purging." in capsys.readouterr().out
    assert AuditEvent.objects.filter(action=audit.PURGE_ACTION).count() == 1
    call_command("audit", "verify")


def test_the_page_for_operators_in_both_languages(oldco, operator, owner, client):
    client.force_login(owner)
    assert client.get("/retention/").status_code == 403
    operator.language = "en"
    operator.save()
    client.force_login(operator)
    page = client.get("/retention/").content.decode()
    assert "Records kept after the contract" in page
    assert "2023-03-31" in page and "2026-03-31" in page
    operator.language = "ja"
    operator.save()
    page = client.get("/retention/").content.decode()
    assert "契約終了後の記録の保存" in page
    assert "保存期限" in page


def test_the_api_plan(oldco, operator, owner, member, subcontractor, provider_admin, client):
    client.force_login(operator)
    response = client.get("/api/v1/retention/plan?client=oldco&on=2026-04-01")
    assert response.status_code == 200, response.content
    assert response.json() == [
        {
            "client": "oldco",
            "state": "due",
            "contract_end": "2023-03-31",
            "keep_until": "2026-03-31",
            "purge_on": "2026-04-01",
            "batches": [
                {"kind": "notices", "count": 2, "purge_on": "2026-04-01"},
                {"kind": "audit_events", "count": 2, "purge_on": "2026-04-01"},
            ],
        }
    ]
    assert client.get("/api/v1/retention/plan?client=nosuch").status_code == 422
    assert client.get("/api/v1/retention/plan?on=yesterday").status_code == 422
    client.force_login(provider_admin)
    assert client.get("/api/v1/retention/plan").status_code == 200
    for refused in (owner, member, subcontractor):
        client.force_login(refused)
        assert client.get("/api/v1/retention/plan").status_code == 403
