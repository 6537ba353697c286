"""The invoice run and credit notes (BIL-01, BIL-02, BIL-03, BIL-05, CERT-15, MON-08, MON-07).

``run_month(month, dry_run=..., actor=...)`` makes one invoice per client for the month from
everything due (docs/billing.md tells every rule with its contract clause):

- monthly fees: billed for each calendar month on whose last day the fee is in force — so the
  month a fee starts in is billed whole (004 §12: the first month counts as a month, even when
  the contract is formed mid-month), and a fee that ends before a month's last day (replaced by
  an accepted change, CT-06, or ended with its contract) is not billed for that month: its
  successor is, so a month is never billed twice or split;
- annual fees: in the month each year from the fee's start (the contract year) begins, for that
  year;
- initial and other (one-off) fees: in the month they start, or the first run after it that has
  not billed them yet;
- charges (CA fees, billable emergency measures, interest, surcharges, lines by hand) that occurred
  up to the month's end and are not billed yet;
- SLA credits of finalized months not yet billed, as negative lines (MON-07), at the tax rate and
  basis of the monthly fee they reduce.

BIL-05 (no refunds): a contract cancelled mid-period is billed to the end of its period —
:func:`contract_billing_end` is the one place that says until when a contract's fees run.

Running a month again never duplicates: a client with an invoice for the month is skipped
(``one_invoice_per_client_month``), charges and SLA credits are billed by one line each
(one-to-one links). Each client's invoice is issued in its own transaction with its number taken
from :class:`InvoiceCounter` (locked), so numbers have no gaps.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone

from mamori.billing import sending, tax
from mamori.billing.models import (
    Charge,
    Fee,
    FeeKind,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    IssuerProfile,
    LineKind,
    TaxRate,
)
from mamori.clients import terms
from mamori.clients.models import Client, Contract, NoticeTopic
from mamori.clients.models import NoticeKind as ContractNoticeKind
from mamori.core import audit
from mamori.core.models import User


class BillingError(Exception):
    """A run or credit note that cannot be made; ``code`` names why, the message says it."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def parse_month(value: str) -> date:
    """``YYYY-MM`` as the month's first day."""
    try:
        year, month = (int(part) for part in str(value).strip().split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise BillingError("bad_month", f"expected a month as YYYY-MM, got {value!r}") from None


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def contract_billing_end(contract: Contract) -> date | None:
    """The last day a contract's fees run to, when its end can be seen today; ``None`` while it
    renews on. The one place the invoice run asks; the contract's terms answer it
    (:mod:`mamori.clients.terms`: a cancellation notice's effective date, or the end of a term
    that does not renew).

    BIL-05: a contract cancelled mid-period still owes the period, so when its terms profile
    bills to the period's end (``bill_to_period_end``, the default) the fees run to the end of
    the month the contract ends in. A withdrawal within the cooling-off period (CT-05) leaves
    the contract as if it never was: nothing is billed."""
    notices = contract.notices.all()
    if any(n.kind == ContractNoticeKind.WITHDRAWAL for n in notices):
        return contract.start - relativedelta(days=1)
    end = terms.effective_end(contract, notices)
    if end is None:
        return None
    profile = contract.terms_profile
    if profile is None or profile.bill_to_period_end:
        return month_end(end)
    return end


# --- what is due ---------------------------------------------------------------------------


@dataclass
class PlannedLine:
    kind: str
    params: dict
    amount: Decimal
    tax_rate: int
    tax_included: bool
    description: str = ""
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None
    period_start: date | None = None
    period_end: date | None = None
    fee: Fee | None = None
    charge: Charge | None = None
    sla_credit: object | None = None

    def as_json(self, language: str) -> dict:
        from mamori.billing.text import describe

        return {
            "kind": self.kind,
            "description": describe(self.kind, self.params, language, self.description),
            "quantity": str(self.quantity),
            "unit_price": str(self.unit_price if self.unit_price is not None else self.amount),
            "amount": str(self.amount),
            "tax_rate": self.tax_rate,
            "tax_included": self.tax_included,
            "reduced": self.tax_rate in tax.REDUCED_RATES,
        }


@dataclass
class ClientResult:
    client: Client
    status: str  # issued | would_issue | already_issued | refused
    number: str = ""
    lines: list[PlannedLine] = field(default_factory=list)
    totals: tax.Totals | None = None
    code: str = ""
    message: str = ""
    language: str = "ja"

    def as_json(self) -> dict:
        data = {"client": self.client.code, "status": self.status}
        if self.number:
            data["number"] = self.number
        if self.code:
            data["code"] = self.code
            data["message"] = self.message
        if self.totals is not None:
            data["lines"] = [line.as_json(self.language) for line in self.lines]
            data["totals"] = [r.as_json() for r in self.totals.rates]
            data["net_total"] = str(self.totals.net_total)
            data["tax_total"] = str(self.totals.tax_total)
            data["total"] = str(self.totals.total)
        return data


@dataclass
class RunReport:
    month: date
    dry_run: bool
    results: list[ClientResult] = field(default_factory=list)
    skipped_sources: list[dict] = field(default_factory=list)

    def by_status(self, status: str) -> list[ClientResult]:
        return [r for r in self.results if r.status == status]

    def as_json(self) -> dict:
        return {
            "month": f"{self.month:%Y-%m}",
            "dry_run": self.dry_run,
            "invoices": [r.as_json() for r in self.results],
            "skipped_sources": self.skipped_sources,
        }


def _fee_start(fee: Fee) -> date:
    return fee.starts_on or fee.contract.start


def _fee_end(fee: Fee) -> date | None:
    ends = [d for d in (fee.ends_on, contract_billing_end(fee.contract)) if d is not None]
    return min(ends) if ends else None


def _in_force(fee: Fee, day: date) -> bool:
    end = _fee_end(fee)
    return _fee_start(fee) <= day and (end is None or end >= day)


def _fee_params(fee: Fee, **extra) -> dict:
    return {"fee_kind": fee.kind, "contract_type": fee.contract.type, **extra}


def fee_lines(fees, month: date, billed_one_off: set[int]) -> list[PlannedLine]:
    """The lines ``fees`` owe for ``month`` (see the module's rules)."""
    first, last = month, month_end(month)
    lines = []
    for fee in fees:
        start = _fee_start(fee)

        def line(fee=fee, **kw) -> PlannedLine:
            return PlannedLine(
                kind=LineKind.FEE,
                amount=fee.amount,
                unit_price=fee.amount,
                tax_rate=fee.tax_rate,
                tax_included=fee.tax_included,
                description=fee.description,
                fee=fee,
                **kw,
            )

        if fee.kind == FeeKind.MONTHLY:
            if _in_force(fee, last):
                lines.append(
                    line(
                        params=_fee_params(fee, month=f"{month:%Y-%m}"),
                        period_start=first,
                        period_end=last,
                    )
                )
        elif fee.kind == FeeKind.ANNUAL:
            years = (first.year - start.year) * 12 + first.month - start.month
            if years >= 0 and years % 12 == 0:
                begins = start + relativedelta(years=years // 12)
                if _in_force(fee, begins):
                    ends = begins + relativedelta(years=1) - relativedelta(days=1)
                    lines.append(
                        line(
                            params=_fee_params(fee, start=begins.isoformat(), end=ends.isoformat()),
                            period_start=begins,
                            period_end=ends,
                        )
                    )
        elif start <= last and fee.pk not in billed_one_off and _in_force(fee, start):
            # Initial and other fees: once, from the month they start (unless the contract
            # ended before they began: a cooling-off withdrawal bills nothing).
            lines.append(line(params=_fee_params(fee)))
    return lines


def charge_line(charge: Charge) -> PlannedLine:
    amount = (charge.quantity * charge.unit_price).quantize(Decimal(1), rounding=ROUND_DOWN)
    return PlannedLine(
        kind=LineKind.CHARGE,
        params={"source": charge.source, **(charge.params or {})},
        description=charge.description,
        quantity=charge.quantity,
        unit_price=charge.unit_price,
        amount=amount,
        tax_rate=charge.tax_rate,
        tax_included=charge.tax_included,
        charge=charge,
    )


def credit_fee(credit, monthly_fees: list[Fee]) -> Fee | None:
    """The monthly fee an SLA credit reduces: the client's monthly fee in force in the credit's
    month, preferring the contract the policy names (if it names one) and the fee whose amount
    is the policy's monthly fee."""
    last = month_end(credit.month)
    contract_id = getattr(credit.policy, "contract_id", None)
    candidates = [f for f in monthly_fees if _in_force(f, last) or _in_force(f, credit.month)]
    if contract_id:
        candidates = [f for f in candidates if f.contract_id == contract_id] or candidates
    same = [f for f in candidates if f.amount == credit.policy.monthly_fee]
    chosen = same or candidates
    return chosen[0] if chosen else None


def credit_line(credit, monthly_fees: list[Fee]) -> PlannedLine:
    fee = credit_fee(credit, monthly_fees)
    amount = -Decimal(credit.credit_amount)
    return PlannedLine(
        kind=LineKind.SLA_CREDIT,
        params={
            "month": f"{credit.month:%Y-%m}",
            "policy": credit.policy.name,
            "percent": str(credit.credit_percent),
        },
        amount=amount,
        unit_price=amount,
        tax_rate=fee.tax_rate if fee else TaxRate.STANDARD,
        tax_included=fee.tax_included if fee else False,
        period_start=credit.month,
        period_end=month_end(credit.month),
        sla_credit=credit,
    )


def invoice_language(client: Client) -> str:
    """The language of the client's first contact (by record) who receives invoices; else ja."""
    contacts = sorted(client.contacts.all(), key=lambda c: c.pk)
    for contact in contacts:
        if contact.email and NoticeTopic.BILLING in (contact.notify or []):
            return contact.language or "ja"
    return "ja"


def due_date(month: date, issue_date: date) -> date:
    """The end of the month after the billing month (002 §8; 003 §8 for a certificate issued in
    the billing month gives the same day). A month billed so late that this day has passed gets
    the end of the month after the issue."""
    due = month_end(month + relativedelta(months=1))
    if due < issue_date:
        due = month_end(issue_date.replace(day=1) + relativedelta(months=1))
    return due


def issuer_particulars(issuer: IssuerProfile) -> dict:
    return {
        "name": issuer.name,
        "postal_code": issuer.postal_code,
        "address": issuer.address,
        "phone": issuer.phone,
        "email": issuer.email,
        "registration_number": issuer.registration_number,
        "bank_account": issuer.bank_account,
        "tax_rounding": issuer.tax_rounding,
    }


def recipient_particulars(client: Client) -> dict:
    return {"code": client.code, "name": client.name, "address": client.address}


def _issuer() -> IssuerProfile:
    return IssuerProfile.objects.filter(pk=1).first() or IssuerProfile(pk=1)


def _check_issuer(issuer: IssuerProfile) -> None:
    if not issuer.name or not issuer.registration_number:
        raise BillingError(
            "issuer_incomplete",
            "the issuer's name and registration number are not set "
            "(a qualified invoice needs both): set them first",
        )


def next_number(prefix: str, year: int) -> str:
    """The next number of the series ``prefix``-``year``, taken in the caller's transaction."""
    series = f"{prefix}-{year}"
    counter, _ = InvoiceCounter.objects.select_for_update().get_or_create(series=series)
    number = counter.next_number
    InvoiceCounter.objects.filter(pk=counter.pk).update(next_number=number + 1)
    return f"{series}-{number:04d}"


def _write_invoice(
    *,
    client: Client,
    kind: str,
    month: date,
    language: str,
    issue_date: date,
    due: date,
    issuer: IssuerProfile,
    recipient: dict,
    lines: list[PlannedLine],
    totals: tax.Totals,
    note: str,
    actor: User | None,
    corrects: Invoice | None = None,
    corrects_lines: list[InvoiceLine | None] | None = None,
) -> Invoice:
    prefix = issuer.credit_note_prefix if kind == InvoiceKind.CREDIT_NOTE else issuer.invoice_prefix
    invoice = Invoice(
        client=client,
        kind=kind,
        number=next_number(prefix or kind.upper()[:3], issue_date.year),
        month=month,
        corrects=corrects,
        language=language,
        issue_date=issue_date,
        due_date=due,
        issuer=issuer_particulars(issuer),
        recipient=recipient,
        totals=[r.as_json() for r in totals.rates],
        net_total=totals.net_total,
        tax_total=totals.tax_total,
        total=totals.total,
        note=note,
        issued_by=actor if actor is not None and actor.pk else None,
    )
    invoice.save()
    rows = []
    for position, planned in enumerate(lines, start=1):
        rows.append(
            InvoiceLine(
                invoice=invoice,
                position=position,
                kind=planned.kind,
                params=planned.params,
                description=planned.description,
                period_start=planned.period_start,
                period_end=planned.period_end,
                quantity=planned.quantity,
                unit_price=planned.unit_price if planned.unit_price is not None else planned.amount,
                amount=planned.amount,
                tax_rate=planned.tax_rate,
                tax_included=planned.tax_included,
                fee=planned.fee,
                charge=planned.charge,
                sla_credit=planned.sla_credit,
                corrects=corrects_lines[position - 1] if corrects_lines else None,
            )
        )
    InvoiceLine.objects.bulk_create(rows)
    return invoice


def _sort_key(line: PlannedLine):
    order = {LineKind.FEE: 0, LineKind.CHARGE: 1, LineKind.SLA_CREDIT: 2}
    fee_order = {"initial": 0, "annual": 1, "monthly": 2, "other": 3}
    contract_start = line.fee.contract.start if line.fee else date.min
    return (
        order.get(line.kind, 9),
        contract_start,
        fee_order.get(line.params.get("fee_kind", ""), 9),
        line.period_start or date.min,
    )


def plan_month(month: date, *, extra_charges=()) -> dict[int, tuple[Client, list[PlannedLine]]]:
    """Every client's due lines for ``month``, in a constant number of queries."""
    from mamori.monitoring.models import SlaCredit

    last = month_end(month)
    fees = list(
        Fee.objects.filter(contract__start__lte=last)
        .select_related("contract__terms_profile")
        .prefetch_related("contract__notices")
        .order_by("contract__client_id", "contract__start", "pk")
    )
    billed_one_off = set(
        InvoiceLine.objects.filter(
            fee__kind__in=[FeeKind.INITIAL, FeeKind.OTHER], invoice__kind=InvoiceKind.INVOICE
        ).values_list("fee_id", flat=True)
    )
    charges = list(
        Charge.objects.unbilled().filter(occurred_on__lte=last).order_by("occurred_on", "pk")
    )
    charges += [c for c in extra_charges if c.occurred_on <= last]
    credits = list(
        SlaCredit.objects.filter(
            finalized_at__isnull=False, invoice_line__isnull=True, month__lte=month
        )
        .exclude(credit_amount=0)
        .select_related("policy")
        .order_by("month", "pk")
    )
    fees_by_client: dict[int, list[Fee]] = defaultdict(list)
    for fee in fees:
        fees_by_client[fee.contract.client_id].append(fee)
    lines_by_client: dict[int, list[PlannedLine]] = defaultdict(list)
    for client_id, client_fees in fees_by_client.items():
        lines_by_client[client_id] += fee_lines(client_fees, month, billed_one_off)
    for charge in charges:
        lines_by_client[charge.client_id].append(charge_line(charge))
    for credit in credits:
        monthly = [
            f for f in fees_by_client.get(credit.policy.client_id, []) if f.kind == "monthly"
        ]
        lines_by_client[credit.policy.client_id].append(credit_line(credit, monthly))
    wanted = [cid for cid, lines in lines_by_client.items() if lines]
    clients = Client.objects.filter(pk__in=wanted).prefetch_related("contacts").order_by("code")
    return {c.pk: (c, sorted(lines_by_client[c.pk], key=_sort_key)) for c in clients}


def run_month(
    month: date | str,
    *,
    dry_run: bool = False,
    actor: User | None = None,
    today: date | None = None,
) -> RunReport:
    """Issue (or, with ``dry_run``, only show) one invoice per client for ``month``."""
    from mamori.billing import sources

    if isinstance(month, str):
        month = parse_month(month)
    month = month.replace(day=1)
    issue_date = today or timezone.localdate()
    if issue_date < month:
        raise BillingError(
            "month_not_started", f"{month:%Y-%m} has not begun: it cannot be billed yet"
        )
    issuer = _issuer()
    report = RunReport(month=month, dry_run=dry_run)
    last = month_end(month)
    if dry_run:
        pending = sources.pending_charges(last, issuer)
        extra = pending.charges
    else:
        _check_issuer(issuer)
        pending = sources.record_charges(last, issuer)
        extra = []
    report.skipped_sources = pending.skipped
    planned = plan_month(month, extra_charges=extra)
    issued = set(
        Invoice.objects.filter(
            month=month, kind=InvoiceKind.INVOICE, client_id__in=list(planned)
        ).values_list("client_id", "number")
    )
    issued_by_client = dict(issued)
    for client, lines in planned.values():
        language = invoice_language(client)
        result = ClientResult(client=client, status="would_issue", language=language, lines=lines)
        report.results.append(result)
        if client.pk in issued_by_client:
            result.status = "already_issued"
            result.number = issued_by_client[client.pk]
            result.lines = []
            continue
        try:
            result.totals = tax.compute(lines, issuer.tax_rounding)
        except tax.MixedTaxBasis as exc:
            result.status, result.code, result.message = "refused", exc.code, str(exc)
            continue
        if dry_run:
            continue
        try:
            invoice = issue_invoice(
                client, month, lines, result.totals, issuer, language, issue_date, actor
            )
        except IntegrityError:
            # A charge or credit of these lines was billed meanwhile by a run of another month.
            result.status, result.code = "refused", "billed_meanwhile"
            result.message = "some of its lines were billed meanwhile by another run: run again"
            continue
        if invoice is None:  # issued meanwhile by another run
            result.status = "already_issued"
            result.number = (
                Invoice.objects.filter(client=client, month=month, kind=InvoiceKind.INVOICE)
                .values_list("number", flat=True)
                .first()
                or ""
            )
            continue
        result.status, result.number = "issued", invoice.number
    return report


def issue_invoice(
    client: Client,
    month: date,
    lines: list[PlannedLine],
    totals: tax.Totals,
    issuer: IssuerProfile,
    language: str,
    issue_date: date,
    actor: User | None,
) -> Invoice | None:
    """Write one client's invoice for ``month`` with its audit event, in one transaction;
    ``None`` if the client has one already."""
    from mamori.lifecycle.models import Order

    with transaction.atomic():
        # Lock the client's row: two runs of one month meet here and the second finds the first.
        Client.objects.select_for_update().filter(pk=client.pk).first()
        if Invoice.objects.filter(client=client, month=month, kind=InvoiceKind.INVOICE).exists():
            return None
        invoice = _write_invoice(
            client=client,
            kind=InvoiceKind.INVOICE,
            month=month,
            language=language,
            issue_date=issue_date,
            due=due_date(month, issue_date),
            issuer=issuer,
            recipient=recipient_particulars(client),
            lines=lines,
            totals=totals,
            note="",
            actor=actor,
        )
        orders = [
            int(line.charge.source_key)
            for line in lines
            if line.charge is not None and line.charge.source == "ca_fee"
        ]
        if orders:
            Order.objects.filter(pk__in=orders, fee_billed_at__isnull=True).update(
                fee_billed_at=timezone.now()
            )
        # The e-mails to the billing contacts, in the same transaction: sent once, never lost.
        sending.queue_invoice(invoice)
        audit.record(
            "invoice.issue",
            invoice,
            actor=actor,
            actor_label=None if actor else "invoice run",
            changes={
                "number": invoice.number,
                "month": f"{month:%Y-%m}",
                "total": str(invoice.total),
                "lines": len(lines),
            },
            client_id=client.pk,
        )
    return invoice


# --- credit notes --------------------------------------------------------------------------


def issue_credit_note(
    invoice: Invoice,
    lines: dict | None = None,
    reason: str = "",
    actor: User | None = None,
    *,
    today: date | None = None,
) -> Invoice:
    """A credit note correcting ``invoice``: a new document of its own number series that refers
    to it, with a negative line for each corrected line. ``lines`` maps a line's position to
    the amount to give back (the line's own amount, or less); ``None``: every line in full.
    The amounts are on the line's own basis (tax-inclusive lines give back tax-inclusive
    amounts). The invoice itself never changes."""
    if invoice.kind != InvoiceKind.INVOICE:
        raise BillingError("not_an_invoice", f"{invoice.number} is a credit note itself")
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("reason_missing", "say why the invoice is corrected")
    originals = {line.position: line for line in invoice.lines.all()}
    credited: dict[int, Decimal] = defaultdict(Decimal)
    for done in InvoiceLine.objects.filter(corrects__invoice=invoice).select_related("corrects"):
        credited[done.corrects.position] += -done.amount
    wanted = lines if lines is not None else {p: line.amount for p, line in originals.items()}
    planned, refers = [], []
    for position, amount in sorted(wanted.items()):
        try:
            position = int(position)
            amount = Decimal(str(amount))
        except (ValueError, ArithmeticError):
            raise BillingError("bad_line", f"line {position}: expected a number") from None
        line = originals.get(position)
        if line is None:
            raise BillingError("no_such_line", f"{invoice.number} has no line {position}")
        if amount != amount.to_integral_value() or amount == 0:
            raise BillingError("bad_amount", f"line {position}: a whole, non-zero amount of yen")
        room = line.amount - credited[position]
        if abs(amount) > abs(room) or (amount > 0) != (line.amount > 0):
            raise BillingError(
                "too_much",
                f"line {position}: at most {room} can still be corrected",
            )
        planned.append(
            PlannedLine(
                kind=LineKind.CORRECTION,
                params={
                    "number": invoice.number,
                    "position": position,
                    "of_kind": line.kind,
                    "of": line.params,
                },
                description=line.description,
                amount=-amount,
                unit_price=-amount,
                tax_rate=line.tax_rate,
                tax_included=line.tax_included,
                period_start=line.period_start,
                period_end=line.period_end,
            )
        )
        refers.append(line)
    if not planned:
        raise BillingError("nothing_to_correct", "no line to correct")
    issuer = _issuer()
    _check_issuer(issuer)
    rounding = invoice.issuer.get("tax_rounding") or issuer.tax_rounding
    totals = tax.compute(planned, rounding)
    issue_date = today or timezone.localdate()
    with transaction.atomic():
        credit_note = _write_invoice(
            client=invoice.client,
            kind=InvoiceKind.CREDIT_NOTE,
            month=invoice.month,
            language=invoice.language,
            issue_date=issue_date,
            due=issue_date,
            issuer=issuer,
            recipient=invoice.recipient,
            lines=planned,
            totals=totals,
            note=reason,
            actor=actor,
            corrects=invoice,
            corrects_lines=refers,
        )
        sending.queue_invoice(credit_note)
        audit.record(
            "invoice.credit_note",
            credit_note,
            actor=actor,
            actor_label=None if actor else "billing",
            changes={
                "number": credit_note.number,
                "corrects": invoice.number,
                "total": str(credit_note.total),
                "reason": reason,
            },
            client_id=invoice.client_id,
        )
    return credit_note
