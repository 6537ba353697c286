"""Catalogue items travel with their contracts in the inventory file (MNT-03): imported through
the same validation as the pages and the API, with audit events, and exported back."""

from __future__ import annotations

import pytest

from mamori.core.models import AuditEvent
from mamori.desk.models import CatalogueItem
from mamori.inventory.transfer import export_inventory, import_file
from tests.desk.scope_support import maintenance_contract

pytestmark = [pytest.mark.django_db]

FILE = """
clients:
  - code: acme
    contracts:
      - type: ssl_management
        start: 2026-04-01
        catalogue:
          - code: text-fix
            scope: in_scope
            name_ja: 軽微なテキスト修正
            name_en: Minor text fixes
            clause: 001 §3(3)
            monthly_limit: 5
            keywords: |
              文言修正
              誤字
              typo
          - code: new-page
            scope: out_of_scope
            name_ja: 新規ページ制作
            name_en: New pages
            clause: 001 §4(2)
            keywords: |
              新規ページ
              new page
"""


@pytest.mark.req("MNT-03")
def test_catalogue_items_import_once_and_export_back(acme, operator):
    report = import_file(FILE.encode(), filename="catalogue.yaml", actor=operator)
    assert report.ok, [str(e) for e in report.errors]
    text_fix = CatalogueItem.objects.get(code="text-fix")
    assert (text_fix.monthly_limit, text_fix.keyword_list()) == (5, ["文言修正", "誤字", "typo"])
    assert text_fix.contract == acme.contracts.get()
    created = AuditEvent.objects.filter(action="import.create", object_type="desk.CatalogueItem")
    assert created.count() == 2
    again = import_file(FILE.encode(), filename="catalogue.yaml", actor=operator)
    assert again.ok and again.counts["catalogue"]["unchanged"] == 2
    exported = export_inventory(fmt="yaml", clients=["acme"], actor=operator)
    for text in ("catalogue:", "code: text-fix", "monthly_limit: 5", "clause: 001 §3(3)"):
        assert text in exported
    back = import_file(exported.encode(), filename="back.yaml", actor=operator)
    assert back.ok and back.counts["catalogue"]["unchanged"] == 2


@pytest.mark.req("MNT-03")
def test_a_shipped_catalogue_round_trips(acme, operator):
    contract = maintenance_contract(acme)
    count = contract.catalogue.count()
    exported = export_inventory(fmt="yaml", clients=["acme"], actor=operator)
    CatalogueItem.objects.all().delete()
    report = import_file(exported.encode(), filename="back.yaml", actor=operator)
    assert report.ok, [str(e) for e in report.errors]
    assert contract.catalogue.count() == count
    assert contract.catalogue.get(code="image-swap").clause == "001 §3(3)"


def test_the_import_checks_as_the_pages_do(acme, operator, owner):
    # A limit on out-of-scope work is refused, as on the catalogue page; nothing is written.
    bad = FILE.replace("new page\n", "new page\n            monthly_limit: 2\n")
    report = import_file(bad.encode(), filename="bad.yaml", actor=operator)
    assert not report.ok
    assert any("monthly_limit" in str(e) for e in report.errors), [str(e) for e in report.errors]
    assert not CatalogueItem.objects.exists()
    # The catalogue is the provider's to keep: a client's administrator may not import it.
    report = import_file(FILE.encode(), filename="catalogue.yaml", actor=owner)
    assert not report.ok and not CatalogueItem.objects.exists()
