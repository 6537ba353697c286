"""Clients under the seed contracts' terms profiles, for the announcement tests."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from mamori.clients.models import Client, Contact, Contract, TermsProfile
from mamori.inventory.models import Server

# "Today" of the tests: Monday 7 December 2026, 10:00 in Tokyo.
NOW = timezone.make_aware(dt.datetime(2026, 12, 7, 10, 0))
TODAY = dt.date(2026, 12, 7)


def profile(code: str) -> TermsProfile:
    return TermsProfile.objects.get(code=code)


@pytest.fixture
def ops(acme) -> Client:
    """acme, under an operations-support contract (004: terms 14 days, end 2 months)."""
    Contract.objects.create(
        client=acme,
        type="operations_support",
        start=dt.date(2026, 6, 1),
        terms_profile=profile("monthly-004"),
    )
    return acme


@pytest.fixture
def ca_client(db) -> Client:
    """A client of the CA service (003: end 3 months), with an English-speaking contact."""
    client = Client.objects.create(code="kaisha", name="株式会社カイシャ")
    Contract.objects.create(
        client=client,
        type="ca_service",
        start=dt.date(2026, 9, 1),
        terms_profile=profile("ca-003"),
    )
    Contact.objects.create(
        client=client, name="Ken Mori", email="ken@kaisha.example", language="en",
        notify=["contracts", "maintenance"],
    )  # fmt: skip
    return client


@pytest.fixture
def site_client(db) -> Client:
    """A website-maintenance client (001) with a server and a contact for maintenance."""
    client = Client.objects.create(code="hoshu", name="保守株式会社")
    Contract.objects.create(
        client=client,
        type="site_maintenance",
        start=dt.date(2026, 1, 1),
        terms_profile=profile("fixed-1y-001"),
    )
    Server.objects.create(client=client, name="web1", kind="vps")
    Contact.objects.create(
        client=client, name="佐藤花子", email="sato@hoshu.example", language="ja",
        notify=["maintenance"],
    )  # fmt: skip
    return client


def values(kind: str, day: dt.date, **extra) -> dict:
    return {
        "kind": kind,
        "effective_on": day,
        "subject_ja": "約款改定のお知らせ",
        "subject_en": "Changes to our terms",
        "body_ja": "第5条を改定します。",
        "body_en": "We are changing article 5.",
        **extra,
    }
