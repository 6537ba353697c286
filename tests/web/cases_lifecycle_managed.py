"""Tenancy cases for the managed-certificate pages (see tests/web/tenancy.py).

These run with the ``default`` database only: ordering (issue, renew) generates a key into the
vault's keystore, so those two buttons have no ``post`` here; tests/lifecycle/renewal/ presses
them for every role with the keystore.
"""

from mamori.certificates.models import Certificate
from mamori.clients.models import Client
from mamori.lifecycle.models import (
    Approval,
    ApprovalState,
    IssuerKind,
    ManagedCertificate,
    RenewalInstruction,
)
from tests.web.tenancy import ACTION, FORM, LIST, PAGE, Case

EXEMPT: dict[str, str] = {}

# Provider staff who see acme manage its certificates; its administrator decides approvals.
STAFF = frozenset({"subcontractor", "operator", "provider_admin"})
DECIDERS = STAFF | {"owner"}


def acme_managed(scene=None) -> ManagedCertificate:
    """acme's managed certificate for www.acme.example (a commercial CA's, standing instruction),
    whose current certificate is the scene's expiring one. Made on first use, by whichever of
    the snapshot or the URL comes first."""
    current = (
        Certificate.objects.filter(subject_cn="www.acme.example").order_by("-not_after").first()
    )
    managed, _ = ManagedCertificate.objects.get_or_create(
        client=Client.objects.get(code="acme"),
        name="www",
        defaults={
            "names": ["www.acme.example", "acme.example"],
            "issuer": IssuerKind.MANUAL,
            "ca_name": "Example Trust",
            "renewal_instruction": RenewalInstruction.STANDING,
            "certificate": current,
        },
    )
    return managed


def acme_approval(scene=None) -> Approval:
    """An open request for acme's approval of the renewal."""
    managed = acme_managed(scene)
    approval = Approval.objects.filter(managed=managed, state=ApprovalState.REQUESTED).first()
    return approval or Approval.objects.create(managed=managed, renewal_of=managed.certificate)


def managed_rows() -> list[dict]:
    acme_managed()
    return list(ManagedCertificate.objects.values().order_by("pk"))


def approval_rows() -> list[dict]:
    acme_approval()
    return list(Approval.objects.values().order_by("pk"))


def managed_kwargs(s) -> dict:
    return {"pk": acme_managed(s).pk}


def listing(s) -> dict:
    acme_approval(s)
    return {}


CASES: dict[str, Case] = {
    "managed_list": Case(LIST, listing),
    "managed_detail": Case(PAGE, managed_kwargs),
    "managed_add": Case(FORM, writers=STAFF),
    "managed_edit": Case(
        FORM,
        managed_kwargs,
        post=lambda s: {
            "name": "www",
            "names": "www.acme.example\nacme.example",
            "key_type": "ec256",
            "key_policy": "rotate",
            "issuer": "manual",
            "ca_name": "Example Trust (renamed)",
            "renewal_instruction": "standing",
            "challenge_settings": "",
            "enabled": "on",
        },
        writers=STAFF,
        snapshot=managed_rows,
    ),
    "managed_issue": Case(ACTION, managed_kwargs, writers=STAFF),
    "managed_renew": Case(ACTION, managed_kwargs, writers=STAFF),
    "managed_record_approval": Case(
        FORM,
        managed_kwargs,
        post=lambda s: {"given_by": "山田太郎", "channel": "phone", "note": "by phone"},
        writers=STAFF,
        snapshot=approval_rows,
    ),
    "managed_hold": Case(
        FORM,
        managed_kwargs,
        post=lambda s: {"awaiting": "payment", "note": "invoice 2026-04"},
        writers=STAFF,
        snapshot=managed_rows,
    ),
    "managed_release": Case(
        ACTION, managed_kwargs, post=lambda s: {}, writers=STAFF, snapshot=managed_rows
    ),
    "approval_decide": Case(
        FORM,
        lambda s: {"pk": acme_approval(s).pk},
        post=lambda s: {"decision": "approve", "note": "yes, go ahead"},
        writers=DECIDERS,
        snapshot=approval_rows,
    ),
}
