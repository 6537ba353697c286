"""``mamori billing issuer [--name … --registration-number … --address … --bank-account …
--rounding floor|half_up|ceiling …]``: the provider's particulars printed on every invoice;
without an option, shown."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from mamori.billing import issuer
from mamori.billing.models import IssuerProfile, TaxRounding
from mamori.core.management import EXIT_USAGE, find_user
from mamori.inventory.services import Refused

#: Option → field.
OPTIONS = {
    "name": "name",
    "postal_code": "postal_code",
    "address": "address",
    "phone": "phone",
    "email": "email",
    "registration_number": "registration_number",
    "bank_account": "bank_account",
    "rounding": "tax_rounding",
    "work_rate": "work_rate_per_hour",
}


class Command(BaseCommand):
    help = "The invoice issuer: the provider's name, address, registration number, bank account."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("issuer", help="show or change the invoice issuer's particulars")
        p.add_argument("--name")
        p.add_argument("--postal-code")
        p.add_argument("--address")
        p.add_argument("--phone")
        p.add_argument("--email")
        p.add_argument("--registration-number", help="T and 13 digits")
        p.add_argument("--bank-account", help="bank, branch, type, number, holder (kana)")
        p.add_argument("--rounding", choices=TaxRounding.values, help="consumption tax rounding")
        p.add_argument("--work-rate", help="extra work: yen per hour, tax excluded")
        p.add_argument("--json", action="store_true", help="show as JSON")
        p.add_argument("--user", help="act as this user (audited as them)")

    def handle(self, *args, action: str, **o):
        values = {field: o[opt] for opt, field in OPTIONS.items() if o.get(opt) is not None}
        if values:
            actor = find_user(o["user"])
            try:
                changed = issuer.change_issuer(actor, values)
            except Refused as e:
                raise CommandError(e.message, returncode=EXIT_USAGE) from None
            except ValidationError as e:
                raise CommandError(_problems(e), returncode=EXIT_USAGE) from None
            meta = IssuerProfile._meta
            names = ", ".join(str(meta.get_field(name).verbose_name) for name in changed)
            saved = _("Saved: %(fields)s.") % {"fields": names}
            self.stdout.write(saved if changed else _("Nothing was changed."))
        self.show(o["json"])

    def show(self, as_json: bool) -> None:
        profile = issuer.issuer()
        if as_json:
            data = {name: str(getattr(profile, name)) for name in issuer.ISSUER_FIELDS}
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        for name in issuer.ISSUER_FIELDS:
            field = profile._meta.get_field(name)
            value = getattr(profile, f"get_{name}_display", lambda n=name: getattr(profile, n))()
            value = str(value).replace("\n", " / ") or "—"
            self.stdout.write(f"{field.verbose_name}: {value}")


def _problems(error: ValidationError) -> str:
    """A ValidationError in one line: ``field: message; …``."""
    if hasattr(error, "error_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
    return " ".join(error.messages)
