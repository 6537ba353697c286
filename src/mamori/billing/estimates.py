"""Estimates (見積書) for work outside a contract's scope (MNT-04, MON-08); docs/estimates.md.

One function per write, each with its audit event in the same transaction; the pages, the API and
the command line call these and nothing else:

- :func:`create_from_request` / :func:`create_estimate` — a draft (title from the request's
  subject, client and contract from the request); :func:`update_draft` — its title, notes,
  language and lines, while a draft;
- :func:`issue` — the number (``EST-<year>-<nnnn>``, from :class:`EstimateCounter`, locked, in
  the transaction: no gaps), the issuer's and recipient's particulars frozen, the validity date,
  the request's state to ``estimate``, and the ``estimate_issued`` e-mails with the PDF to the
  requester and the client's billing contacts, through the outbox, once (by the number);
- :func:`accept` / :func:`decline` — the client's answer, given by a client administrator in the
  portal or recorded by an operator on their behalf (``answered_for``); refused once answered,
  withdrawn, or past ``valid_until`` (the estimate is then marked expired);
- :func:`withdraw` — the provider takes an estimate back (a change is a new estimate).

An accepted estimate's lines become charges for the next invoice run, once:
:func:`accepted_charges` is read by :func:`mamori.billing.sources.pending_charges`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.billing import tax
from mamori.billing.models import (
    Charge,
    ChargeSource,
    Estimate,
    EstimateCounter,
    EstimateLine,
    EstimateState,
    IssuerProfile,
    TaxRate,
)
from mamori.clients.models import Client, Contract, NoticeTopic
from mamori.core import audit
from mamori.core.models import User
from mamori.core.permissions import Rule, may_change
from mamori.notices import services as notices
from mamori.notices.models import Notice, NoticeKind, RecipientKind

#: The prefix of estimate numbers: EST-2026-0001.
PREFIX = "EST"
#: The kind of attachment (``Notice.attachments``) that is an estimate's PDF.
ATTACHMENT_KIND = "estimate_pdf"
#: The most lines an estimate has.
MAX_LINES = 50
MAX_AMOUNT = Decimal("99999999999")


class EstimateError(Exception):
    """A write the estimates refuse: ``code`` names why, the message says it (in the reader's
    language), ``field`` where."""

    def __init__(self, code: str, message: str, field: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


# --- who may -------------------------------------------------------------------------------------


def may_estimate(user: User | None, client: Client | int) -> bool:
    """Whether ``user`` drafts, issues and withdraws ``client``'s estimates: the provider's
    administrators and operators (not subcontractors: estimates are money)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if not (user.is_superuser or user.role in ("provider_admin", "operator")):
        return False
    return may_change(user, client, Rule.CLIENT_ADMIN)


def may_answer(user: User | None, estimate: Estimate) -> bool:
    """Whether ``user`` accepts or declines ``estimate``: the client's administrators, or the
    provider's administrators and operators recording the client's answer."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.role == "subcontractor" and not user.is_superuser:
        return False
    return may_change(user, estimate.client, Rule.CLIENT_ADMIN)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


# --- drafts --------------------------------------------------------------------------------------


def _decimal(value: Any, field: str, n: int) -> Decimal:
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise EstimateError(
            "bad_line", _("Line %(n)s: %(field)s is not a number.") % {"n": n, "field": _(field)}
        ) from None
    if not number.is_finite():
        raise EstimateError(
            "bad_line", _("Line %(n)s: %(field)s is not a number.") % {"n": n, "field": _(field)}
        )
    return number


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """A line's amount: quantity × unit price, rounded down to the yen (as an invoice's charge
    line is, :func:`mamori.billing.run.charge_line`)."""
    return (Decimal(quantity) * Decimal(unit_price)).quantize(Decimal(1), rounding=ROUND_DOWN)


def clean_lines(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` (description, quantity, unit, unit_price, tax_rate, tax_included) in their
    stored form, or :class:`EstimateError` naming the line and what is wrong."""
    cleaned = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise EstimateError("bad_line", _("Line %(n)s is not a line.") % {"n": n})
        description = " ".join(str(entry.get("description") or "").split())
        if not description:
            raise EstimateError("bad_line", _("Line %(n)s: say what the work is.") % {"n": n})
        if len(description) > 300:
            raise EstimateError("bad_line", _("Line %(n)s: at most 300 characters.") % {"n": n})
        quantity = _decimal(entry.get("quantity", 1), "quantity", n)
        if quantity <= 0 or quantity != quantity.quantize(Decimal("0.01")) or quantity > 99999999:
            raise EstimateError(
                "bad_line",
                _("Line %(n)s: the quantity is a positive number with at most two decimals.")
                % {"n": n},
            )
        unit_price = _decimal(entry.get("unit_price"), "unit price", n)
        if unit_price < 0 or unit_price != unit_price.to_integral_value():
            raise EstimateError(
                "bad_line",
                _("Line %(n)s: the unit price is a whole number of yen, not negative.") % {"n": n},
            )
        amount = line_amount(quantity, unit_price)
        if amount > MAX_AMOUNT:
            raise EstimateError("bad_line", _("Line %(n)s: the amount is too large.") % {"n": n})
        try:
            rate = int(entry.get("tax_rate", TaxRate.STANDARD))
        except (TypeError, ValueError):
            rate = -1
        if rate not in (TaxRate.STANDARD, TaxRate.REDUCED):
            raise EstimateError(
                "bad_line", _("Line %(n)s: the tax rate is 10 or 8 (%%).") % {"n": n}
            )
        unit = " ".join(str(entry.get("unit") or "").split())
        if len(unit) > 20:
            raise EstimateError(
                "bad_line", _("Line %(n)s: the unit is at most 20 characters.") % {"n": n}
            )
        included = entry.get("tax_included", False)
        if isinstance(included, str):
            included = included.lower() in ("1", "true", "on", "yes")
        cleaned.append(
            {
                "description": description,
                "quantity": quantity.quantize(Decimal("0.01")),
                "unit": unit,
                "unit_price": unit_price,
                "amount": amount,
                "tax_rate": rate,
                "tax_included": bool(included),
            }
        )
    if len(cleaned) > MAX_LINES:
        raise EstimateError("too_many_lines", _("At most %(n)s lines.") % {"n": MAX_LINES})
    return cleaned


def _issuer() -> IssuerProfile:
    return IssuerProfile.objects.filter(pk=1).first() or IssuerProfile(pk=1)


def totals_of(lines: Iterable, rounding: str | None = None) -> tax.Totals:
    """The totals per tax rate of ``lines`` (as an invoice's: the tax once per rate)."""
    try:
        return tax.compute(lines, rounding or _issuer().tax_rounding)
    except tax.MixedTaxBasis as exc:
        raise EstimateError(
            exc.code,
            _(
                "The %(rate)s%% lines mix tax-inclusive and tax-exclusive amounts: "
                "state them on one basis."
            )
            % {"rate": exc.rate},
            "lines",
        ) from None


def _set_totals(estimate: Estimate, totals: tax.Totals) -> None:
    estimate.totals = [r.as_json() for r in totals.rates]
    estimate.net_total = totals.net_total
    estimate.tax_total = totals.tax_total
    estimate.total = totals.total


def _language_for(client: Client, request=None) -> str:
    contact = getattr(request, "contact", None)
    if contact is not None and contact.language:
        return "en" if contact.language == "en" else "ja"
    from mamori.billing.run import invoice_language

    return "en" if invoice_language(client) == "en" else "ja"


def _clean_title(title: str) -> str:
    title = " ".join(str(title or "").split())
    if not title:
        raise EstimateError("title_missing", _("Give the estimate a subject."), "title")
    return title[:300]


def create_estimate(
    actor: User | None,
    client: Client,
    *,
    title: str,
    contract: Contract | None = None,
    request=None,
    language: str | None = None,
    notes: str = "",
    lines: Iterable[dict[str, Any]] = (),
    replaces: Estimate | None = None,
    http_request=None,
) -> Estimate:
    """A draft estimate of ``client`` (``actor`` None: the command line)."""
    if actor is not None:
        _require(may_estimate(actor, client))
    if contract is not None and contract.client_id != client.pk:
        raise EstimateError("bad_contract", _("The contract is not this client's."), "contract")
    if request is not None and request.client_id != client.pk:
        raise EstimateError("bad_request", _("The request is not this client's."), "request")
    if replaces is not None and replaces.client_id != client.pk:
        raise EstimateError("bad_replaces", _("That estimate is not this client's."), "replaces")
    title = _clean_title(title)
    cleaned = clean_lines(lines)
    totals = totals_of([_Line(**c) for c in cleaned])
    language = language if language in ("ja", "en") else _language_for(client, request)
    with transaction.atomic():
        estimate = Estimate(
            client=client,
            contract=contract,
            request=request,
            replaces=replaces,
            title=title,
            notes=(notes or "").strip(),
            language=language,
            created_by=actor if actor is not None and actor.pk else None,
        )
        _set_totals(estimate, totals)
        estimate.save()
        _write_lines(estimate, cleaned)
        audit.record(
            "estimate.create",
            estimate,
            actor=actor,
            request=http_request,
            actor_label=None if actor else "command line",
            changes={
                "title": title,
                "request": request.number if request is not None else None,
                "lines": len(cleaned),
                "total": str(estimate.total),
            },
            client_id=client.pk,
        )
    return estimate


def create_from_request(actor: User | None, request, *, http_request=None) -> Estimate:
    """A draft estimate for the desk request ``request``: its subject, client and contract."""
    return create_estimate(
        actor,
        request.client,
        title=request.subject,
        contract=request.contract,
        request=request,
        http_request=http_request,
    )


class _Line:
    """What the tax arithmetic needs of a line not yet saved."""

    def __init__(self, **values: Any) -> None:
        self.amount = values["amount"]
        self.tax_rate = values["tax_rate"]
        self.tax_included = values["tax_included"]


def _write_lines(estimate: Estimate, cleaned: list[dict[str, Any]]) -> None:
    EstimateLine.objects.filter(estimate=estimate).delete()
    EstimateLine.objects.bulk_create(
        [
            EstimateLine(estimate=estimate, position=position, **values)
            for position, values in enumerate(cleaned, start=1)
        ]
    )


def _require_draft(estimate: Estimate) -> None:
    if estimate.state != EstimateState.DRAFT:
        raise EstimateError(
            "not_a_draft",
            _("Estimate %(number)s is issued and cannot be changed: make a new one.")
            % {"number": estimate.number},
        )


def update_draft(
    actor: User | None,
    estimate: Estimate,
    *,
    title: str | None = None,
    notes: str | None = None,
    language: str | None = None,
    lines: Iterable[dict[str, Any]] | None = None,
    http_request=None,
) -> Estimate:
    """Change a draft's title, notes, language or lines (all of them: ``lines`` replaces them)."""
    if actor is not None:
        _require(may_estimate(actor, estimate.client))
    _require_draft(estimate)
    changes: dict[str, Any] = {}
    with transaction.atomic():
        locked = Estimate.objects.select_for_update().get(pk=estimate.pk)
        _require_draft(locked)
        if title is not None and _clean_title(title) != locked.title:
            locked.title = changes["title"] = _clean_title(title)
        if notes is not None and notes.strip() != locked.notes:
            locked.notes = changes["notes"] = notes.strip()
        if language is not None:
            if language not in ("ja", "en"):
                raise EstimateError("bad_language", _("The language is ja or en."), "language")
            if language != locked.language:
                locked.language = changes["language"] = language
        if lines is not None:
            cleaned = clean_lines(lines)
            _set_totals(locked, totals_of([_Line(**c) for c in cleaned]))
            _write_lines(locked, cleaned)
            changes["lines"] = [
                {k: str(v) for k, v in c.items() if k in ("description", "quantity", "unit_price")}
                for c in cleaned
            ]
            changes["total"] = str(locked.total)
        if changes:
            locked.save()
            audit.record(
                "estimate.update",
                locked,
                actor=actor,
                request=http_request,
                actor_label=None if actor else "command line",
                changes=changes,
                client_id=locked.client_id,
            )
    estimate.refresh_from_db()
    return estimate


# --- issue ---------------------------------------------------------------------------------------


def next_number(year: int) -> str:
    """The next estimate number of ``year``, taken in the caller's transaction."""
    series = f"{PREFIX}-{year}"
    counter, _created = EstimateCounter.objects.select_for_update().get_or_create(series=series)
    number = counter.next_number
    EstimateCounter.objects.filter(pk=counter.pk).update(next_number=number + 1)
    return f"{series}-{number:04d}"


def default_valid_until(issue_date: dt.date) -> dt.date:
    return issue_date + dt.timedelta(days=settings.MAMORI_ESTIMATE_VALID_DAYS)


def issue(
    actor: User | None,
    estimate: Estimate,
    *,
    valid_until: dt.date | None = None,
    today: dt.date | None = None,
    http_request=None,
) -> Estimate:
    """Issue a draft: its number, its frozen particulars, the request's state, its e-mails."""
    from mamori.billing.run import issuer_particulars, recipient_particulars
    from mamori.desk.models import Request, RequestState

    if actor is not None:
        _require(may_estimate(actor, estimate.client))
    _require_draft(estimate)
    issue_date = today or timezone.localdate()
    valid_until = valid_until or default_valid_until(issue_date)
    if valid_until < issue_date:
        raise EstimateError(
            "bad_valid_until", _("The estimate cannot expire before it is issued."), "valid_until"
        )
    issuer = _issuer()
    if not issuer.name:
        raise EstimateError(
            "issuer_incomplete",
            _("The issuer's name is not set: set the invoice issuer first."),
        )
    with transaction.atomic():
        locked = Estimate.objects.select_for_update().select_related("client").get(pk=estimate.pk)
        _require_draft(locked)
        lines = list(locked.lines.all())
        if not lines:
            raise EstimateError("no_lines", _("An estimate needs at least one line."), "lines")
        totals = totals_of(lines, issuer.tax_rounding)
        # Written by update(), not save(): the row is no longer a draft once this is done.
        values = {
            "number": next_number(issue_date.year),
            "state": EstimateState.ISSUED,
            "issue_date": issue_date,
            "valid_until": valid_until,
            "issuer": issuer_particulars(issuer),
            "recipient": recipient_particulars(locked.client),
            "totals": [r.as_json() for r in totals.rates],
            "net_total": totals.net_total,
            "tax_total": totals.tax_total,
            "total": totals.total,
            "issued_at": timezone.now(),
            "issued_by": actor if actor is not None and actor.pk else None,
            "updated_at": timezone.now(),
        }
        Estimate.objects.filter(pk=locked.pk).update(**values)
        locked.refresh_from_db()
        moved = None
        if locked.request_id:
            moved = Request.objects.filter(
                pk=locked.request_id,
                state__in=[RequestState.NEW, RequestState.OPEN, RequestState.SUSPENDED],
            ).update(state=RequestState.ESTIMATE)
        queue_estimate(locked)
        audit.record(
            "estimate.issue",
            locked,
            actor=actor,
            request=http_request,
            actor_label=None if actor else "command line",
            changes={
                "number": locked.number,
                "valid_until": valid_until.isoformat(),
                "total": str(locked.total),
                "request_state": RequestState.ESTIMATE if moved else None,
            },
            client_id=locked.client_id,
        )
    return locked


# --- the client's answer -------------------------------------------------------------------------


def _answerable(estimate: Estimate) -> None:
    if estimate.state == EstimateState.ISSUED:
        return
    if estimate.state == EstimateState.DRAFT:
        raise EstimateError("not_issued", _("This estimate has not been issued."))
    messages = {
        EstimateState.ACCEPTED: _("Estimate %(number)s has already been accepted."),
        EstimateState.DECLINED: _("Estimate %(number)s has already been declined."),
        EstimateState.EXPIRED: _("Estimate %(number)s has expired: ask for a new one."),
        EstimateState.WITHDRAWN: _("Estimate %(number)s has been withdrawn."),
    }
    raise EstimateError(
        f"already_{estimate.state}", messages[estimate.state] % {"number": estimate.number}
    )


def _expire(estimate: Estimate) -> None:
    """Mark an issued estimate past its validity expired (its own transaction, audited)."""
    with transaction.atomic():
        changed = Estimate.objects.filter(pk=estimate.pk, state=EstimateState.ISSUED).update(
            state=EstimateState.EXPIRED, updated_at=timezone.now()
        )
        if changed:
            audit.record(
                "estimate.expire",
                estimate,
                actor_label="estimates",
                changes={"number": estimate.number, "valid_until": str(estimate.valid_until)},
                client_id=estimate.client_id,
            )
    estimate.refresh_from_db()


def _answer(
    actor: User | None,
    estimate: Estimate,
    state: str,
    *,
    answered_for: str,
    reason: str,
    now: dt.datetime | None,
    http_request,
) -> Estimate:
    if actor is not None:
        _require(may_answer(actor, estimate))
    now = now or timezone.now()
    answered_for = " ".join(str(answered_for or "").split())[:200]
    staff = actor is None or actor.is_superuser or actor.role in ("provider_admin", "operator")
    if not staff:
        answered_for = ""  # the client's administrator answers for themselves
    _answerable(estimate)
    if estimate.expired_on(timezone.localdate(now)):
        _expire(estimate)
        _answerable(estimate)
    with transaction.atomic():
        locked = Estimate.objects.select_for_update().get(pk=estimate.pk)
        _answerable(locked)
        locked.state = state
        locked.answered_for = answered_for
        fields = ["state", "answered_for", "updated_at"]
        if state == EstimateState.ACCEPTED:
            locked.accepted_at, locked.accepted_by = now, actor
            fields += ["accepted_at", "accepted_by"]
        else:
            locked.declined_at, locked.declined_by = now, actor
            locked.decline_reason = (reason or "").strip()[:2000]
            fields += ["declined_at", "declined_by", "decline_reason"]
        locked.save(update_fields=fields)
        audit.record(
            f"estimate.{'accept' if state == EstimateState.ACCEPTED else 'decline'}",
            locked,
            actor=actor,
            request=http_request,
            actor_label=None if actor else "command line",
            changes={
                "number": locked.number,
                "at": now.isoformat(),
                "answered_for": answered_for or None,
                **({"reason": locked.decline_reason} if state == EstimateState.DECLINED else {}),
            },
            client_id=locked.client_id,
        )
    estimate.refresh_from_db()
    return estimate


def accept(
    actor: User | None,
    estimate: Estimate,
    *,
    answered_for: str = "",
    now: dt.datetime | None = None,
    http_request=None,
) -> Estimate:
    """The client accepts ``estimate``: its lines are billed by the next invoice run."""
    return _answer(
        actor,
        estimate,
        EstimateState.ACCEPTED,
        answered_for=answered_for,
        reason="",
        now=now,
        http_request=http_request,
    )


def decline(
    actor: User | None,
    estimate: Estimate,
    *,
    reason: str = "",
    answered_for: str = "",
    now: dt.datetime | None = None,
    http_request=None,
) -> Estimate:
    """The client declines ``estimate`` (with an optional reason): nothing is billed."""
    return _answer(
        actor,
        estimate,
        EstimateState.DECLINED,
        answered_for=answered_for,
        reason=reason,
        now=now,
        http_request=http_request,
    )


def withdraw(actor: User | None, estimate: Estimate, *, http_request=None) -> Estimate:
    """The provider takes back a draft or an unanswered estimate."""
    if actor is not None:
        _require(may_estimate(actor, estimate.client))
    with transaction.atomic():
        locked = Estimate.objects.select_for_update().get(pk=estimate.pk)
        if locked.state not in (EstimateState.DRAFT, EstimateState.ISSUED):
            if locked.state == EstimateState.WITHDRAWN:
                raise EstimateError(
                    "already_withdrawn", _("This estimate has already been withdrawn.")
                )
            raise EstimateError(
                "answered",
                _("Estimate %(number)s has been answered and cannot be withdrawn.")
                % {"number": locked.number},
            )
        locked.state = EstimateState.WITHDRAWN
        locked.withdrawn_at = timezone.now()
        locked.withdrawn_by = actor if actor is not None and actor.pk else None
        locked.save(update_fields=["state", "withdrawn_at", "withdrawn_by", "updated_at"])
        audit.record(
            "estimate.withdraw",
            locked,
            actor=actor,
            request=http_request,
            actor_label=None if actor else "command line",
            changes={"number": locked.number or None},
            client_id=locked.client_id,
        )
    estimate.refresh_from_db()
    return estimate


# --- billing the accepted ones -------------------------------------------------------------------


def source_key(estimate: Estimate, line: EstimateLine) -> str:
    """The charge's key of one accepted line: the estimate's number and the line's position."""
    return f"{estimate.number}/{line.position}"


def accepted_charges(until: dt.date, recorded: set[tuple[str, str]]) -> list[Charge]:
    """Unsaved charges for the lines of every estimate accepted up to ``until`` (inclusive, by the
    acceptance day) that have none yet (``recorded``: the (source, key) pairs that exist)."""
    from mamori.billing.sources import _day_end

    estimates = (
        Estimate.objects.filter(state=EstimateState.ACCEPTED, accepted_at__lt=_day_end(until))
        .prefetch_related("lines")
        .order_by("accepted_at", "pk")
    )
    charges = []
    for estimate in estimates:
        day = timezone.localdate(estimate.accepted_at)
        for line in estimate.lines.all():
            key = source_key(estimate, line)
            if (ChargeSource.ESTIMATE, key) in recorded:
                continue
            charges.append(
                Charge(
                    client_id=estimate.client_id,
                    contract_id=estimate.contract_id,
                    source=ChargeSource.ESTIMATE,
                    source_key=key,
                    description="",
                    params={
                        "source": "estimate",
                        "estimate": estimate.number,
                        "position": line.position,
                        "text": line.description,
                        "unit": line.unit,
                    },
                    occurred_on=day,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    tax_rate=line.tax_rate,
                    tax_included=line.tax_included,
                )
            )
    return charges


# --- the e-mail --------------------------------------------------------------------------------


def event_key(estimate: Estimate) -> str:
    return f"estimate-issued:{estimate.number}"


def recipients(estimate: Estimate) -> list[notices.Recipient]:
    """The requester (the request's contact) and the client's contacts of the ``billing`` topic,
    each once."""
    found: list[notices.Recipient] = []
    contact = estimate.request.contact if estimate.request_id else None
    if contact is not None and contact.email:
        found.append(
            notices.Recipient(
                RecipientKind.CONTACT, contact.email, contact.language, contact=contact
            )
        )
    for recipient in notices.contact_recipients(estimate.client, NoticeTopic.BILLING):
        if any(r.channel == recipient.channel and r.address == recipient.address for r in found):
            continue
        found.append(recipient)
    return found


def queue_estimate(estimate: Estimate) -> notices.EnqueueResult:
    """Queue the e-mails of an issued estimate (once per recipient, by its number)."""
    context: dict[str, Any] = {
        "estimate": estimate,
        "client": estimate.client,
        "url": settings.BASE_URL + reverse("estimate_detail", args=[estimate.pk]),
    }
    return notices.enqueue(
        NoticeKind.ESTIMATE_ISSUED,
        event_key(estimate),
        recipients(estimate),
        context,
        client=estimate.client,
        links={"request": estimate.request} if estimate.request_id else None,
        attachments=[{"kind": ATTACHMENT_KIND, "estimate": estimate.pk}],
    )


def estimate_pdf_attachment(entry: dict[str, Any], notice: Notice) -> tuple[str, bytes, str]:
    """The PDF of the estimate named in ``entry``, in the notice's language."""
    from mamori.billing import estimate_pdf

    estimate = Estimate.objects.select_related("client").get(pk=entry["estimate"])
    language = notice.language
    return (
        estimate_pdf.filename(estimate, language),
        estimate_pdf.render(estimate, language),
        "application/pdf",
    )


def register() -> None:
    notices.register_attachment(ATTACHMENT_KIND, estimate_pdf_attachment)
