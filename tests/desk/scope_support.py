"""Helpers of the scope and work-log tests (tests/desk/test_scope_*.py): contracts of the seed
kinds with their shipped catalogues, and requests received at a given time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from mamori.clients.models import Client, Contract, ContractType, TermsProfile
from mamori.desk import services
from mamori.desk.catalogue import apply_shipped_catalogue
from mamori.desk.models import Request

TOKYO = ZoneInfo("Asia/Tokyo")


def tokyo(*args: int) -> dt.datetime:
    """A moment in Japan time: ``tokyo(2026, 5, 1, 0, 0)``."""
    return dt.datetime(*args, tzinfo=TOKYO)


def maintenance_contract(client: Client, *, catalogue: bool = True) -> Contract:
    """A website maintenance contract (seed 001) of ``client``, with its shipped catalogue."""
    contract, _ = Contract.objects.get_or_create(
        client=client,
        type=ContractType.SITE_MAINTENANCE,
        start=dt.date(2026, 4, 1),
        defaults={"terms_profile": TermsProfile.objects.filter(code="fixed-1y-001").first()},
    )
    if catalogue:
        apply_shipped_catalogue(contract, None)
    return contract


def server_contract(client: Client) -> Contract:
    """A server management contract (seed 002) with its shipped catalogue."""
    contract, _ = Contract.objects.get_or_create(
        client=client, type=ContractType.SERVER_MANAGEMENT, start=dt.date(2026, 4, 1)
    )
    apply_shipped_catalogue(contract, None)
    return contract


def request_of(
    contract: Contract, subject: str, body: str = "", received_at: dt.datetime | None = None
) -> Request:
    return services.create_request(
        contract.client,
        channel="portal",
        subject=subject,
        body=body,
        contract=contract,
        received_at=received_at or tokyo(2026, 5, 12, 10, 0),
    )
