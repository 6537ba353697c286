"""What the estimate tests share: the provider's particulars, an out-of-scope request of acme
from its Japanese contact, and a draft estimate for it.

The known answer (a Japanese accountant's, tax once per rate, floored):
  10 %: 新規ページ制作 3 ページ × 40,000 = 120,000; 公開作業 1 式 × 15,000 = 15,000 → 135,000,
        tax 13,500;
  8 %:  打合せ用の茶菓 1 × 1,250 → 1,250, tax 100;
  total 136,250 + 13,600 = 149,850.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mamori.billing import estimates
from mamori.billing.models import Estimate, IssuerProfile
from mamori.clients.models import Client, Contact
from mamori.desk.models import Request, Scope
from tests.billing.documents import ISSUER

LINES = [
    {
        "description": "新規ページ制作（会社概要）",
        "quantity": "3",
        "unit": "ページ",
        "unit_price": "40000",
        "tax_rate": 10,
    },
    {
        "description": "公開作業",
        "quantity": "1",
        "unit": "式",
        "unit_price": "15000",
        "tax_rate": 10,
    },
    {"description": "打合せ用の茶菓", "quantity": "1", "unit_price": "1250", "tax_rate": 8},
]
NET, TAX, TOTAL = Decimal(136250), Decimal(13600), Decimal(149850)


def issuer() -> IssuerProfile:
    return IssuerProfile.objects.update_or_create(pk=1, defaults=ISSUER)[0]


def out_of_scope_request(client: Client | None = None) -> Request:
    client = client or Client.objects.get(code="acme")
    contact = Contact.objects.filter(client=client).order_by("pk").first()
    return Request.objects.create(
        client=client,
        contract=client.contracts.order_by("pk").first(),
        contact=contact,
        channel="portal",
        subject="採用ページの新規作成",
        body="採用情報のページを新しく作っていただけますか。",
        scope=Scope.OUT_OF_SCOPE,
        state="open",
    )


def draft(client: Client | None = None, lines=LINES) -> Estimate:
    request = out_of_scope_request(client)
    estimate = estimates.create_from_request(None, request)
    return estimates.update_draft(None, estimate, lines=lines, notes="作業期間：ご発注後 2 週間")


def issued(client: Client | None = None, today=dt.date(2026, 6, 10)) -> Estimate:
    issuer()
    return estimates.issue(None, draft(client), today=today)
