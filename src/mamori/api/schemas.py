"""What the API reads and writes, one schema per shape."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from django.utils import timezone
from ninja import Field, Schema
from pydantic import BeforeValidator, field_validator
from pydantic_core import PydanticCustomError

from mamori.certificates.queries import days_left as whole_days_left
from mamori.core import text
from mamori.core.models import Role


def _user(context: dict[str, Any] | None):
    request = (context or {}).get("request")
    return getattr(request, "auth", None) or getattr(request, "user", None)


#: The largest id (and integer) the database holds: bounds ids given as filters.
MAX_ID = 2**63 - 1


def _iso(kind: str, message: str):
    """A check before pydantic's own: a date or time is written as ISO 8601 text, never as a
    number (pydantic would read 0 or "0" as 1970-01-01, a Unix time)."""
    looks_like_number = re.compile(r"\s*[+-]?[0-9.]+([eE][+-]?[0-9]+)?\s*")

    def check(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value
        if not isinstance(value, str) or looks_like_number.fullmatch(value):
            raise PydanticCustomError(f"{kind}_type", message)
        return value

    return BeforeValidator(check)


#: A calendar day, ``YYYY-MM-DD``.
Day = Annotated[date, _iso("date", "Input should be a date: YYYY-MM-DD.")]
#: A moment, ISO 8601 (``2027-01-10T01:00:00+09:00``).
Moment = Annotated[
    datetime,
    _iso("datetime", "Input should be a date and time: YYYY-MM-DDTHH:MM:SS+09:00 (ISO 8601)."),
]


class Error(Schema):
    detail: Any = Field(..., description="What went wrong: a message, or a list of field errors.")


class Input(Schema):
    """What every request body is made of: text in it must be storable (valid UTF-8 without
    NUL characters, :func:`mamori.core.text.unstorable`), or the request gets a 422 naming the
    field, before any view, form or service sees it."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        problem = text.unstorable(value)
        if problem:
            raise PydanticCustomError("value_error", problem)
        return value


class ContractOut(Schema):
    id: int
    type: str
    title: str
    start: date
    term_months: int
    first_term_end: date
    auto_renew: bool
    renewal_policy: str
    expiry_notice_days: list[int]

    @staticmethod
    def resolve_expiry_notice_days(obj) -> list[int]:
        return obj.notice_schedule()


class ContactOut(Schema):
    name: str
    email: str | None = Field(
        None, description="Shown to provider staff and the client's own administrators only."
    )
    language: str
    notify: list[str]

    @staticmethod
    def resolve_email(obj, context) -> str | None:
        user = _user(context)
        if user is not None and (
            user.is_provider_staff
            or (user.role == Role.CLIENT_ADMIN and user.client_id == obj.client_id)
        ):
            return obj.email
        return None


class ClientOut(Schema):
    code: str
    name: str
    address: str
    representative: str


class ClientDetailOut(ClientOut):
    contracts: list[ContractOut]
    contacts: list[ContactOut]


class EndpointIn(Input):
    client: str = Field(..., description="Code of the client the endpoint belongs to.")
    host: str = Field(..., description="Host name or IP address.")
    port: int = 443
    sni: str = Field("", description="Server name sent in the handshake; default: the host.")
    site: int | None = Field(None, description="Id of one of the client's sites.")
    server: int | None = Field(None, description="Id of one of the client's servers.")
    contract: int | None = Field(
        None, description="Id of the contract whose notice schedule applies."
    )
    check_interval: int | None = Field(
        None, description="Seconds between checks; default: 6 hours."
    )
    enabled: bool = True
    trust_bundle: str = Field("", description="Extra trust anchors (PEM) for a private CA.")
    allow_private_address: bool = Field(
        False,
        description="Check it even if the host is, or resolves to, a loopback, private or "
        "link-local address. Only the provider's administrators and operators may set it.",
    )


class EndpointOut(Schema):
    id: int
    client: str
    label: str
    host: str
    port: int
    sni: str
    site: int | None = Field(None, alias="site_id")
    server: int | None = Field(None, alias="server_id")
    contract: int | None = Field(None, alias="contract_id")
    check_interval: int | None
    enabled: bool
    allow_private_address: bool
    state: str
    problems: list[str]
    last_checked_at: datetime | None
    next_check_at: datetime
    certificate: str | None = Field(None, description="SHA-256 fingerprint of what it serves now.")
    not_after: datetime | None = None
    days_left: int | None = None

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code

    @staticmethod
    def resolve_certificate(obj) -> str | None:
        cert = obj.current_certificate
        return cert.fingerprint_sha256 if cert else None

    @staticmethod
    def resolve_not_after(obj) -> datetime | None:
        cert = obj.current_certificate
        return cert.not_after if cert else None

    @staticmethod
    def resolve_days_left(obj) -> int | None:
        cert = obj.current_certificate
        return whole_days_left(cert.not_after) if cert else None


class CertificateOut(Schema):
    fingerprint_sha256: str
    subject: str
    subject_cn: str
    sans: list[str]
    issuer: str
    issuer_cn: str
    serial: str
    not_before: datetime
    not_after: datetime
    days_left: int = Field(
        ..., description="Whole days until not_after, rounded down: 0 = under a day, -1 = expired."
    )
    key_type: str
    key_bits: int | None
    signature_algorithm: str
    self_signed: bool
    served_by: list[int] = Field(
        [], description="Ids of the endpoints (that you may see) serving it now."
    )

    @staticmethod
    def resolve_days_left(obj) -> int:
        return whole_days_left(obj.not_after, timezone.now())

    @staticmethod
    def resolve_served_by(obj, context) -> list[int]:
        from mamori.certificates.queries import current_sightings

        user = _user(context)
        return sorted(
            current_sightings(user).filter(certificate=obj).values_list("endpoint_id", flat=True)
        )


class SightingOut(Schema):
    endpoint: int = Field(..., alias="endpoint_id")
    endpoint_label: str
    client: str
    first_seen_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None

    @staticmethod
    def resolve_endpoint_label(obj) -> str:
        return obj.endpoint.label

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.endpoint.client.code


class CertificateDetailOut(CertificateOut):
    pem: str
    sightings: list[SightingOut]

    @staticmethod
    def resolve_sightings(obj, context) -> list:
        from mamori.certificates.models import CertificateSighting

        user = _user(context)
        return list(
            CertificateSighting.objects.visible_to(user)
            .filter(certificate=obj)
            .select_related("endpoint__client")
        )


class NoticeOut(Schema):
    id: int
    created_at: datetime
    kind: str
    channel: str
    client: str | None
    recipient: str = Field(..., description="Address (contact name for client viewers).")
    language: str
    subject: str
    state: str
    attempts: int
    sent_at: datetime | None
    endpoint: int | None = Field(None, alias="endpoint_id")
    certificate: str | None = None

    @staticmethod
    def resolve_client(obj) -> str | None:
        return obj.client.code if obj.client else None

    @staticmethod
    def resolve_recipient(obj, context) -> str:
        """The address for provider staff and client administrators; a viewer gets the
        contact's name (ACC-04), as on the web pages."""
        user = _user(context)
        if user is not None and (user.is_provider_staff or user.role == Role.CLIENT_ADMIN):
            return obj.recipient
        return obj.contact.name if obj.contact else ""

    @staticmethod
    def resolve_certificate(obj) -> str | None:
        return obj.certificate.fingerprint_sha256 if obj.certificate else None


class NoticeDetailOut(NoticeOut):
    body_text: str
    message_id: str
    last_error: str
