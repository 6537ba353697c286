"""The invoice PDF (BIL-02, BIL-03): a qualified invoice (適格請求書) laid out as Japanese
business invoices are, in Japanese and English, read back with poppler's pdftotext and turned
into images with pdftoppm (test-artifacts/invoice_*.png, for a person to look at)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from mamori.billing import pdf
from tests.support.env import require_binary

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pdf_text(data: bytes, tmp_path: Path, layout: bool = True) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(data)
    args = [require_binary("pdftotext"), *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pdf_info(data: bytes, tmp_path: Path, tool: str = "pdfinfo") -> str:
    path = tmp_path / "info.pdf"
    path.write_bytes(data)
    return subprocess.run(
        [require_binary(tool), str(path)], check=True, capture_output=True, text=True
    ).stdout


def to_png(data: bytes, name: str, tmp_path: Path) -> Path:
    """The first page as a PNG under test-artifacts/, at 110 dpi."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    subprocess.run(
        [require_binary("pdftoppm"), "-png", "-r", "110", "-singlefile", str(path), str(target)],
        check=True,
    )
    return target.with_suffix(".png")


def squeeze(text: str) -> str:
    """The text with the layout's runs of spaces made one space."""
    return re.sub(r"[ \t]+", " ", text)


def line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


@pytest.mark.req("BIL-03")
@pytest.mark.req("BIL-02")
def test_japanese_invoice_reads_as_a_qualified_invoice(invoices, tmp_path):
    data = pdf.render(invoices.acme, "ja")
    assert data.startswith(b"%PDF")
    text = pdf_text(data, tmp_path)
    flat = squeeze(text)

    assert "請 求 書" in flat or "請求書" in flat
    assert "INV-2026-0005" in flat
    assert "株式会社アクメ 御中" in flat
    # The issuer and its registration number (適格請求書発行事業者).
    assert "株式会社マモリテック" in flat
    assert "登録番号 T1234567890123" in flat
    # The amount due, tax included, and when.
    assert "ご請求金額 ¥84,188 （税込）" in flat
    assert "お支払期限 2026年6月30日" in flat
    assert "発行日 2026年6月1日" in flat
    # Each line with its rate; the reduced-rate line marked ※ and the legend.
    assert "8%※" in line_with(flat, "作業時の飲料")
    assert "※" in line_with(flat, "作業時の飲料").split("3")[0]
    assert "※は軽減税率対象" in flat
    assert "10%" in line_with(flat, "月額費用（ウェブサイト保守）")
    assert "-5,000" in line_with(flat, "SLA による減額 2026年4月分")
    # Net and tax per rate, then the sums.
    assert re.search(r"10%対象 税抜 73,000 消費税 7,300", flat)
    assert re.search(r"8%対象※ 税抜 3,600 消費税 288", flat)
    assert re.search(r"小計（税抜） 76,600", flat)
    assert re.search(r"合計 84,188", flat)
    # How to pay, and who pays the transfer fee.
    assert "お振込先" in flat and "普通預金 1234567" in flat
    assert "振込手数料は貴社にてご負担ください。" in flat

    info = pdf_info(data, tmp_path)
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info)
    assert "Noto-Sans-CJK-JP" in pdf_info(data, tmp_path, "pdffonts")


@pytest.mark.req("BIL-03")
@pytest.mark.req("BIL-02")
def test_english_invoice_has_the_same_particulars(invoices, tmp_path):
    flat = squeeze(pdf_text(pdf.render(invoices.acme, "en"), tmp_path))

    assert "INVOICE" in flat and "INV-2026-0005" in flat
    assert "御中" not in flat
    assert "Registration no. T1234567890123" in flat
    assert "Amount due ¥84,188 (tax included)" in flat
    assert "Payment due 30 June 2026" in flat
    assert "Monthly fee (Website maintenance)" in flat
    assert "8%※" in line_with(flat, "作業時の飲料")
    assert "※ marks items at the reduced tax rate." in flat
    assert re.search(r"Subject to 10% Net 73,000 Tax 7,300", flat)
    assert re.search(r"Subject to 8%※ Net 3,600 Tax 288", flat)
    assert re.search(r"Total 84,188", flat)
    assert "Transfer fees are to be borne by your company." in flat


@pytest.mark.req("BIL-03")
def test_credit_note_is_titled_as_such_and_names_the_invoice_it_corrects(invoices, tmp_path):
    flat = squeeze(pdf_text(pdf.render(invoices.credit_note, "ja"), tmp_path))
    assert "請求書（赤伝）" in flat
    assert "CN-2026-0001" in flat
    assert "訂正対象: 請求書番号 INV-2026-0005（2026年6月1日発行）" in flat
    assert "訂正金額 -¥17,600 （税込）" in flat
    assert re.search(r"10%対象 税抜 -16,000 消費税 -1,600", flat)
    # Nothing is to be paid on a credit note: no due date, no bank account.
    assert "お支払期限" not in flat and "お振込先" not in flat

    flat_en = squeeze(pdf_text(pdf.render(invoices.credit_note, "en"), tmp_path))
    assert "Corrects invoice INV-2026-0005 issued on 1 June 2026" in flat_en


@pytest.mark.req("BIL-03")
def test_pages_as_images(invoices, tmp_path):
    """Each document's first page as a PNG (A4 proportions, not blank) for a person to look at:
    test-artifacts/invoice_ja.png, invoice_en.png, credit_note_ja.png."""
    for invoice, language, name in [
        (invoices.acme, "ja", "invoice_ja"),
        (invoices.acme, "en", "invoice_en"),
        (invoices.credit_note, "ja", "credit_note_ja"),
    ]:
        png = to_png(pdf.render(invoice, language), name, tmp_path)
        with Image.open(png) as image:
            width, height = image.size
            assert abs(height / width - 297 / 210) < 0.01
            # Ink on the page: a dark title and table, not an empty sheet.
            dark = sum(image.convert("L").histogram()[:128])
            assert dark > 0.005 * width * height


@pytest.mark.req("BIL-03")
def test_rendering_again_gives_the_same_text(invoices, tmp_path):
    first = pdf_text(pdf.render(invoices.acme, "ja"), tmp_path)
    assert pdf_text(pdf.render(invoices.acme, "ja"), tmp_path) == first
    assert pdf.filename(invoices.acme, "ja") == "INV-2026-0005_ja.pdf"


@pytest.mark.req("BIL-03")
def test_a_long_invoice_runs_over_pages_with_its_headings(invoices, tmp_path):
    """Forty lines: the table's headings start every page, each page is numbered with the
    invoice's number, and the totals come once, at the end."""
    from decimal import Decimal

    from mamori.billing.models import InvoiceLine, LineKind

    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoices.acme,
            position=position,
            kind=LineKind.CHARGE,
            quantity=Decimal(1),
            unit_price=Decimal(1000),
            amount=Decimal(1000),
            tax_rate=10,
            description=f"追加作業 {position}（サーバー設定変更・ログ調査・報告書作成）",
        )
        for position in range(6, 41)
    )
    text = pdf_text(pdf.render(invoices.acme, "ja"), tmp_path)
    pages = [squeeze(page) for page in text.split("\f") if page.strip()]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert "品目 数量 単価 金額 税率" in page
        assert re.search(rf"INV-2026-0005 {number} ?/ ?{len(pages)}\s*$", page)
    assert ["合計" in page for page in pages] == [False] * (len(pages) - 1) + [True]
    to_png(pdf.render(invoices.acme, "ja"), "invoice_long_ja", tmp_path)
