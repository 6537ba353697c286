"""Invoices (BIL-01 to BIL-03): read the invoices you may see; the provider's staff run a month
and issue credit notes. Amounts are strings of whole yen; lines carry their words in the
invoice's language (or ``?language=en|ja``)."""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from mamori.api.errors import forbidden, invalid, problem, query_problem
from mamori.api.schemas import Error, Input
from mamori.billing import present
from mamori.billing.models import Invoice, reads_invoices
from mamori.billing.run import BillingError, issue_credit_note, parse_month, run_month
from mamori.core.permissions import Rule, changes_every_client, may_change

router = Router(tags=["billing"])


class InvoiceSummary(Schema):
    number: str
    kind: str
    corrects: str | None
    client: str
    month: str = Field(..., description="The billing month, YYYY-MM.")
    issue_date: str
    due_date: str
    total: str

    @staticmethod
    def resolve_corrects(obj) -> str | None:
        return obj.corrects.number if obj.corrects_id else None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_month(obj) -> str:
        return f"{obj.month:%Y-%m}"

    @staticmethod
    def resolve_issue_date(obj) -> str:
        return obj.issue_date.isoformat()

    @staticmethod
    def resolve_due_date(obj) -> str:
        return obj.due_date.isoformat()

    @staticmethod
    def resolve_total(obj) -> str:
        return str(obj.total)


class RunIn(Input):
    month: str = Field(..., description="YYYY-MM")
    dry_run: bool = False


class CreditIn(Input):
    reason: str
    lines: dict[int, Decimal] | None = Field(
        None,
        description="Line position → amount to give back; omitted: every line in full.",
    )


def _month(value: str, where: str):
    try:
        return parse_month(value)
    except BillingError as exc:
        if where == "query":
            raise invalid(query_problem("month", str(exc))) from None
        raise invalid(problem("month", str(exc))) from None


def money_reader(request: HttpRequest) -> None:
    """Refuse (403) a user whose role does not read money at all (a client's viewers, the
    provider's subcontractors: :func:`~mamori.billing.models.reads_invoices`), as the audit
    trail does; others then see what ``visible_to`` gives them."""
    if not reads_invoices(request.auth):
        raise forbidden()


@router.get("/invoices", response=list[InvoiceSummary], summary="List invoices")
@paginate
def list_invoices(request: HttpRequest, client: str | None = None, month: str | None = None):
    """Invoices and credit notes of the clients you may see (a client's administrators: their
    own; a client's viewers and subcontractors: 403)."""
    money_reader(request)
    invoices = Invoice.objects.visible_to(request.auth).select_related("client", "corrects")
    if client:
        invoices = invoices.filter(client__code=client)
    if month:
        invoices = invoices.filter(month=_month(month, "query"))
    return invoices.order_by("-issue_date", "-number")


@router.get(
    "/invoices/{number}",
    response={200: dict, 403: Error, 404: Error, 422: Error},
    summary="Read an invoice with its lines and totals",
)
def read_invoice(request: HttpRequest, number: str, language: str | None = None):
    money_reader(request)
    if language not in (None, "ja", "en"):
        raise invalid(query_problem("language", "ja or en"))
    invoice = get_object_or_404(
        present.for_listing(Invoice.objects.visible_to(request.auth)), number=number
    )
    return present.invoice_data(invoice, language)


@router.post(
    "/invoice-runs",
    response={200: dict, 403: Error, 422: Error},
    summary="Issue (or preview) a month's invoices",
)
def run_invoices(request: HttpRequest, payload: RunIn):
    """One invoice per client for the month (the provider's administrators and operators)."""
    if not changes_every_client(request.auth, Rule.STAFF):
        raise forbidden()
    month = _month(payload.month, "body")
    try:
        report = run_month(month, dry_run=payload.dry_run, actor=request.auth)
    except BillingError as exc:
        raise invalid(problem("month" if "month" in exc.code else "__all__", str(exc))) from None
    return report.as_json()


@router.post(
    "/invoices/{number}/credit-notes",
    summary="Issue a credit note",
    response={201: dict, 403: Error, 404: Error, 422: Error},
)
def credit_invoice(request: HttpRequest, number: str, payload: CreditIn):
    money_reader(request)
    invoice = get_object_or_404(
        present.for_listing(Invoice.objects.visible_to(request.auth)), number=number
    )
    if not may_change(request.auth, invoice, Rule.STAFF):
        raise forbidden()
    try:
        note = issue_credit_note(invoice, payload.lines, payload.reason, request.auth)
    except BillingError as exc:
        field = "reason" if exc.code == "reason_missing" else "lines"
        raise invalid(problem(field, str(exc))) from None
    return 201, present.invoice_data(present.for_listing(Invoice.objects.filter(pk=note.pk)).get())
