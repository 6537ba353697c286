"""Done when: a month of a provider with clients under each seed contract, imported from one file,
gives the invoices a Japanese accountant would write by hand, to the yen — with an SLA credit, a
CA fee and a billable emergency measure; running the month again changes nothing; a credit note
corrects one invoice (issue 16).

The provider bills November 2026 on 1 December 2026. Tax: 10 %, rounded down, once per rate per
invoice. Every figure below is written by hand, with its arithmetic.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from mamori.billing import run as billing
from mamori.billing.models import Charge, Invoice, InvoiceCounter, InvoiceLine, IssuerProfile
from mamori.billing.text import line_text
from mamori.clients.models import Client
from mamori.inventory.transfer import import_file
from mamori.lifecycle import manual
from mamori.lifecycle.models import ManagedCertificate, Order
from mamori.monitoring import incidents
from mamori.monitoring.models import SlaCredit, SlaPolicy
from mamori.notices.models import Notice

D = Decimal
DATA = Path(__file__).parent / "data" / "provider.yaml"
NOVEMBER = dt.date(2026, 11, 1)
RUN_DAY = dt.date(2026, 12, 1)
TZ = timezone.get_default_timezone()


def at(day: int, month: int = 11, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=TZ)


@pytest.fixture
def provider(db, operator):
    report = import_file(DATA, filename="provider.yaml", actor=operator)
    assert report.ok, [str(e) for e in report.errors]
    IssuerProfile.objects.create(
        pk=1,
        name="株式会社まもり",
        address="東京都港区芝公園4-2-8",
        registration_number="T1234567890123",
        bank_account="まもり銀行 本店 普通 1234567 カ）マモリ",
        work_rate_per_hour=D(8000),
    )
    clients = {c.code: c for c in Client.objects.all()}
    # 004 §36: October's SLA of ops-co is finalized with a credit of 10 % of ¥80,000 = ¥8,000.
    policy = SlaPolicy.objects.create(
        client=clients["ops-co"],
        name="運用支援 SLA",
        monthly_fee=D(80000),
        tiers=[{"below": 99.9, "credit_percent": 10}],
    )
    SlaCredit.objects.create(
        policy=policy,
        month=dt.date(2026, 10, 1),
        minutes_in_month=44640,
        maintenance_minutes=0,
        downtime_minutes=400,
        excluded_minutes=0,
        longest_outage_minutes=400,
        availability_percent=D("99.104"),
        credit_percent=D(10),
        credit_amount=D(8000),
        finalized_at=at(2),
    )
    # CERT-15: the CA charged ¥41,800 (tax excluded) for ca-co's certificate on 20 November.
    managed = ManagedCertificate.objects.get(client=clients["ca-co"], name="www")
    order = Order.objects.create(
        managed=managed,
        purpose="issue",
        issuer="manual",
        names=["www.ca-co.example"],
        key_type="ec256",
    )
    manual.record_fee(order, D(41800), "JPY", "SR3.0 1年", actor=operator)
    # The service stamps the real clock; the fee was recorded in November.
    Order.objects.filter(pk=order.pk).update(fee_recorded_at=at(20))
    # MON-08: 50 minutes of emergency work for server-co on 10 November, billable.
    incident = incidents.open_manual(
        clients["server-co"],
        operator,
        "不正アクセスの遮断",
        started_at=at(10, hour=9),
        notify=False,
    )
    incidents.record_emergency_measure(
        incident, operator, "攻撃元 IP を遮断", at=at(10), minutes=50
    )
    return clients


def render_html(invoice, language: str) -> str:
    from django.template.loader import render_to_string
    from django.utils import translation

    from mamori.billing import document

    with translation.override(language):
        return render_to_string(
            "billing/_document.html", {"doc": document.build(invoice, language)}
        )


def lines_of(invoice: Invoice) -> list[tuple]:
    return [
        (line.kind, line_text(line), line.amount, line.tax_rate, line.tax_included)
        for line in invoice.lines.all()
    ]


@pytest.mark.req("BIL-01", "BIL-02", "BIL-03", "BIL-05", "CERT-15", "MON-08", "MON-07")
def test_november_as_an_accountant_writes_it(provider, operator):
    from mamori.clients import terms
    from mamori.clients.models import Contract

    # Each client's contract follows its seed's terms profile, from the same file.
    contracts = Contract.objects.select_related("client", "terms_profile")
    assert {c.client.code: c.terms_profile.code for c in contracts} == {
        "ssl-co": "fixed-1y-000",
        "web-co": "fixed-1y-001",
        "server-co": "fixed-1y-002",
        "ca-co": "ca-003",
        "ops-co": "monthly-004",
        "ops-new": "monthly-004",
    }
    # 004 §13: formed on 17 November, the minimum term runs to the end of December.
    ops_new = contracts.get(client__code="ops-new")
    assert terms.status(ops_new, RUN_DAY).minimum_term_end == dt.date(2026, 12, 31)
    report = billing.run_month(NOVEMBER, actor=operator, today=RUN_DAY)
    assert [(r.client.code, r.status, r.number) for r in report.results] == [
        ("ca-co", "issued", "INV-2026-0001"),
        ("ops-co", "issued", "INV-2026-0002"),
        ("ops-new", "issued", "INV-2026-0003"),
        ("server-co", "issued", "INV-2026-0004"),
        ("ssl-co", "issued", "INV-2026-0005"),
        ("web-co", "issued", "INV-2026-0006"),
    ]
    invoices = {i.client.code: i for i in Invoice.objects.select_related("client")}
    for invoice in invoices.values():
        assert invoice.issue_date == RUN_DAY
        # 002 §8: by the end of the month after the billing month.
        assert invoice.due_date == dt.date(2026, 12, 31)
        assert invoice.issuer["registration_number"] == "T1234567890123"
        assert invoice.recipient["name"] == invoice.client.name
        # BIL-02: transfer fees are the client's, said on the document under the bank account.
        assert "振込手数料は貴社にてご負担ください" in render_html(invoice, "ja")
        assert "transfer fees" in render_html(invoice, "en").lower()

    # ca-co (003): the CA fee ¥41,800; tax 41,800 × 10 % = 4,180; total 45,980.
    ca = invoices["ca-co"]
    assert lines_of(ca) == [
        ("charge", "CA費用（www.ca-co.example）", D(41800), 10, False),
    ]
    assert (ca.net_total, ca.tax_total, ca.total) == (D(41800), D(4180), D(45980))
    assert Order.objects.get().fee_billed_at is not None

    # ops-co (004): November's fee ¥80,000 and October's SLA credit −¥8,000 (at the fee's 10 %,
    # tax excluded): net 72,000; tax 7,200; total 79,200.
    ops = invoices["ops-co"]
    assert lines_of(ops) == [
        ("fee", "月額費用（運用サポート）2026年11月分", D(80000), 10, False),
        ("sla_credit", "SLA による減額（運用支援 SLA）2026年10月分", D(-8000), 10, False),
    ]
    assert (ops.net_total, ops.tax_total, ops.total) == (D(72000), D(7200), D(79200))
    assert SlaCredit.objects.get().invoice_line.invoice == ops

    # ops-new (004, formed 17 November): the first month counts whole (004 §12):
    # initial 20,000 + monthly 45,000 = 65,000; tax 6,500; total 71,500.
    new = invoices["ops-new"]
    assert [line[2] for line in lines_of(new)] == [D(20000), D(45000)]
    assert (new.net_total, new.tax_total, new.total) == (D(65000), D(6500), D(71500))

    # server-co (002, tax excluded): ¥50,000 and 50 minutes of emergency work at ¥8,000 an hour:
    # 50 / 60 × 8,000 = 6,666.66… → 6,666 (rounded down). Net 56,666; tax 5,666.6 → 5,666
    # (once, rounded down); total 62,332.
    server = invoices["server-co"]
    assert lines_of(server) == [
        ("fee", "月額費用（サーバー管理）2026年11月分", D(50000), 10, False),
        ("charge", "緊急対応（2026年11月10日、50分）", D(6666), 10, False),
    ]
    assert (server.net_total, server.tax_total, server.total) == (D(56666), D(5666), D(62332))

    # ssl-co (000), invoiced in English (its billing contact reads English): the initial fee
    # ¥30,000 and the first contract year ¥60,000: net 90,000; tax 9,000; total 99,000.
    ssl = invoices["ssl-co"]
    assert ssl.language == "en"
    assert [line[1] for line in lines_of(ssl)] == [
        "Initial fee (SSL certificate management)",
        "Annual fee (SSL certificate management), 1 November 2026 to 31 October 2027",
    ]
    assert (ssl.net_total, ssl.tax_total, ssl.total) == (D(90000), D(9000), D(99000))

    # web-co (001 §11: ¥32,000 a month, tax included): tax 32,000 × 10 / 110 = 2,909.09… →
    # 2,909; net 29,091; total 32,000.
    web = invoices["web-co"]
    assert web.totals == [
        {
            "rate": 10,
            "reduced": False,
            "tax_included": True,
            "net": "29091",
            "tax": "2909",
            "gross": "32000",
        }
    ]
    assert web.total == D(32000)


@pytest.mark.req("BIL-01", "CERT-15", "MON-08", "MON-07")
def test_running_the_month_again_changes_nothing(provider, operator):
    billing.run_month(NOVEMBER, actor=operator, today=RUN_DAY)
    before = (
        list(Invoice.objects.values_list("number", "total").order_by("number")),
        InvoiceLine.objects.count(),
        Charge.objects.count(),
        list(InvoiceCounter.objects.values_list("series", "next_number")),
        sorted(Notice.objects.filter(kind="invoice_issued").values_list("key", "recipient")),
    )
    # Each invoice is queued once to each billing contact, with the invoice itself.
    assert before[-1] and all(key.startswith("invoice-issued:") for key, _to in before[-1])
    again = billing.run_month(NOVEMBER, actor=operator, today=dt.date(2026, 12, 2))
    assert {r.status for r in again.results} == {"already_issued"}
    after = (
        list(Invoice.objects.values_list("number", "total").order_by("number")),
        InvoiceLine.objects.count(),
        Charge.objects.count(),
        list(InvoiceCounter.objects.values_list("series", "next_number")),
        sorted(Notice.objects.filter(kind="invoice_issued").values_list("key", "recipient")),
    )
    assert after == before
    # December bills neither the SLA credit nor the CA fee nor the emergency work again.
    december = billing.run_month(dt.date(2026, 12, 1), dry_run=True, today=dt.date(2026, 12, 31))
    kinds = {r.client.code: [line.kind for line in r.lines] for r in december.results}
    assert kinds == {
        "ops-co": ["fee"],
        "ops-new": ["fee"],  # the initial fee was billed in November
        "server-co": ["fee"],
        "web-co": ["fee"],
    }


@pytest.mark.req("BIL-01", "BIL-03")
def test_a_credit_note_corrects_an_invoice(provider, operator):
    billing.run_month(NOVEMBER, actor=operator, today=RUN_DAY)
    server = Invoice.objects.get(client__code="server-co")
    # The emergency work should not have been billed: line 2 (¥6,666) is given back.
    # Tax −6,666 × 10 % = −666.6 → −666; total −7,332; 62,332 − 7,332 = 55,000 = 50,000 × 1.1.
    note = billing.issue_credit_note(
        server, {2: 6666}, "契約範囲内の作業のため", operator, today=dt.date(2026, 12, 5)
    )
    assert note.number == "CN-2026-0001" and note.kind == "credit_note"
    assert note.corrects == server
    assert (note.net_total, note.tax_total, note.total) == (D(-6666), D(-666), D(-7332))
    (line,) = note.lines.all()
    assert line.corrects.position == 2
    assert line_text(line) == "訂正：緊急対応（2026年11月10日、50分）（請求書 INV-2026-0004）"
    assert server.total + note.total == D(55000)
    # No more than what is left of the line.
    with pytest.raises(billing.BillingError) as caught:
        billing.issue_credit_note(server, {2: 1}, "again", operator)
    assert caught.value.code == "too_much"
