"""The work log (MNT-03): who, when, how long, what; the month's work per client (Tokyo
months) that the monthly report reads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from mamori.core.models import AuditEvent
from mamori.desk.services import DeskError
from mamori.desk.work import change_work, delete_work, log_work, month_work
from tests.desk.scope_support import maintenance_contract, request_of, tokyo

pytestmark = [pytest.mark.django_db]


@pytest.mark.req("MNT-03")
def test_the_months_work_per_request(acme, globex, operator):
    contract = maintenance_contract(acme)
    first = request_of(contract, "誤字", received_at=tokyo(2026, 4, 28, 9))
    second = request_of(contract, "画像差し替え", received_at=tokyo(2026, 5, 2, 9))
    log_work(first, 20, "原因を確認", tokyo(2026, 4, 30, 23, 30), operator)  # April in Tokyo
    log_work(first, 30, "修正して公開", tokyo(2026, 5, 1, 0, 0), operator)  # May in Tokyo
    log_work(second, 45, "画像を差し替え", tokyo(2026, 5, 31, 23, 59), operator)
    log_work(second, 15, "確認", tokyo(2026, 6, 1, 0, 0), operator)  # June
    other = request_of(maintenance_contract(globex), "誤字", received_at=tokyo(2026, 5, 2))
    log_work(other, 60, "globex の作業", tokyo(2026, 5, 3), operator)

    may = month_work(acme, dt.date(2026, 5, 1))
    assert [(r.request.pk, r.minutes) for r in may.requests] == [(first.pk, 30), (second.pk, 45)]
    assert may.minutes == 75
    april = month_work(acme, dt.date(2026, 4, 15))
    assert (april.minutes, [e.text for e in april.requests[0].entries]) == (20, ["原因を確認"])
    data = may.as_dict()
    assert data["month"] == "2026-05" and data["requests"][0]["request"] == first.number
    assert data["requests"][0]["entries"][0]["by"] == "operator"


def test_entries_are_checked_and_audited(acme, operator, owner):
    req = request_of(maintenance_contract(acme), "誤字")
    for minutes, text, field in [
        (0, "作業", "minutes"),
        (1441, "作業", "minutes"),
        (30, " ", "text"),
    ]:
        with pytest.raises(DeskError) as refused:
            log_work(req, minutes, text, None, operator)
        assert refused.value.field == field
    with pytest.raises(DeskError):
        log_work(req, 30, "作業", tokyo(2099, 1, 1), operator)
    with pytest.raises(PermissionDenied):
        log_work(req, 30, "作業", None, owner)  # the client does not log the provider's work
    entry = log_work(req, 30, "修正", None, operator)
    assert change_work(entry, operator, minutes=40) == {"minutes": [30, 40]}
    assert change_work(entry, operator, minutes=40) == {}
    delete_work(entry, operator)
    actions = AuditEvent.objects.filter(action__startswith="work.").values_list("action", flat=True)
    assert sorted(actions) == ["work.create", "work.delete", "work.update"]


def test_each_changes_their_own_entries(acme, operator, subcontractor, provider_admin):
    req = request_of(maintenance_contract(acme), "誤字")
    entry = log_work(req, 30, "修正", None, operator)
    with pytest.raises(PermissionDenied):
        change_work(entry, subcontractor, minutes=10)
    with pytest.raises(PermissionDenied):
        delete_work(entry, subcontractor)
    # A provider administrator may correct anyone's entry.
    change_work(entry, provider_admin, text="修正して公開")
    entry.refresh_from_db()
    assert entry.text == "修正して公開"
