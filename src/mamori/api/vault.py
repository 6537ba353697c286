"""The vault: secrets' metadata, adding a secret, and revealing a value with a purpose.

Values appear in exactly one answer, that of ``POST /secrets/{id}/reveal``; every other answer
carries metadata only. Permissions are those of the web pages (mamori.vault.services).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from mamori.api.errors import conflict, invalid, invalid_from, problem
from mamori.api.schemas import Error, Input
from mamori.certificates.models import Certificate
from mamori.clients.models import Client
from mamori.core.permissions import require_change
from mamori.inventory.models import Server, Site
from mamori.vault import keys, services
from mamori.vault.models import Secret, SecretKind

router = Router(tags=["vault"])


class SecretOut(Schema):
    id: int
    client: str
    kind: SecretKind
    name: str
    username: str
    location: str = Field(..., description="URL or host where the secret is used.")
    notes: str
    site: int | None = Field(None, alias="site_id")
    server: int | None = Field(None, alias="server_id")
    certificate: str | None = Field(None, description="SHA-256 fingerprint.")
    created_at: datetime
    value_changed_at: datetime | None
    destroyed_at: datetime | None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_certificate(obj) -> str | None:
        return obj.certificate.fingerprint_sha256 if obj.certificate else None


class SecretIn(Input):
    client: str = Field(..., description="Code of the client the secret belongs to.")
    kind: SecretKind
    name: str
    value: str = Field(..., description="The secret itself; stored encrypted, never returned.")
    username: str = ""
    location: str = ""
    notes: str = Field("", description="Plain text, not encrypted: never a secret.")
    site: int | None = Field(None, description="Id of one of the client's sites.")
    server: int | None = Field(None, description="Id of one of the client's servers.")
    certificate: str | None = Field(None, description="SHA-256 fingerprint of its certificate.")


class RevealIn(Input):
    purpose: str = Field(
        ..., min_length=1, description="Why you need the value now; goes on the audit trail."
    )


class RevealOut(Schema):
    value: str
    encoding: Literal["text", "base64"] = Field(
        ..., description="`base64` when the secret was stored as bytes (e.g. a DER key)."
    )


def _secrets(request: HttpRequest):
    return Secret.objects.visible_to(request.auth).select_related("client", "certificate")


@router.get("/secrets", response=list[SecretOut], summary="List secrets (metadata only)")
@paginate
def list_secrets(
    request: HttpRequest,
    client: str | None = None,
    kind: str | None = None,
    destroyed: bool = False,
):
    secrets = _secrets(request)
    if client:
        secrets = secrets.filter(client__code=client)
    if kind:
        secrets = secrets.filter(kind=kind)
    if not destroyed:
        secrets = secrets.live()
    return secrets.order_by("client__code", "kind", "name", "pk")


@router.get(
    "/secrets/{secret_id}",
    response={200: SecretOut, 404: Error},
    summary="Read a secret's metadata",
)
def get_secret(request: HttpRequest, secret_id: int):
    return get_object_or_404(_secrets(request), pk=secret_id)


@router.post(
    "/secrets",
    response={201: SecretOut, 403: Error, 409: Error, 422: Error},
    summary="Store a secret",
    description="Provider staff who see the client only. The value is stored encrypted and is "
    "not part of the answer. 409: the vault is not available.",
)
def create_secret(request: HttpRequest, payload: SecretIn):
    user = request.auth
    client = Client.objects.visible_to(user).filter(code=payload.client).first()
    if client is None:
        # The same answer for a client that does not exist and one the caller may not see.
        raise invalid(problem("client", "Unknown client."))
    require_change(user, client, Secret.change_rule)
    errors = []
    related: dict = {}
    for name, model, lookup in (("site", Site, "pk"), ("server", Server, "pk")):
        value = getattr(payload, name)
        if value is not None:
            related[name] = model.objects.filter(client=client, **{lookup: value}).first()
            if related[name] is None:
                errors.append(problem(name, "Not one of the client's."))
    if payload.certificate:
        related["certificate"] = (
            Certificate.objects.visible_to(user)
            .filter(fingerprint_sha256=payload.certificate.lower())
            .first()
        )
        if related["certificate"] is None:
            errors.append(problem("certificate", "Unknown certificate."))
    if errors:
        raise invalid(errors)
    try:
        secret = services.store_secret(
            client,
            kind=payload.kind,
            name=payload.name,
            value=payload.value,
            actor=user,
            request=request,
            username=payload.username,
            location=payload.location,
            notes=payload.notes,
            **related,
        )
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    except (services.VaultError, keys.KeyringError):
        raise conflict("The vault is not available.") from None
    return Status(201, get_object_or_404(_secrets(request), pk=secret.pk))


@router.post(
    "/secrets/{secret_id}/reveal",
    response={200: RevealOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Reveal a secret's value",
    description="Provider staff assigned to the client only, with a purpose. The access is on "
    "the audit trail before the value is sent. 409: destroyed or unreadable.",
)
def reveal_secret(request: HttpRequest, secret_id: int, payload: RevealIn, response: HttpResponse):
    secret = get_object_or_404(_secrets(request), pk=secret_id)
    try:
        value = services.reveal_secret(
            secret, actor=request.auth, purpose=payload.purpose, request=request
        )
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    except (services.VaultError, keys.KeyringError):
        raise conflict("The value cannot be read.") from None
    response["Cache-Control"] = "no-store"
    if isinstance(value, bytes):
        return RevealOut(value=base64.b64encode(value).decode(), encoding="base64")
    return RevealOut(value=value, encoding="text")
