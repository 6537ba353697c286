"""Known dates for the retention tests, from the seed rule (000 §9.3, 001 §13.2: three years
after the contract ends): a one-year contract from 2022-04-01 that does not renew ends
2023-03-31; its records are kept until 2026-03-31 inclusive and purged from 2026-04-01."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mamori.billing.models import Invoice, IssuerProfile, Payment
from mamori.clients.models import Client, Contract, ContractType
from mamori.core import audit
from mamori.notices.models import Notice

START = dt.date(2022, 4, 1)
ENDED = dt.date(2023, 3, 31)
KEPT_UNTIL = dt.date(2026, 3, 31)
PURGE_DAY = dt.date(2026, 4, 1)


def ended_client(code: str = "oldco") -> Client:
    client = Client.objects.create(code=code, name=f"{code} 株式会社")
    Contract.objects.create(
        client=client,
        type=ContractType.SITE_MAINTENANCE,
        start=START,
        term_months=12,
        auto_renew=False,
    )
    return client


def notice(client: Client, n: int) -> Notice:
    return Notice.objects.create(
        key=f"test:{client.code}:{n}",
        kind="incident_opened",
        channel="email",
        client=client,
        recipient_kind="contact",
        recipient=f"ops{n}@{client.code}.example",
        language="ja",
        subject="件名",
        body_text="本文",
    )


def invoice(client: Client, number: str, issued: dt.date, *, paid: bool = False) -> Invoice:
    IssuerProfile.objects.get_or_create(pk=1)
    made = Invoice.objects.create(
        client=client,
        number=number,
        month=issued.replace(day=1),
        issue_date=issued,
        due_date=issued,
        net_total=Decimal(1000),
        tax_total=Decimal(100),
        total=Decimal(1100),
    )
    if paid:
        Payment.objects.create(invoice=made, received_on=issued, amount=Decimal(1100))
    return made


def events(client: Client | None, n: int, action: str = "endpoint.update") -> None:
    for i in range(n):
        audit.record(action, client_id=client.pk if client else None, changes={"n": i})
