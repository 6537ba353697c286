"""The contract page with its terms, in Japanese, at desktop and phone width: nothing wider than
the screen, and a cancellation recorded through its form (CT-02). Screenshots in
test-artifacts/contract-terms-*.png, for a person to look at."""

from __future__ import annotations

import datetime as dt
from importlib import import_module
from pathlib import Path

import pytest
from django.urls import reverse

from mamori.clients.models import Contract, ContractNotice, TermsProfile
from tests.browser.phone import PHONE, overflow, shoot, sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(databases="__all__", transaction=True)]


def shipped_profiles() -> None:
    """The shipped terms profiles, which the flush of a previous live-server test removed: the
    data migration that ships them, run again (found by name, whatever its number)."""
    from django.apps import apps

    folder = Path(import_module("mamori.clients.migrations").__file__).parent
    (found,) = folder.glob("*_shipped_terms_profiles.py")
    import_module(f"mamori.clients.migrations.{found.stem}").ship(apps, None)


@pytest.mark.req("CT-02")
@pytest.mark.parametrize("width", [1280, 390])
def test_the_contract_page_in_japanese(width, scene, operator, live_server, page):
    shipped_profiles()
    operator.language = "ja"
    operator.save()
    contract = Contract.objects.create(
        client=scene.acme,
        type="server_management",
        title="サーバー管理契約（本番環境）",
        start=dt.date(2026, 4, 1),
        terms_profile=TermsProfile.objects.get(code="fixed-1y-002"),
    )
    page.set_viewport_size({"width": width, "height": PHONE["height"] if width < 600 else 900})
    sign_in_as(page.context, live_server, operator)
    url = live_server.url + reverse("contract_detail", args=["acme", contract.pk])
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("#terms").is_visible()
    assert overflow(page) == []
    shoot(page, f"contract-terms-ja-{width}-in-force")
    page.fill("#id_received_on", "2027-03-02")
    page.select_option("#id_medium", "letter")
    page.fill("#id_sender", "株式会社アクメ 総務部 山田太郎")
    page.click("#record-notice button[type=submit]")
    page.wait_for_selector("[data-reason=after_deadline]")
    assert ContractNotice.objects.get().effective_on == dt.date(2028, 3, 31)
    assert overflow(page) == []
    shoot(page, f"contract-terms-ja-{width}-notice-given")
