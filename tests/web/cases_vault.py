"""Tenancy cases for the vault pages (see tests/web/tenancy.py).

These tests run with the ``default`` database only, so a case never makes the view touch the
keystore: its secret is a metadata-only row, and the writes that need a data key (add, reveal,
destroy) have no ``post`` here. tests/vault/test_views.py runs those writes for every role with
the keystore.
"""

from mamori.clients.models import Client
from mamori.vault.models import Secret, SecretKind
from tests.web.tenancy import ACME_PEOPLE, ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

# Provider staff who see acme manage its secrets; client users only read their metadata.
MANAGERS = frozenset({"subcontractor", "operator", "provider_admin"})
# Only staff *assigned* to acme reveal; of the fixture users that is the subcontractor.
REVEALERS = frozenset({"subcontractor"})


def acme_secret() -> Secret:
    """One of acme's secrets, as metadata only (no data key: these tests have no keystore).

    Made on first use, by whichever of the snapshot or the URL comes first."""
    acme = Client.objects.get(code="acme")
    secret, _ = Secret.objects.get_or_create(
        client=acme,
        name="web01 root",
        defaults={
            "kind": SecretKind.SERVER_LOGIN,
            "username": "root",
            "location": "ssh://web01.acme.example",
            "server": acme.servers.first(),
        },
    )
    return secret


def secret_rows() -> list[dict]:
    acme_secret()
    return list(Secret.objects.values().order_by("pk"))


def secret_kwargs(s) -> dict:
    return {"pk": acme_secret().pk}


CASES: dict[str, Case] = {
    "vault_list": Case(LIST, readers=ACME_PEOPLE),
    "secret_detail": Case(PAGE, secret_kwargs, readers=ACME_PEOPLE),
    "secret_add": Case(FORM, lambda s: {"code": s.acme.code}, writers=MANAGERS),
    "secret_edit": Case(
        FORM,
        secret_kwargs,
        # An empty value keeps the stored one: a metadata change, no data key involved.
        post=lambda s: {
            "kind": SecretKind.SERVER_LOGIN,
            "name": "web01 root (renamed)",
            "username": "admin",
            "location": "ssh://web01.acme.example",
            "value": "",
        },
        writers=MANAGERS,
        snapshot=secret_rows,
    ),
    "secret_destroy": Case(FORM, secret_kwargs, writers=MANAGERS),
    "secret_reveal": Case(ACTION, secret_kwargs, writers=REVEALERS),
}
