"""Tenancy cases for the ACME account pages and the HTTP-01 responder (see tests/web/tenancy.py).

Adding an account with an EAB key and registering one need the keystore (the keys go to the
vault), which these tests do not have: they have no ``post`` here; tests/lifecycle/acme runs them.
"""

from mamori.clients.models import Client
from mamori.lifecycle.models import AcmeAccount
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {
    "acme_challenge_response": "Anonymous by design: the CA fetches the HTTP-01 key "
    "authorization without logging in; it answers only for presented challenges of open "
    "orders (404 otherwise) and reveals nothing the CA's challenge does not.",
}

MANAGERS = frozenset({"subcontractor", "operator", "provider_admin"})


def acme_account() -> AcmeAccount:
    acme = Client.objects.get(code="acme")
    account, _ = AcmeAccount.objects.get_or_create(
        client=acme,
        name="letsencrypt",
        defaults={"directory_url": "https://127.0.0.1:9/dir", "contact_email": "ops@acme.example"},
    )
    return account


def account_rows() -> list[dict]:
    acme_account()
    return list(AcmeAccount.objects.values().order_by("pk"))


def account_kwargs(s) -> dict:
    return {"pk": acme_account().pk}


CASES: dict[str, Case] = {
    "acme_account_list": Case(LIST, lambda s: (acme_account(), {})[1], readers=ACME_PEOPLE),
    "acme_account_detail": Case(PAGE, account_kwargs, readers=ACME_PEOPLE),
    # Adding is a form without an object (outsiders get 403 like managed_add); its POST is
    # run by tests/lifecycle/acme/test_pages.py with the keystore.
    "acme_account_add": Case(FORM, writers=MANAGERS),
    "acme_account_register": Case(ACTION, account_kwargs, writers=MANAGERS, snapshot=account_rows),
}
