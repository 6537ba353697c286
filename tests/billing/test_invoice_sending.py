"""An issued invoice is e-mailed once to the client's billing contacts, each in their own
language with the PDF in that language attached, through the outbox and a real SMTP server
(BIL-03, NOT-02)."""

from __future__ import annotations

import subprocess

import pytest

from mamori.billing import sending
from mamori.clients.models import Contact
from mamori.notices.models import Notice, NoticeKind, NoticeState
from mamori.notices.services import deliver_due
from tests.support.env import require_binary


@pytest.fixture
def billing_contacts(acme):
    """acme's accounts department (Japanese) and Jane (English) receive invoices; Yamada does
    not (certificates and incidents only)."""
    keiri = Contact.objects.get(client=acme, email="keiri@acme.example")
    keiri.notify = ["contracts", "billing"]
    keiri.save()
    jane = Contact.objects.get(client=acme, email="jane@acme.example")
    jane.notify = ["certificates", "billing"]
    jane.save()
    return keiri, jane


def attachment(message):
    parts = [p for p in message.iter_attachments()]
    assert len(parts) == 1
    part = parts[0]
    return part.get_filename(), part.get_content_type(), part.get_content()


def text_of(pdf_bytes: bytes, tmp_path) -> str:
    path = tmp_path / "attached.pdf"
    path.write_bytes(pdf_bytes)
    result = subprocess.run(
        [require_binary("pdftotext"), "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    return " ".join(result.stdout.split())


@pytest.mark.req("BIL-03")
@pytest.mark.req("NOT-02")
def test_an_invoice_is_mailed_once_with_its_pdf(invoices, billing_contacts, smtp, tmp_path):
    first = sending.queue_invoice(invoices.acme)
    again = sending.queue_invoice(invoices.acme)
    assert len(first.created) == 2 and again.created == [] and again.existing == 2

    assert deliver_due().sent == 2
    sending.queue_invoice(invoices.acme)  # a re-run of the month after sending
    assert deliver_due().sent == 0
    messages = {m.to: m for m in smtp.messages}
    assert sorted(messages) == ["jane@acme.example", "keiri@acme.example"]
    assert len(smtp.messages) == 2

    ja = messages["keiri@acme.example"]
    assert "2026年5月分" in ja.subject and "INV-2026-0005" in ja.subject
    body = ja.text()
    assert "経理担当 様" in body
    assert "ご請求金額: 84,188円（税込）" in body
    assert "お支払期限: 2026年6月30日" in body
    assert "振込手数料は貴社にてご負担ください。" in body
    name, content_type, content = attachment(ja.message)
    assert (name, content_type) == ("INV-2026-0005_ja.pdf", "application/pdf")
    pdf_text = text_of(content, tmp_path)
    assert "ご請求金額 ¥84,188 （税込）" in pdf_text and "登録番号 T1234567890123" in pdf_text

    en = messages["jane@acme.example"]
    assert en.subject.endswith("Invoice INV-2026-0005 for May 2026")
    assert "Amount due: ¥84,188 (tax included)" in en.text()
    name, _type, content = attachment(en.message)
    assert name == "INV-2026-0005_en.pdf"
    assert "Amount due ¥84,188 (tax included)" in text_of(content, tmp_path)

    notices = Notice.objects.filter(kind=NoticeKind.INVOICE_ISSUED)
    assert {n.state for n in notices} == {NoticeState.SENT}
    assert all(n.client_id == invoices.acme.client_id for n in notices)


@pytest.mark.req("BIL-03")
def test_a_credit_note_is_mailed_as_such(invoices, billing_contacts, smtp, tmp_path):
    sending.queue_invoice(invoices.credit_note)
    deliver_due()
    ja = next(m for m in smtp.messages if m.to == "keiri@acme.example")
    assert "請求書（赤伝）" in ja.subject and "INV-2026-0005 の訂正" in ja.subject
    assert "訂正金額: -17,600円（税込）" in ja.text()
    assert "お支払期限" not in ja.text()
    name, _type, content = attachment(ja.message)
    assert name == "CN-2026-0001_ja.pdf"
    assert "請求書（赤伝）" in text_of(content, tmp_path)


def test_no_billing_contact_means_no_mail(invoices, smtp):
    assert sending.queue_invoice(invoices.acme).created == []
    assert deliver_due().sent == 0 and smtp.messages == []


@pytest.mark.req("NOT-02")
def test_a_mail_whose_pdf_cannot_be_made_is_retried_not_sent_without_it(
    invoices, billing_contacts, smtp
):
    sending.queue_invoice(invoices.acme)
    Notice.objects.update(attachments=[{"kind": "invoice_pdf", "invoice": 999999}])
    report = deliver_due()
    assert report.sent == 0 and report.retrying == 2
    assert smtp.messages == []
    notice = Notice.objects.first()
    assert notice.state == NoticeState.RETRY and "DoesNotExist" in notice.last_error
