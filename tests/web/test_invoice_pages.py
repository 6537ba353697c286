"""The invoice pages (BIL-02, BIL-03): operators list every client's invoices with their payment
state and filter them; a client's administrators read and download only their own client's
invoices in the portal; a client's viewers are refused; the page shows the same document as the
PDF, in Japanese or English."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from mamori.billing.models import Invoice, Payment
from tests.billing.documents import make_invoices

pytestmark = pytest.mark.req("BIL-02")


@pytest.fixture
def issued(acme, globex):
    return make_invoices(acme, globex)


def detail(invoice: Invoice) -> str:
    return reverse("invoice_detail", args=[invoice.pk])


def pdf_url(invoice: Invoice, language: str = "ja") -> str:
    return reverse("invoice_pdf", args=[invoice.pk, language])


def numbers(response) -> list[str]:
    body = response.content.decode()
    return [n for n in ("INV-2026-0005", "CN-2026-0001", "INV-2026-0006") if n in body]


@pytest.mark.req("BIL-03")
def test_a_client_admin_reads_only_its_own_invoices(issued, owner, outsider, login):
    """The portal: acme's administrator lists and downloads acme's invoices; globex's
    administrator gets 404 for acme's invoice and its PDF in either language, and acme's gets
    404 for globex's."""
    client = login(owner)
    assert numbers(client.get(reverse("invoice_list"))) == ["INV-2026-0005", "CN-2026-0001"]
    response = client.get(pdf_url(issued.acme))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="INV-2026-0005_ja.pdf"'
    assert response.content.startswith(b"%PDF")
    for url in (detail(issued.globex), pdf_url(issued.globex), pdf_url(issued.globex, "en")):
        assert client.get(url).status_code == 404

    client = login(outsider)
    assert numbers(client.get(reverse("invoice_list"))) == ["INV-2026-0006"]
    for invoice in (issued.acme, issued.credit_note):
        for url in (detail(invoice), pdf_url(invoice), pdf_url(invoice, "en")):
            response = client.get(url)
            assert response.status_code == 404, url
            assert b"%PDF" not in response.content
    assert client.get(pdf_url(issued.globex, "en")).status_code == 200


def test_a_client_viewer_and_a_subcontractor_see_no_money(issued, member, subcontractor, login):
    for user in (member, subcontractor):
        client = login(user)
        for url in (reverse("invoice_list"), detail(issued.acme), pdf_url(issued.acme)):
            assert client.get(url).status_code == 403, (user, url)
        page = client.get(reverse("client_detail", args=["acme"])).content.decode()
        assert 'id="invoices"' not in page
        assert reverse("invoice_list") not in page


def test_an_unknown_language_is_no_pdf(issued, operator, login):
    assert login(operator).get(pdf_url(issued.acme, "fr")).status_code == 404


def test_operators_filter_by_client_month_and_payment(issued, operator, login, acme):
    client = login(operator)
    list_url = reverse("invoice_list")
    everything = numbers(client.get(list_url))
    assert everything == ["INV-2026-0005", "CN-2026-0001", "INV-2026-0006"]
    assert numbers(client.get(list_url, {"client": "globex"})) == ["INV-2026-0006"]
    assert numbers(client.get(list_url, {"month": "2026-05"})) == everything
    assert numbers(client.get(list_url, {"month": "2026-04"})) == []

    # acme's May invoice is paid in two parts; globex's is past its due date, unpaid.
    Payment.objects.create(invoice=issued.acme, received_on=dt.date(2026, 6, 20), amount=50000)
    Payment.objects.create(invoice=issued.acme, received_on=dt.date(2026, 6, 28), amount=34188)
    # A June invoice of acme not yet due.
    june = Invoice.objects.create(
        client=acme,
        number="INV-2099-0001",
        month=dt.date(2099, 6, 1),
        issue_date=dt.date(2099, 7, 1),
        due_date=dt.date(2099, 7, 31),
        issuer=issued.acme.issuer,
        recipient=issued.acme.recipient,
        net_total=Decimal(1000),
        tax_total=Decimal(100),
        total=Decimal(1100),
    )
    assert numbers(client.get(list_url, {"payment": "paid"})) == ["INV-2026-0005"]
    assert numbers(client.get(list_url, {"payment": "overdue"})) == ["INV-2026-0006"]
    unpaid = client.get(list_url, {"payment": "unpaid"}).content.decode()
    assert june.number in unpaid and "INV-2026-0006" not in unpaid

    page = client.get(list_url).content.decode()
    assert "入金済み" in page and "期限超過" in page and "未入金" in page


def test_the_client_page_lists_its_invoices(issued, operator, owner, login):
    for user in (operator, owner):
        page = login(user).get(reverse("client_detail", args=["acme"])).content.decode()
        assert 'id="invoices"' in page
        assert "INV-2026-0005" in page and "CN-2026-0001" in page
        assert "INV-2026-0006" not in page
        assert reverse("invoice_list") in page  # the navigation's entry


@pytest.mark.req("BIL-03")
def test_the_invoice_page_shows_the_document_in_either_language(issued, owner, login):
    client = login(owner)
    page = client.get(detail(issued.acme)).content.decode()
    expected = [
        *("請求書", "株式会社アクメ", "御中", "ご請求金額", "¥84,188", "（税込）", "お支払期限"),
        *("2026年6月30日", "登録番号", "T1234567890123", "※は軽減税率対象", "10%対象"),
        *("振込手数料は貴社にてご負担ください。", "73,000", "7,300"),
    ]
    for words in expected:
        assert words in page, words
    assert pdf_url(issued.acme, "ja") in page and pdf_url(issued.acme, "en") in page

    english = client.get(detail(issued.acme), {"lang": "en"}).content.decode()
    assert "Amount due" in english and "Payment due" in english and "30 June 2026" in english
    assert "御中" not in english

    credit = client.get(detail(issued.credit_note)).content.decode()
    assert "請求書（赤伝）" in credit and "INV-2026-0005" in credit
    assert "お振込先" not in credit
