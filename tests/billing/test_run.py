"""The invoice run's rules one by one, credit notes, immutability, the CLI and the API."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient

from mamori.billing import run as billing
from mamori.billing.models import (
    Charge,
    Fee,
    ImmutableInvoice,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    IssuerProfile,
)
from mamori.clients.models import Contact, Contract
from mamori.core.models import AuditEvent
from mamori.core.tokens import create_token

D = Decimal


@pytest.fixture
def issuer(db):
    return IssuerProfile.objects.create(
        pk=1, name="株式会社まもり", registration_number="T1234567890123"
    )


def fee(contract, kind, amount, **extra) -> Fee:
    return Fee.objects.create(contract=contract, kind=kind, amount=D(amount), **extra)


def planned(client, month: dt.date):
    report = billing.run_month(month, dry_run=True, today=dt.date(2027, 12, 31))
    for result in report.results:
        if result.client == client:
            return result
    return None


@pytest.mark.req("BIL-01")
def test_monthly_fee_starting_and_ending_mid_month(acme, issuer):
    # A fee is billed for each month on whose last day it is in force: from 15 May (the month
    # counted whole) to 14 August: May, June, July; not August, nor April.
    contract = acme.contracts.get()
    fee(contract, "monthly", 10000, starts_on=dt.date(2026, 5, 15), ends_on=dt.date(2026, 8, 14))
    billed = [m for m in range(4, 10) if planned(acme, dt.date(2026, m, 1))]
    assert billed == [5, 6, 7]
    (line,) = planned(acme, dt.date(2026, 5, 1)).lines
    assert (line.period_start, line.period_end) == (dt.date(2026, 5, 1), dt.date(2026, 5, 31))


@pytest.mark.req("BIL-01")
def test_annual_fee_in_the_month_each_contract_year_begins(acme, issuer):
    contract = acme.contracts.get()  # from 1 April 2026
    fee(contract, "annual", 120000)
    months = [
        (year, m)
        for year in (2026, 2027)
        for m in range(1, 13)
        if planned(acme, dt.date(year, m, 1))
    ]
    assert months == [(2026, 4), (2027, 4)]
    (line,) = planned(acme, dt.date(2027, 4, 1)).lines
    assert (line.period_start, line.period_end) == (dt.date(2027, 4, 1), dt.date(2028, 3, 31))


@pytest.mark.req("BIL-05")
def test_a_contract_that_ends_is_billed_to_the_end_of_its_term(acme, issuer):
    # Not renewing: the fees run to the end of the first term (31 March 2027), whatever day
    # the client cancelled; nothing after it, nothing refunded.
    contract = acme.contracts.get()
    contract.auto_renew = False
    contract.save()
    assert billing.contract_billing_end(contract) == dt.date(2027, 3, 31)
    fee(contract, "monthly", 10000)
    assert planned(acme, dt.date(2027, 3, 1)) is not None
    assert planned(acme, dt.date(2027, 4, 1)) is None


@pytest.mark.req("BIL-03")
def test_mixed_tax_basis_is_refused_and_numbers_stay_gap_free(acme, globex, issuer):
    fee(acme.contracts.get(), "monthly", 11000, tax_included=True)
    Charge.objects.create(
        client=acme,
        source="manual",
        description="作業",
        occurred_on=dt.date(2026, 5, 3),
        unit_price=D(5000),
    )
    globex_contract = Contract.objects.create(
        client=globex, type="server_management", start=dt.date(2026, 1, 1)
    )
    fee(globex_contract, "monthly", 50000)
    report = billing.run_month(dt.date(2026, 5, 1), today=dt.date(2026, 6, 1))
    statuses = {r.client.code: (r.status, r.code, r.number) for r in report.results}
    assert statuses == {
        "acme": ("refused", "mixed_tax_basis", ""),
        "globex": ("issued", "", "INV-2026-0001"),
    }
    assert InvoiceCounter.objects.get(series="INV-2026").next_number == 2


@pytest.mark.req("BIL-01")
def test_dry_run_writes_nothing_and_the_issuer_must_be_complete(acme, db):
    fee(acme.contracts.get(), "monthly", 10000)
    report = billing.run_month(dt.date(2026, 5, 1), dry_run=True, today=dt.date(2026, 6, 1))
    assert [r.status for r in report.results] == ["would_issue"]
    assert report.results[0].totals.total == D(11000)
    assert not Invoice.objects.exists() and not InvoiceCounter.objects.exists()
    with pytest.raises(billing.BillingError) as caught:
        billing.run_month(dt.date(2026, 5, 1), today=dt.date(2026, 6, 1))
    assert caught.value.code == "issuer_incomplete"


@pytest.mark.req("BIL-02")
def test_invoice_language_from_the_first_billing_contact(acme, issuer):
    fee(acme.contracts.get(), "monthly", 10000)
    assert planned(acme, dt.date(2026, 5, 1)).language == "ja"  # nobody receives invoices
    jane = Contact.objects.get(email="jane@acme.example")
    jane.notify = ["billing"]
    jane.save()
    assert planned(acme, dt.date(2026, 5, 1)).language == "en"


@pytest.mark.req("BIL-01")
def test_issued_invoices_never_change(acme, operator, issuer):
    fee(acme.contracts.get(), "monthly", 10000)
    billing.run_month(dt.date(2026, 5, 1), actor=operator, today=dt.date(2026, 6, 1))
    invoice = Invoice.objects.get()
    assert invoice.due_date == dt.date(2026, 6, 30)
    invoice.total = D(1)
    with pytest.raises(ImmutableInvoice):
        invoice.save()
    with pytest.raises(ImmutableInvoice):
        invoice.delete()
    line = invoice.lines.get()
    line.amount = D(1)
    with pytest.raises(ImmutableInvoice):
        line.save()
    assert InvoiceLine.objects.get().amount == D(10000)
    assert AuditEvent.objects.filter(action="invoice.issue", actor_id=operator.pk).count() == 1


@pytest.mark.req("BIL-01")
def test_credit_note_rules(acme, operator, issuer):
    fee(acme.contracts.get(), "monthly", 10000)
    billing.run_month(dt.date(2026, 5, 1), actor=operator, today=dt.date(2026, 6, 1))
    invoice = Invoice.objects.get()
    with pytest.raises(billing.BillingError, match="why"):
        billing.issue_credit_note(invoice, None, " ", operator)
    with pytest.raises(billing.BillingError) as caught:
        billing.issue_credit_note(invoice, {3: 100}, "x", operator)
    assert caught.value.code == "no_such_line"
    # Everything back: −10,000, tax −1,000, total −11,000.
    note = billing.issue_credit_note(invoice, None, "契約の誤り", operator)
    assert (note.number, note.total, note.month) == ("CN-2026-0001", D(-11000), invoice.month)
    with pytest.raises(billing.BillingError) as caught:
        billing.issue_credit_note(note, None, "x", operator)
    assert caught.value.code == "not_an_invoice"


@pytest.mark.req("BIL-01", "BIL-03")
def test_command_line(acme, issuer, tmp_path):
    fee(acme.contracts.get(), "monthly", 10000, description="保守（月額）")
    out = io.StringIO()
    call_command("invoices", "run", "--month", "2026-05", stdout=out)
    (number,) = Invoice.objects.values_list("number", flat=True)
    assert f"acme: issued {number}" in out.getvalue()
    out = io.StringIO()
    call_command("invoices", "show", number, "--json", stdout=out)
    assert '"description": "保守（月額）"' in out.getvalue()
    assert '"registration_number": "T1234567890123"' in out.getvalue()
    out = io.StringIO()
    call_command("invoices", "export", "--month", "2026-05", stdout=out)
    target = tmp_path / "invoice.pdf"
    out = io.StringIO()
    call_command("invoices", "pdf", number, "--language", "en", "--output", target, stdout=out)
    assert target.read_bytes().startswith(b"%PDF-") and f"{number}: {target}" in out.getvalue()
    with pytest.raises(CommandError) as caught:
        call_command("invoices", "pdf", number, "--output", tmp_path / "missing" / "x.pdf")
    assert caught.value.returncode == 2 and "cannot write" in str(caught.value)
    with pytest.raises(CommandError) as caught:
        call_command("invoices", "show", "NOPE")
    assert caught.value.returncode == 2
    with pytest.raises(CommandError) as caught:
        call_command("invoices", "run", "--month", "May")
    assert caught.value.returncode == 2


@pytest.mark.req("BIL-01")
def test_csv_export_opens_in_excel(acme, issuer, capsys):
    fee(acme.contracts.get(), "monthly", 10000, description="=SUM(A1)")
    billing.run_month(dt.date(2026, 5, 1), today=dt.date(2026, 6, 1))
    from mamori.billing import present

    text = present.export_csv(present.for_listing(Invoice.objects.all()))
    assert text.startswith("\ufeffnumber,kind,")
    row = text.splitlines()[1].split(",")
    assert row[10] == "'=SUM(A1)" and row[15] == "10000" and row[-1] == "11000"


@pytest.mark.req("BIL-01")
def test_api_scoped_to_what_each_user_sees(acme, globex, owner, outsider, operator, issuer):
    fee(acme.contracts.get(), "monthly", 10000)
    globex_contract = Contract.objects.create(
        client=globex, type="server_management", start=dt.date(2026, 1, 1)
    )
    fee(globex_contract, "monthly", 50000)

    def as_user(user) -> HttpClient:
        return HttpClient(headers={"Authorization": f"Bearer {create_token(user, 't')[1]}"})

    staff, acme_admin, globex_user = as_user(operator), as_user(owner), as_user(outsider)
    body = {"month": "2026-05", "dry_run": False}
    assert acme_admin.post("/api/v1/invoice-runs", body, "application/json").status_code == 403
    response = staff.post("/api/v1/invoice-runs", body, "application/json")
    assert response.status_code == 200, response.content
    assert {i["status"] for i in response.json()["invoices"]} == {"issued"}
    acme_number = Invoice.objects.get(client=acme).number
    globex_number = Invoice.objects.get(client=globex).number
    listed = acme_admin.get("/api/v1/invoices").json()["items"]
    assert [i["number"] for i in listed] == [acme_number]
    assert acme_admin.get(f"/api/v1/invoices/{globex_number}").status_code == 404
    shown = globex_user.get(f"/api/v1/invoices/{globex_number}?language=en").json()
    assert shown["lines"][0]["description"] == "Monthly fee (Server management), May 2026"
    assert shown["total"] == "55000"
    credit = {"reason": "値引き", "lines": {"1": "5000"}}
    path = f"/api/v1/invoices/{acme_number}/credit-notes"
    assert acme_admin.post(path, credit, "application/json").status_code == 403
    response = staff.post(path, credit, "application/json")
    assert response.status_code == 201, response.content
    assert response.json()["total"] == "-5500"
    bad = staff.post(path, {"reason": "", "lines": None}, "application/json")
    assert bad.status_code == 422
    month = staff.get("/api/v1/invoices?month=2026-13")
    assert month.status_code == 422


@pytest.mark.req("CERT-15", "MON-08")
def test_sources_that_cannot_become_charges_are_reported(acme, operator, db):
    from django.utils import timezone

    from mamori.billing import sources
    from mamori.lifecycle import manual
    from mamori.lifecycle.models import ManagedCertificate, Order
    from mamori.monitoring import incidents

    IssuerProfile.objects.create(pk=1, name="まもり", registration_number="T1234567890123")
    managed = ManagedCertificate.objects.create(
        client=acme, name="www", names=["www.acme.example"], issuer="manual"
    )
    order = Order.objects.create(
        managed=managed,
        purpose="issue",
        issuer="manual",
        names=["www.acme.example"],
        key_type="ec256",
    )
    manual.record_fee(order, D("120.50"), "USD", actor=operator)
    incident = incidents.open_manual(acme, operator, "障害", notify=False)
    incidents.record_emergency_measure(incident, operator, "再起動", minutes=30)
    today = timezone.localdate()
    pending = sources.record_charges(today)
    # No conversion of dollars, no price for work without an hourly rate.
    assert sorted(s["code"] for s in pending.skipped) == ["no_work_rate", "not_yen"]
    assert not Charge.objects.exists()
    # With a rate, the work becomes one charge, once: 30 / 60 × 7,001 = 3,500.5 → 3,500.
    IssuerProfile.objects.filter(pk=1).update(work_rate_per_hour=D(7001))
    assert [c.unit_price for c in sources.record_charges(today).charges] == [D(3500)]
    assert sources.record_charges(today).charges == []
    assert Charge.objects.get().source == "emergency"


def _notice(contract, operator, kind, received_on, end_month=None):
    from mamori.clients import services

    return services.record_contract_notice(
        operator,
        contract,
        kind=kind,
        received_on=received_on,
        medium="email",
        sender="総務部 山田",
        requested_end_month=end_month,
    )


@pytest.mark.req("BIL-05", "CT-04")
def test_a_mid_term_cancellation_bills_its_month_to_the_end(acme, operator, issuer):
    # 001 §18: mid-term cancellation with 30 days' notice. A notice received on 1 June asking
    # to end in July ends the contract in July; the fees run to the end of July (no refund of
    # the period) and stop there.
    from mamori.clients.models import TermsProfile

    contract = acme.contracts.get()  # from 1 April 2026
    contract.terms_profile = TermsProfile.objects.get(code="fixed-1y-001")
    contract.save()
    fee(contract, "monthly", 10000)
    notice = _notice(
        contract, operator, "cancellation", dt.date(2026, 6, 1), end_month=dt.date(2026, 7, 1)
    )
    assert notice.effective_on == dt.date(2026, 7, 31)
    end = notice.effective_on
    assert billing.contract_billing_end(contract) == billing.month_end(end)
    assert planned(acme, end.replace(day=1)) is not None
    following = billing.month_end(end) + dt.timedelta(days=1)
    assert planned(acme, following) is None


@pytest.mark.req("BIL-05", "CT-03")
def test_a_monthly_contract_cancelled_in_month_m_bills_m_plus_one(acme, operator, issuer):
    # 004 §26: a cancellation accepted in September ends the contract at the end of October;
    # October is billed, November is not.
    from mamori.clients.models import TermsProfile

    contract = acme.contracts.get()
    contract.terms_profile = TermsProfile.objects.get(code="monthly-004")
    contract.save()
    fee(contract, "monthly", 5000)
    _notice(contract, operator, "cancellation", dt.date(2026, 9, 10))
    assert planned(acme, dt.date(2026, 10, 1)) is not None
    assert planned(acme, dt.date(2026, 11, 1)) is None


@pytest.mark.req("CT-05")
def test_a_withdrawn_contract_bills_nothing(acme, operator, issuer):
    # Cooling-off (004 §42): withdrawn within 8 days of applying on the web, as if never made.
    from mamori.clients.models import TermsProfile

    contract = acme.contracts.get()
    contract.terms_profile = TermsProfile.objects.get(code="monthly-004")
    contract.applied_via_web = True
    contract.save()
    fee(contract, "initial", 30000)
    fee(contract, "monthly", 5000)
    _notice(contract, operator, "withdrawal", contract.start + dt.timedelta(days=3))
    assert planned(acme, contract.start.replace(day=1)) is None
