"""The pages of the scope of work: a contract's catalogue (staff keep it, the client reads it),
the request page's parts (the proposal with its words, the decision, the allowance, the work
log) and their forms."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from mamori.desk.models import CatalogueItem, Request, Scope, WorkLog
from tests.desk.scope_support import maintenance_contract, request_of

pytestmark = [pytest.mark.django_db]


def render_part(name: str, req: Request, user, language: str = "ja") -> str:
    http = RequestFactory().get("/")
    http.user = user
    with translation.override(language):
        return render_to_string(f"desk/parts/{name}.html", {"req": req, "user": user}, http)


@pytest.mark.req("MNT-03")
def test_operators_keep_the_catalogue_and_the_client_reads_it(acme, operator, owner, client):
    contract = maintenance_contract(acme, catalogue=False)
    client.force_login(operator)
    page = client.get(contract.get_absolute_url())
    assert reverse("contract_catalogue", args=[contract.pk]) in page.content.decode()
    url = reverse("contract_catalogue", args=[contract.pk])
    response = client.post(reverse("catalogue_apply", args=[contract.pk]))
    assert response.status_code == 302
    assert contract.catalogue.filter(code="text-fix", clause="001 §3(3)").exists()
    add = client.post(
        reverse("catalogue_item_add", args=[contract.pk]),
        {"code": "form-fix", "scope": "in_scope", "name_ja": "フォーム修正",
         "name_en": "Form fixes", "keywords": "フォーム\nform", "monthly_limit": "3",
         "clause": "別紙"},
    )  # fmt: skip
    assert add.status_code == 302
    bad = client.post(
        reverse("catalogue_item_add", args=[contract.pk]),
        {"code": "seo", "scope": "out_of_scope", "name_ja": "SEO", "name_en": "SEO",
         "monthly_limit": "2"},
    )  # fmt: skip
    assert bad.status_code == 200 and "monthly_limit" in bad.content.decode()
    assert not contract.catalogue.filter(code="seo").exists()
    body = client.get(url).content.decode()
    assert "軽微なテキスト修正" in body and "フォーム修正" in body and "001 §4(2)" in body
    client.force_login(owner)
    body = client.get(url).content.decode()
    assert "軽微なテキスト修正" in body
    assert reverse("catalogue_item_add", args=[contract.pk]) not in body
    item = CatalogueItem.objects.get(code="form-fix")
    assert client.post(reverse("catalogue_item_delete", args=[item.pk])).status_code == 403


@pytest.mark.req("MNT-03")
@pytest.mark.req("MNT-04")
def test_the_classify_part_shows_the_proposal_and_takes_the_decision(acme, operator, client):
    contract = maintenance_contract(acme)
    req = request_of(contract, "誤字のご連絡", "会社概要に誤字があります")
    html = render_part("classify", req, operator)
    assert 'data-proposal="text-fix"' in html and "<mark>誤字</mark>" in html
    assert reverse("request_classify", args=[req.pk]) in html
    english = render_part("classify", req, operator, "en")
    assert "Minor text fixes" in english and "Mamori proposes" in english
    text_fix = contract.catalogue.get(code="text-fix")
    client.force_login(operator)
    response = client.post(reverse("request_classify", args=[req.pk]), {"choice": text_fix.pk})
    assert response.status_code == 302
    req.refresh_from_db()
    assert (req.scope, req.catalogue_item) == (Scope.IN_SCOPE, text_fix)
    assert "0, no limit" not in render_part("classify", req, operator, "en")
    assert "1, no limit" in render_part("classify", req, operator, "en")
    client.post(reverse("request_classify", args=[req.pk]), {"choice": "out_of_scope"})
    req.refresh_from_db()
    assert (req.scope, req.catalogue_item) == (Scope.OUT_OF_SCOPE, None)


def test_the_client_sees_no_decision_form(acme, owner):
    req = request_of(maintenance_contract(acme), "誤字")
    html = render_part("classify", req, owner)
    assert reverse("request_classify", args=[req.pk]) not in html
    assert reverse("work_add", args=[req.pk]) not in render_part("work", req, owner)


@pytest.mark.req("MNT-03")
def test_work_is_logged_changed_and_deleted_from_the_request(acme, operator, client):
    req = request_of(maintenance_contract(acme), "誤字")
    client.force_login(operator)
    response = client.post(
        reverse("work_add", args=[req.pk]), {"minutes": "25", "text": "誤字を修正して公開"}
    )
    assert response.status_code == 302
    entry = WorkLog.objects.get()
    assert (entry.minutes, entry.user) == (25, operator)
    html = render_part("work", req, operator)
    assert "誤字を修正して公開" in html and reverse("work_edit", args=[entry.pk]) in html
    # A bad value is said, nothing is written.
    client.post(reverse("work_add", args=[req.pk]), {"minutes": "0", "text": "x"})
    assert WorkLog.objects.count() == 1
    edit = client.post(
        reverse("work_edit", args=[entry.pk]),
        {"minutes": "35", "text": "誤字を修正して公開", "at": "2026-05-12T15:00"},
    )
    assert edit.status_code == 302
    entry.refresh_from_db()
    assert entry.minutes == 35
    assert client.post(reverse("work_delete", args=[entry.pk])).status_code == 302
    assert not WorkLog.objects.exists()
