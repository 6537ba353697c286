"""``mamori desk catalogue``, ``classify`` and ``log`` (MNT-03, MNT-04): errors in one line,
exit 2."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from mamori.desk.models import Scope, WorkLog
from tests.desk.scope_support import maintenance_contract, request_of

pytestmark = [pytest.mark.django_db]


def desk(*args: str) -> str:
    out = io.StringIO()
    call_command("desk", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as e:
        desk(*args)
    assert e.value.returncode == 2
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.req("MNT-03")
def test_catalogue_apply_classify_and_log(acme):
    contract = maintenance_contract(acme, catalogue=False)
    assert "16" in desk("catalogue", "acme", "site_maintenance", "--apply-shipped")
    data = json.loads(desk("catalogue", "acme", str(contract.pk), "--json"))
    text_fix = next(i for i in data["items"] if i["code"] == "text-fix")
    assert (text_fix["clause"], text_fix["monthly_limit"]) == ("001 §3(3)", None)
    req = request_of(contract, "Typo on the contact page", "Please fix the typo.")
    assert "text-fix" in desk("classify", req.number) and "typo" in desk("classify", req.number)
    desk("classify", req.number, "--item", "text-fix")
    req.refresh_from_db()
    assert (req.scope, req.catalogue_item.code) == (Scope.IN_SCOPE, "text-fix")
    desk("classify", req.number.lower(), "--out-of-scope")
    req.refresh_from_db()
    assert req.scope == Scope.OUT_OF_SCOPE
    assert "30" in desk("log", req.number, "--minutes", "30", "--text", "修正して公開")
    assert WorkLog.objects.get().minutes == 30


def test_errors_are_one_line_with_exit_2(acme, owner):
    contract = maintenance_contract(acme)
    req = request_of(contract, "誤字")
    assert "nosuch" in refused("catalogue", "nosuch", "site_maintenance")
    refused("catalogue", "acme", "server_management")
    refused("catalogue", "acme", "ssl_management", "--apply-shipped")  # no shipped catalogue
    refused("classify", "R-999999")
    refused("classify", req.number, "--item", "nosuch")
    refused("classify", req.number, "--item", "text-fix", "--user", "owner")
    refused("log", req.number, "--minutes", "zero", "--text", "x")
    refused("log", req.number, "--minutes", "30", "--text", " ")
