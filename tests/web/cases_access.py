"""Tenancy cases for the URLs of the access app (see tests/web/tenancy.py)."""

from mamori.access.models import InformationOfficer, TwoFactor
from mamori.clients.models import Client, Contact
from mamori.core.models import Role, User
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

# Those who manage acme's users: its client administrator and the provider administrators.
USER_MANAGERS = frozenset({"owner", "provider_admin"})
# Contacts: the same, and operators (provider staff who see every client).
CONTACT_MANAGERS = USER_MANAGERS | {"operator"}

EXEMPT = {
    "login_code": "the second sign-in step acts on the caller's own half-finished sign-in only",
    "login_enrol": "the enrolment sign-in step acts on the caller's own half-finished sign-in",
    "token_revoke": "acts on the caller's own API tokens only (others' are 404: test_account.py)",
    "staff_create": "adds provider staff: provider administrators only, 403 for everyone else "
    "(tests/access/test_users.py)",
    "provider_settings": "the provider's own officers and policy: provider administrators only, "
    "403 for everyone else (tests/access/test_officers.py)",
}


def acme_clerk() -> User:
    """A viewer of acme to be managed (created on first use, so every test finds the same one,
    and before any snapshot is taken)."""
    user, _created = User.objects.get_or_create(
        username="acme-clerk",
        defaults={
            "role": Role.CLIENT_VIEWER,
            "client": Client.objects.get(code="acme"),
            "email": "clerk@acme.example",
        },
    )
    return user


def user_rows() -> list[dict]:
    acme_clerk()
    return list(
        User.objects.order_by("pk").values(
            "pk", "username", "email", "role", "client_id", "is_active", "password"
        )
    )


def contact_rows() -> list[dict]:
    return list(Contact.objects.values().order_by("pk"))


def officer_rows() -> list[dict]:
    return list(InformationOfficer.objects.values().order_by("pk"))


def two_factor_rows() -> list[dict]:
    clerk = acme_clerk()
    TwoFactor.objects.get_or_create(user=clerk, defaults={"secret": "v1:x"})
    return list(TwoFactor.objects.values("pk", "user_id").order_by("pk"))


def jane(s) -> dict:
    return {"pk": Contact.objects.get(client=s.acme, email="jane@acme.example").pk}


def no_kwargs_with_clerk(s) -> dict:
    """A list URL has no parameters; making sure acme has a user gives it something to show."""
    acme_clerk()
    return {}


def clerk(s) -> dict:
    return {"pk": acme_clerk().pk}


OWN = {"readers": ACME_PEOPLE, "writers": ACME_PEOPLE, "shows_acme": False}

CASES: dict[str, Case] = {
    # One's own account: every signed-in user, nothing of a client's on it.
    "account_security": Case(LIST, **OWN),
    "password_change": Case(FORM, **OWN),
    "totp_enrol": Case(FORM, **OWN),
    "totp_disable": Case(ACTION, **OWN),
    "recovery_codes_renew": Case(ACTION, **OWN),
    "token_create": Case(ACTION, **OWN),
    # Users: everyone but viewers sees the people of the clients they see.
    "user_list": Case(LIST, no_kwargs_with_clerk),
    "user_edit": Case(
        FORM,
        clerk,
        post=lambda s: {
            "first_name": "Kei",
            "email": "clerk@acme.example",
            "role": "client_viewer",
        },
        readers=USER_MANAGERS,
        writers=USER_MANAGERS,
        snapshot=user_rows,
    ),
    "user_password": Case(
        FORM,
        clerk,
        post=lambda s: {
            "password1": "a fresh passphrase 2026",
            "password2": "a fresh passphrase 2026",
        },
        readers=USER_MANAGERS,
        writers=USER_MANAGERS,
        snapshot=user_rows,
    ),
    "user_reset_2fa": Case(
        ACTION,
        clerk,
        post=lambda s: {},
        readers=USER_MANAGERS,
        writers=USER_MANAGERS,
        snapshot=two_factor_rows,
    ),
    "client_user_create": Case(
        FORM,
        lambda s: {"code": s.acme.code},
        post=lambda s: {
            "username": "newbie",
            "email": "newbie@example.com",
            "role": "client_viewer",
            "password1": "a fresh passphrase 2026",
            "password2": "a fresh passphrase 2026",
        },
        readers=USER_MANAGERS,
        writers=USER_MANAGERS,
        snapshot=user_rows,
    ),
    # A client's people: its users, contacts and officers.
    "client_access": Case(PAGE, lambda s: {"code": s.acme.code}, readers=CONTACT_MANAGERS),
    "contact_create": Case(
        FORM,
        lambda s: {"code": s.acme.code},
        post=lambda s: {"name": "佐藤花子", "email": "sato@example.com", "language": "ja"},
        readers=CONTACT_MANAGERS,
        writers=CONTACT_MANAGERS,
        snapshot=contact_rows,
    ),
    "contact_edit": Case(
        FORM,
        jane,
        post=lambda s: {"name": "Jane Doe", "email": "jane@example.com", "language": "en"},
        readers=CONTACT_MANAGERS,
        writers=CONTACT_MANAGERS,
        snapshot=contact_rows,
    ),
    "contact_delete": Case(
        FORM,
        jane,
        post=lambda s: {},
        readers=CONTACT_MANAGERS,
        writers=CONTACT_MANAGERS,
        snapshot=contact_rows,
    ),
    "client_officers": Case(
        FORM,
        lambda s: {"code": s.acme.code},
        post=lambda s: {"officer1-name": "鈴木一郎", "officer1-title": "情報システム部"},
        snapshot=officer_rows,
    ),
}
