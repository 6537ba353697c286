"""The contract page with its terms (CT-02..CT-05): a page read by acme's people, with a form by
which provider staff record a notice (contracts are theirs). Terms profiles are the provider's."""

from __future__ import annotations

from mamori.clients.models import Contract, ContractNotice
from tests.web.tenancy import ACME_PEOPLE, PAGE, Case

STAFF = frozenset({"subcontractor", "operator", "provider_admin"})

EXEMPT = {
    "terms_profile_list": "the provider's terms profiles, shared by every client and holding no "
    "client's data: provider staff only (tests/clients/test_contract_notices.py)",
    "terms_profile_add": "adds a terms profile of no client's: provider administrators and "
    "operators only (tests/clients/test_contract_notices.py)",
    "terms_profile_edit": "changes a terms profile of no client's: provider administrators and "
    "operators only (tests/clients/test_contract_notices.py)",
}


def acme_contract(s) -> dict:
    contract = Contract.objects.filter(client=s.acme).order_by("pk").first()
    return {"code": s.acme.code, "pk": contract.pk}


def notice_rows() -> list[dict]:
    return list(ContractNotice.objects.values().order_by("pk"))


CASES = {
    "contract_detail": Case(
        PAGE,
        acme_contract,
        post=lambda s: {
            "kind": "cancellation",
            "received_on": "2026-12-01",
            "medium": "letter",
            "sender": "山田太郎",
            "requested_end_month": "",
        },
        readers=ACME_PEOPLE,
        writers=STAFF,
        snapshot=notice_rows,
    ),
}
