"""Workflows of the access app: second factors (TOTP, recovery codes), who may manage whom, and
the information-handling officers.

Role rules (ACC-01), decided here and nowhere else:

* provider administrators manage every user, of any role;
* client administrators manage the users of their own client, with client roles only;
* nobody changes their own role or deactivates themselves (so nobody raises their own role);
* users are deactivated, never deleted, so the audit trail keeps naming them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable

import pyotp
import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from mamori.access import crypto
from mamori.access.models import (
    OFFICERS_REQUIRED,
    AccessPolicy,
    InformationOfficer,
    RecoveryCode,
    TwoFactor,
)
from mamori.clients.models import Client
from mamori.core.models import ALL_CLIENT_ROLES, CLIENT_ROLES, PROVIDER_ROLES, Role, User
from mamori.core.permissions import Rule, may_change
from mamori.core.scoping import visible_client_ids
from mamori.core.usernames import MAX_LENGTH, canonical

TOTP_PURPOSE = "totp secret"
RECOVERY_PURPOSE = "recovery code"
TOTP_ISSUER = "Mamori"
RECOVERY_CODE_COUNT = 10
# RFC 6238 §5.2: accept codes of the previous and next time step, for clock drift and typing time.
TOTP_WINDOW = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


class TwoFactorError(Exception):
    """A second-factor operation that cannot be done (e.g. enrolling twice)."""


# --- TOTP -------------------------------------------------------------------------------------


def provider_name() -> str:
    """The provider's name as clients read it (signatures of notices, certificates, reports):
    the one set under provider settings, else the ``MAMORI_PROVIDER_NAME`` setting."""
    stored = AccessPolicy.objects.filter(pk=1).values_list("provider_name", flat=True).first()
    return stored or settings.MAMORI_PROVIDER_NAME


def active_two_factor(user: User) -> TwoFactor | None:
    """The user's confirmed authenticator, or ``None``."""
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).first()


def has_two_factor(user: User) -> bool:
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).exists()


def requires_two_factor(user: User) -> bool:
    """Whether the provider's policy obliges this user to use a second factor."""
    return user.is_provider_staff and AccessPolicy.current().require_staff_2fa


def _secret(two_factor: TwoFactor) -> str:
    return crypto.decrypt(two_factor.secret, purpose=TOTP_PURPOSE, bind=str(two_factor.user_id))


def begin_enrolment(user: User) -> tuple[TwoFactor, str]:
    """Start (or resume) enrolment; returns the pending row and its base32 secret.

    Raises :class:`TwoFactorError` when the user already has an active authenticator: a second
    one must not silently replace it.
    """
    existing = TwoFactor.objects.filter(user=user).first()
    if existing is not None and existing.is_active:
        raise TwoFactorError("already enrolled")
    if existing is not None:
        try:
            return existing, _secret(existing)
        except crypto.DecryptionError:
            existing.delete()  # sealed under an old SECRET_KEY: start again
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 §4 recommends
    row = TwoFactor.objects.create(
        user_id=user.pk, secret=crypto.encrypt(secret, purpose=TOTP_PURPOSE, bind=str(user.pk))
    )
    return row, secret


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=TOTP_ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no external request, no JavaScript)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2)


def _clean_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_counter(secret: str, code: str, now: float) -> int | None:
    """The time step within the window whose code is ``code``, latest first."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(int(now))
    for counter in (current + d for d in range(TOTP_WINDOW, -TOTP_WINDOW - 1, -1)):
        if secrets.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def verify_totp(two_factor: TwoFactor, code: str, now: float | None = None) -> bool:
    """Whether ``code`` is a valid, not yet used code of the authenticator.

    The step is claimed with a conditional UPDATE, so two requests racing with the same code
    cannot both succeed (RFC 6238 §5.2: one-time means once).
    """
    code = _clean_code(code)
    if not (code.isdigit() and len(code) == 6):
        return False
    try:
        secret = _secret(two_factor)
    except crypto.DecryptionError:
        return False
    counter = _matching_counter(secret, code, time.time() if now is None else now)
    if counter is None:
        return False
    claimed = (
        TwoFactor.objects.filter(pk=two_factor.pk)
        .filter(Q(last_used_counter__isnull=True) | Q(last_used_counter__lt=counter))
        .update(last_used_counter=counter)
    )
    return claimed == 1


def confirm_enrolment(user: User, code: str) -> list[str] | None:
    """Activate the pending authenticator if ``code`` comes from it.

    Returns the new recovery codes (to be shown once), or ``None`` for a wrong code.
    """
    row = TwoFactor.objects.filter(user=user, confirmed_at__isnull=True).first()
    if row is None or not verify_totp(row, code):
        return None
    with transaction.atomic():
        TwoFactor.objects.filter(pk=row.pk).update(confirmed_at=timezone.now())
        return new_recovery_codes(user)


def disable_two_factor(user: User) -> None:
    """Remove the authenticator and recovery codes (after the caller checked a code)."""
    with transaction.atomic():
        TwoFactor.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()


# --- Recovery codes ---------------------------------------------------------------------------


def _format_recovery_code(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; returns them for showing once.

    Each has 12 characters from a 31-letter alphabet (about 59 bits), stored as a keyed hash.
    """
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user_id=user.pk, code_hash=crypto.keyed_hash(c, purpose=RECOVERY_PURPOSE))
            for c in codes
        )
    return [_format_recovery_code(c) for c in codes]


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one recovery code; ``False`` if it is unknown or was used already."""
    cleaned = _clean_code(code)
    if len(cleaned) != 12:
        return False
    digest = crypto.keyed_hash(cleaned, purpose=RECOVERY_PURPOSE)
    spent = RecoveryCode.objects.filter(user=user, code_hash=digest, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return spent == 1


def remaining_recovery_codes(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def verify_second_factor(user: User, code: str) -> str | None:
    """Check a TOTP code or a recovery code; returns ``"totp"``, ``"recovery"`` or ``None``."""
    two_factor = active_two_factor(user)
    if two_factor is None:
        return None
    if verify_totp(two_factor, code):
        return "totp"
    if use_recovery_code(user, code):
        return "recovery"
    return None


# --- Who may manage whom ----------------------------------------------------------------------


def new_username(username: str) -> str:
    """The one form a new account's ``username`` is stored under (:mod:`mamori.core.usernames`).

    Raises ``ValidationError`` when an account already has that name in any width or case
    (``ｔｈｒ１`` and ``THR1`` are ``thr1``), or when the one form is too long.
    """
    name = canonical(username)
    if len(name) > MAX_LENGTH:
        raise ValidationError(
            _("This user name is too long once written in its usual form (%(max)s characters).")
            % {"max": MAX_LENGTH},
            code="max_length",
        )
    if User.objects.filter(username=name).exists():
        raise ValidationError(
            _(
                "The user name “%(name)s” is taken. Names that differ only in upper and lower "
                "case, or in full-width and half-width characters, are the same name."
            )
            % {"name": name},
            code="unique",
        )
    return name


def is_provider_admin(user: User) -> bool:
    return user.is_active and (user.role == Role.PROVIDER_ADMIN or user.is_superuser)


def visible_users(user: User) -> QuerySet[User]:
    """The users someone may see in the user list.

    Provider administrators and operators see everyone; a subcontractor sees itself and the users
    of its assigned clients; a client's people see the users of their own client.
    """
    qs = User.objects.select_related("client")
    if not user.is_active:
        return qs.none()
    if user.is_superuser or user.role in ALL_CLIENT_ROLES:
        return qs.all()
    if user.role in CLIENT_ROLES:
        return qs.filter(client_id=user.client_id)
    ids = visible_client_ids(user)
    return qs.filter(Q(pk=user.pk) | Q(client__in=ids))


def may_manage_client_users(actor: User, client: Client) -> bool:
    """Whether ``actor`` may add and change the user accounts of ``client``: a different
    question from its contacts (``Rule.CLIENT_ADMIN``), since operators manage no accounts —
    the provider's administrators, and of that rule's people the client's own."""
    return is_provider_admin(actor) or (
        actor.is_client_user and may_change(actor, client, Rule.CLIENT_ADMIN)
    )


def may_manage(actor: User, target: User) -> bool:
    """Whether ``actor`` may change ``target``'s profile, password or second factor."""
    if is_provider_admin(actor):
        return True
    return (
        actor.is_active
        and actor.role == Role.CLIENT_ADMIN
        and target.role in CLIENT_ROLES
        and target.client_id == actor.client_id
    )


def manageable_users(actor: User) -> QuerySet[User]:
    if is_provider_admin(actor):
        return User.objects.all()
    if actor.is_active and actor.role == Role.CLIENT_ADMIN:
        return User.objects.filter(client_id=actor.client_id, role__in=sorted(CLIENT_ROLES))
    return User.objects.none()


def assignable_roles(actor: User, target: User | None, *, client_user: bool) -> list[Role]:
    """Roles ``actor`` may give a (new, if ``target`` is None) user.

    A user stays within their family (client roles or provider roles): a client's user does not
    become provider staff by an edit. Nobody changes their own role, so nobody raises it.
    """
    if target is not None and target.pk == actor.pk:
        return [Role(target.role)]
    family = CLIENT_ROLES if client_user else PROVIDER_ROLES
    if not is_provider_admin(actor):
        family = family & CLIENT_ROLES if actor.role == Role.CLIENT_ADMIN else frozenset()
    return [r for r in Role if r in family]


# --- Information-handling officers (ACC-02) ---------------------------------------------------


def may_edit_officers(actor: User, client: Client | None) -> bool:
    """Provider staff and the client's administrators edit a client's officers; only provider
    administrators edit the provider's own."""
    if client is None:
        return is_provider_admin(actor)
    return may_change(actor, client, InformationOfficer.change_rule)


def officers_of(client: Client | None) -> list[InformationOfficer]:
    qs = InformationOfficer.objects.all()
    qs = qs.provider() if client is None else qs.filter(client=client)
    return list(qs.order_by("position"))


def clients_missing_officers(clients: Iterable[Client]) -> set[int]:
    """Ids of the given clients that have named fewer than two officers."""
    ids = [c.pk for c in clients]
    named: dict[int, int] = {}
    for client_id in InformationOfficer.objects.filter(client_id__in=ids).values_list(
        "client_id", flat=True
    ):
        named[client_id] = named.get(client_id, 0) + 1
    return {i for i in ids if named.get(i, 0) < OFFICERS_REQUIRED}
