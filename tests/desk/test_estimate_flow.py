"""Done when (issue 17): an out-of-scope request goes request → estimate PDF → the client accepts
in the portal → a billable line in the next invoice run, once (MNT-04, MON-08)."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal

import pytest
from django.urls import reverse

from mamori.billing import estimates
from mamori.billing import run as billing
from mamori.billing.models import Estimate, Invoice, InvoiceLine
from mamori.notices.services import deliver_due
from tests.billing.estimates_support import LINES, issuer, out_of_scope_request
from tests.support.env import require_binary


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "estimate.pdf"
    path.write_bytes(data)
    result = subprocess.run(
        [require_binary("pdftotext"), "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    return " ".join(result.stdout.split())


@pytest.mark.req("MNT-04")
@pytest.mark.req("MON-08")
def test_an_out_of_scope_request_is_estimated_accepted_and_billed_once(
    acme, operator, owner, smtp, client, tmp_path
):
    issuer()
    request = out_of_scope_request(acme)

    # The operator drafts the estimate from the request page's button and fills in its lines.
    client.force_login(operator)
    response = client.post(reverse("estimate_create", args=[request.pk]))
    estimate = Estimate.objects.get(request=request)
    assert response.status_code == 302 and estimate.title == "採用ページの新規作成"
    post = {"title": estimate.title, "language": "ja", "notes": "", "rows": "3"}
    for n, line in enumerate(LINES, start=1):
        post |= {
            f"description_{n}": line["description"],
            f"quantity_{n}": line["quantity"],
            f"unit_{n}": line.get("unit", ""),
            f"unit_price_{n}": line["unit_price"],
            f"tax_rate_{n}": str(line["tax_rate"]),
        }
    assert client.post(reverse("estimate_edit", args=[estimate.pk]), post).status_code == 302
    response = client.post(
        reverse("estimate_issue", args=[estimate.pk]), {"valid_until": "2099-12-31"}
    )
    assert response.status_code == 302
    estimate.refresh_from_db()
    assert estimate.state == "issued" and estimate.number.startswith("EST-")
    request.refresh_from_db()
    assert request.state == "estimate"

    # One e-mail to the requester, through the real SMTP server, with the PDF: once.
    assert deliver_due().sent == 1
    estimates.queue_estimate(estimate)  # queued again (a retry): nothing more
    assert deliver_due().sent == 0
    (message,) = smtp.messages
    assert message.to == "yamada@acme.example"
    assert f"[{request.number}]" in message.subject and estimate.number in message.subject
    (part,) = list(message.message.iter_attachments())
    assert part.get_filename() == f"{estimate.number}_ja.pdf"
    text = pdf_text(part.get_content(), tmp_path)
    for words in (
        "御 見 積 書",  # letter-spaced, as the title of a business document
        "株式会社アクメ 御中",
        estimate.number,
        "有効期限 2099年12月31日",
        "件名 採用ページの新規作成",
        "T1234567890123",
        "新規ページ制作（会社概要）",
        "¥149,850",
    ):
        assert words in text, words

    # The client's administrator accepts it in the portal, after a confirmation page.
    client.force_login(owner)
    listing = client.get(reverse("estimate_list")).content.decode()
    assert estimate.number in listing
    confirm = client.get(reverse("estimate_accept", args=[estimate.pk]))
    assert confirm.status_code == 200 and estimate.number in confirm.content.decode()
    response = client.post(reverse("estimate_accept", args=[estimate.pk]), {})
    assert response.status_code == 302
    estimate.refresh_from_db()
    assert estimate.state == "accepted" and estimate.accepted_by == owner
    again = client.post(reverse("estimate_accept", args=[estimate.pk]), {})
    assert again.status_code == 409  # refused twice

    # The next run bills its lines; a second run adds nothing.
    month = estimate.accepted_at.date().replace(day=1)
    report = billing.run_month(month, today=month + dt.timedelta(days=40))
    (result,) = report.results
    invoice = Invoice.objects.get(number=result.number)
    lines = InvoiceLine.objects.filter(invoice=invoice).order_by("position")
    assert [line.amount for line in lines] == [Decimal(120000), Decimal(15000), Decimal(1250)]
    assert invoice.total == Decimal(149850)
    billing.run_month(month, today=month + dt.timedelta(days=41))
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    assert billing.run_month(next_month, today=next_month + dt.timedelta(days=40)).results == []
    assert InvoiceLine.objects.filter(charge__source="estimate").count() == 3
