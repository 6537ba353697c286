"""The provider's own particulars (:class:`~mamori.billing.models.IssuerProfile`, one row):
read with :func:`issuer`, changed with :func:`change_issuer` by the provider's administrators.

A qualified-invoice registration number is ``T`` and 13 digits whose first digit is the check
digit of the other twelve, as the National Tax Agency numbers them (the corporate number's rule:
9 − (Σ digit × weight mod 9), weights 1, 2, 1, 2 … from the last digit); a number that breaks the
rule, or of one digit repeated, is a typing error and refused.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from mamori.billing.models import IssuerProfile
from mamori.core import audit
from mamori.core.models import User
from mamori.inventory.services import Refused, jsonable

ISSUER_FIELDS = (
    "name",
    "postal_code",
    "address",
    "phone",
    "email",
    "registration_number",
    "bank_account",
    "tax_rounding",
    "work_rate_per_hour",
)


def issuer() -> IssuerProfile:
    """The one profile (created empty when there is none yet)."""
    profile, _created = IssuerProfile.objects.get_or_create(pk=1)
    return profile


def check_digit(twelve: str) -> int:
    """The check digit of a corporate / registration number's other twelve digits."""
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(twelve)))
    return 9 - total % 9


def registration_number_problem(value: str) -> str | None:
    """Why ``value`` is not a plausible registration number, or ``None``."""
    if not value:
        return None
    if len(value) != 14 or value[0] != "T" or not value[1:].isdigit():
        return _("A registration number is T followed by 13 digits, e.g. T1234567890123.")
    digits = value[1:]
    if len(set(digits)) == 1 or int(digits[0]) != check_digit(digits[1:]):
        return _("This registration number cannot be right: its check digit does not match.")
    return None


def may_change_issuer(user: User | None) -> bool:
    """The provider's administrators set the provider's particulars."""
    from mamori.access.services import is_provider_admin

    return user is not None and user.is_authenticated and is_provider_admin(user)


def change_issuer(
    actor: User | None, values: dict[str, Any], *, request=None
) -> dict[str, list[Any]]:
    """Change the fields of ``values`` that differ (``actor`` ``None``: the command line); the
    changes ``{field: [old, new]}``. Raises :class:`Refused` or ``ValidationError``."""
    if actor is not None and not may_change_issuer(actor):
        raise Refused(_("Only the provider's administrators may change the invoice issuer."))
    profile = issuer()
    changed: dict[str, list[Any]] = {}
    for name, new in values.items():
        if name not in ISSUER_FIELDS:
            raise ValueError(f"not an issuer field: {name}")
        if isinstance(new, str):
            new = new.strip()
        if name == "registration_number":
            new = (new or "").upper()
        old = getattr(profile, name)
        if old != new:
            changed[name] = [jsonable(old), jsonable(new)]
            setattr(profile, name, new)
    problem = registration_number_problem(profile.registration_number)
    if problem:
        raise ValidationError({"registration_number": problem})
    profile.full_clean()
    if changed:
        with transaction.atomic():
            profile.save()
            audit.record("issuer.update", profile, actor=actor, request=request, changes=changed)
    return changed
