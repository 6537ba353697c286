"""``mamori estimates list|show|pdf|issue|accept|decline`` (見積書, MNT-04; docs/estimates.md).

Drafts are made from a desk request on its page or through the API; here an operator lists,
reads, prints, issues and records the client's answer. ``--user`` names the operator (for the
audit trail and the permission); without it the command acts as the system."""

from __future__ import annotations

import datetime as dt
import json
import sys

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, no_translations

from mamori.billing import estimates
from mamori.billing.models import Estimate, EstimateState
from mamori.core.management import find_user, usage
from mamori.core.money import format_money


def as_json(e: Estimate) -> dict:
    return {
        "id": e.pk,
        "number": e.number,
        "client": e.client.code,
        "request": e.request_id,
        "state": e.shown_state(),
        "title": e.title,
        "issue_date": e.issue_date.isoformat() if e.issue_date else None,
        "valid_until": e.valid_until.isoformat() if e.valid_until else None,
        "net_total": str(e.net_total),
        "tax_total": str(e.tax_total),
        "total": str(e.total),
        "lines": [
            {
                "position": line.position,
                "description": line.description,
                "quantity": str(line.quantity),
                "unit": line.unit,
                "unit_price": str(line.unit_price),
                "amount": str(line.amount),
                "tax_rate": line.tax_rate,
                "tax_included": line.tax_included,
            }
            for line in e.lines.all()
        ],
    }


class Command(BaseCommand):
    help = "Estimates: list, show, write the PDF, issue, record the client's answer."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="list estimates")
        listing.add_argument("--client", help="only this client's (its code)")
        listing.add_argument("--state", choices=EstimateState.values)
        listing.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="one estimate with its lines and totals")
        show.add_argument("estimate", help="its number (EST-2026-0001) or, for a draft, its id")
        show.add_argument("--json", action="store_true")
        document = sub.add_parser("pdf", help="write an estimate's PDF")
        document.add_argument("estimate")
        document.add_argument("--language", choices=["ja", "en"], help="default: the estimate's")
        document.add_argument("--output", help="the file (default: its usual name; '-': stdout)")
        issue = sub.add_parser("issue", help="issue a draft and e-mail it to the client")
        issue.add_argument("estimate")
        issue.add_argument("--valid-until", help="YYYY-MM-DD (default: the usual validity)")
        issue.add_argument("--user", help="the operator issuing (for the audit trail)")
        for name, text in (
            ("accept", "record the client's acceptance"),
            ("decline", "record the client's decline"),
        ):
            answer = sub.add_parser(name, help=text)
            answer.add_argument("estimate")
            answer.add_argument(
                "--for",
                dest="answered_for",
                default="",
                help="who at the client gave the answer, and how",
            )
            answer.add_argument("--user", help="the operator recording it (for the audit trail)")
            if name == "decline":
                answer.add_argument("--reason", default="")

    @no_translations  # the command's own output is English: keep its errors English too
    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except estimates.EstimateError as exc:
            raise usage(exc.message) from None
        except PermissionDenied:
            raise usage("that user may not do this") from None

    def _print_json(self, data) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))

    def _find(self, key: str) -> Estimate:
        rows = Estimate.objects.select_related("client").prefetch_related("lines")
        found = rows.filter(number=key).first()
        if found is None and key.isdigit():
            found = rows.filter(pk=int(key)).first()
        if found is None:
            raise usage(f"no estimate {key!r} (give its number, or a draft's id)")
        return found

    def _list(self, *, client, state, json: bool, **_):
        rows = Estimate.objects.select_related("client").prefetch_related("lines")
        if client:
            rows = rows.filter(client__code=client)
        if state:
            rows = rows.filter(state=state)
        rows = rows.order_by("pk")
        if json:
            self._print_json([as_json(e) for e in rows])
            return
        for e in rows:
            self.stdout.write(
                f"{e.number or '#' + str(e.pk)}  {e.client.code}  {e.shown_state()}  "
                f"{format_money(e.total, e.currency, 'en')}  {e.title}"
                + (f"  valid until {e.valid_until}" if e.valid_until else "")
            )

    def _show(self, *, estimate, json: bool, **_):
        e = self._find(estimate)
        data = as_json(e)
        if json:
            self._print_json(data)
            return
        self.stdout.write(
            f"{e.number or 'draft #' + str(e.pk)} ({data['state']}) to {e.client.name}: "
            f"{e.title}; issued {data['issue_date'] or '—'}, valid until "
            f"{data['valid_until'] or '—'}"
        )
        for line in data["lines"]:
            self.stdout.write(
                f"  {line['position']}. {line['description']}  {line['quantity']}"
                f"{' ' + line['unit'] if line['unit'] else ''} × {line['unit_price']} = "
                f"{line['amount']}  ({line['tax_rate']}%{' incl.' if line['tax_included'] else ''})"
            )
        self.stdout.write(f"  total {format_money(e.total, e.currency, 'en')}")

    def _pdf(self, *, estimate, language, output, **_):
        from mamori.billing import estimate_pdf

        e = self._find(estimate)
        language = language or e.language
        data = estimate_pdf.render(e, language)
        if output == "-":
            sys.stdout.buffer.write(data)
            return
        path = output or estimate_pdf.filename(e, language)
        try:
            with open(path, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise usage(f"cannot write {path}: {exc.strerror}") from None
        self.stdout.write(f"{e.number or e.pk}: {path} ({len(data):,} bytes, {language})")

    def _issue(self, *, estimate, valid_until, user, **_):
        actor = find_user(user)
        e = self._find(estimate)
        day = None
        if valid_until:
            try:
                day = dt.date.fromisoformat(valid_until)
            except ValueError:
                raise usage(f"expected a day as YYYY-MM-DD, got {valid_until!r}") from None
        e = estimates.issue(actor, e, valid_until=day)
        self.stdout.write(f"{e.number}: issued, valid until {e.valid_until}; e-mails queued")

    def _accept(self, *, estimate, answered_for, user, **_):
        e = estimates.accept(find_user(user), self._find(estimate), answered_for=answered_for)
        self.stdout.write(f"{e.number}: accepted; billed by the next invoice run")

    def _decline(self, *, estimate, answered_for, reason, user, **_):
        e = estimates.decline(
            find_user(user), self._find(estimate), answered_for=answered_for, reason=reason
        )
        self.stdout.write(f"{e.number}: declined")
