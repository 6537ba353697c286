"""ACME accounts (CERT-06): list, add, register at the CA.

Everyone who sees a client reads its accounts (never a key); provider staff who may manage the
client's vault add and register them. The EAB HMAC key is write-only (stored in the vault).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import invalid, invalid_form, problem, upstream
from mamori.api.schemas import Error, Input
from mamori.clients.models import Client
from mamori.core.permissions import require_change
from mamori.lifecycle.models import AcmeAccount, KeyType

router = Router(tags=["lifecycle"])


class AcmeAccountOut(Schema):
    id: int
    client: str
    name: str
    directory_url: str
    contact_email: str
    key_type: str
    eab_kid: str
    account_url: str
    registered_at: datetime | None
    terms_agreed_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code


class AcmeAccountIn(Input):
    client: str = Field(..., description="Code of the client.")
    name: str
    directory_url: str = Field(..., description="The CA's ACME directory URL.")
    contact_email: str = ""
    key_type: KeyType = KeyType.EC256
    eab_kid: str = Field("", description="External account binding key ID, if the CA needs it.")
    eab_hmac_key: str = Field("", description="Its HMAC key (base64url); stored in the vault.")
    ca_bundle: str = Field("", description="PEM trust anchors, only for a private ACME CA.")


def _accounts(request: HttpRequest):
    return AcmeAccount.objects.visible_to(request.auth).select_related("client")


@router.get("/acme-accounts", response=list[AcmeAccountOut], summary="List ACME accounts")
@paginate
def list_acme_accounts(request: HttpRequest, client: str | None = None):
    accounts = _accounts(request)
    if client:
        accounts = accounts.filter(client__code=client)
    return accounts.order_by("client__code", "name", "pk")


@router.post(
    "/acme-accounts",
    response={201: AcmeAccountOut, 403: Error, 422: Error},
    summary="Add an ACME account",
    description="Provider staff who manage the client's vault. Register it afterwards.",
)
def create_acme_account(request: HttpRequest, payload: AcmeAccountIn):
    from mamori.lifecycle.views_acme import AcmeAccountForm, create_account

    user = request.auth
    client = Client.objects.visible_to(user).filter(code=payload.client).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    require_change(user, client, AcmeAccount.change_rule)
    data = payload.dict()
    data["client"] = client.pk
    form = AcmeAccountForm(data, user=user)
    if not form.is_valid():
        raise invalid_form(form)
    account = create_account(form, actor=user, request=request)
    return Status(201, get_object_or_404(_accounts(request), pk=account.pk))


@router.post(
    "/acme-accounts/{account_id}/register",
    response={200: AcmeAccountOut, 403: Error, 404: Error, 502: Error},
    summary="Register the account at the CA",
    description="Creates the account key in the vault if needed and registers (terms agreed, "
    "external account binding if set). Idempotent. 502: the CA refused, with its problem.",
)
def register_acme_account(request: HttpRequest, account_id: int):
    from mamori.lifecycle import acme

    account = get_object_or_404(_accounts(request), pk=account_id)
    require_change(request.auth, account)
    try:
        acme.register_account(account, actor=request.auth)
    except acme.AcmeProblem as e:
        raise upstream(f"The CA refused the registration: {e}") from None
    return get_object_or_404(_accounts(request), pk=account.pk)
