"""The software on managed servers and their accounts (MNT-01, MNT-07).

Whoever sees a server reads its software, accounts, keys and events; provider staff set up the
collection, collect now and acknowledge account changes. Every write goes through
:mod:`mamori.software.services` and is audited.
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema

from mamori.api.errors import invalid, invalid_from, problem
from mamori.api.schemas import Error, Input
from mamori.inventory.models import Server
from mamori.software import eol, services
from mamori.software.models import (
    Account,
    AccountEvent,
    AuthorizedKey,
    Collection,
    CollectionSetup,
    Component,
    OperatingSystem,
    Package,
    SoftwareEvent,
)
from mamori.vault.models import Secret

router = Router(tags=["software"])


class SoftwareSetupOut(Schema):
    enabled: bool
    interval_hours: int
    ssh_host: str
    ssh_port: int
    ssh_username: str
    ssh_secret: int | None = Field(None, description="The vault secret's id (never its value).")
    ssh_host_key: str
    os_release_path: str
    passwd_path: str
    group_path: str
    sudoers_path: str
    dpkg_admin_dir: str
    wordpress_paths: list[str]
    next_collection_at: datetime | None

    @staticmethod
    def resolve_ssh_secret(obj) -> int | None:
        return obj.ssh_secret_id

    @staticmethod
    def resolve_wordpress_paths(obj) -> list[str]:
        return obj.wordpress_path_list()


class SoftwareSetupIn(Input):
    enabled: bool = True
    interval_hours: int = Field(24, ge=1, le=744)
    ssh_host: str = Field(..., min_length=1, max_length=253)
    ssh_port: int = Field(22, ge=1, le=65535)
    ssh_username: str = Field(..., min_length=1, max_length=100)
    ssh_secret: int | None = Field(None, description="A vault secret of the server's client.")
    ssh_host_key: str = Field(..., min_length=1, max_length=10000)
    os_release_path: str = Field("/etc/os-release", max_length=500)
    passwd_path: str = Field("/etc/passwd", max_length=500)
    group_path: str = Field("/etc/group", max_length=500)
    sudoers_path: str = Field("/etc/sudoers", max_length=500)
    dpkg_admin_dir: str = Field("", max_length=500)
    wordpress_paths: list[str] = Field(default_factory=list, max_length=50)


class SoftwareCollectionOut(Schema):
    id: int
    started_at: datetime
    ended_at: datetime | None
    state: str
    error: str
    problems: list[dict[str, str]]
    packages: int
    components: int
    accounts: int


class SoftwareComponentOut(Schema):
    kind: str
    name: str
    version: str
    path: str


class EndOfLifeOut(Schema):
    product: str
    version: str
    cycle: str | None
    eol: date | None
    ended: bool
    data_as_of: datetime | None = Field(None, description="When the end-of-life data was taken.")


class OsOut(Schema):
    id: str
    version: str
    name: str


class ServerAccountOut(Schema):
    username: str
    uid: int
    home: str
    shell: str
    sudo: str | None = Field(None, description="How sudo rights are had; null: unknown.")


class AuthorizedKeyOut(Schema):
    username: str
    key_type: str
    fingerprint: str
    comment: str


class SoftwareEventOut(Schema):
    id: int
    at: datetime
    subject: str
    category: str
    name: str
    detail: str
    change: str
    from_version: str
    to_version: str


class AccountEventOut(Schema):
    id: int
    server: int
    client: str
    at: datetime
    subject: str
    change: str
    username: str
    detail: str
    comment: str
    acknowledged_at: datetime | None

    @staticmethod
    def resolve_server(obj) -> int:
        return obj.server_id

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.server.client.code


class ServerSoftwareOut(Schema):
    server: int
    name: str
    client: str
    setup: SoftwareSetupOut | None
    last_collection: SoftwareCollectionOut | None
    os: OsOut | None
    components: list[SoftwareComponentOut]
    end_of_life: list[EndOfLifeOut]
    packages: int
    accounts: list[ServerAccountOut]
    keys: list[AuthorizedKeyOut]
    software_events: list[SoftwareEventOut] = Field(
        ..., description="The latest 200, newest first."
    )
    account_events: list[AccountEventOut] = Field(..., description="The latest 200, newest first.")


class PackageOut(Schema):
    ecosystem: str
    name: str
    architecture: str
    version: str


def _server(request: HttpRequest, server_id: int) -> Server:
    return get_object_or_404(
        Server.objects.visible_to(request.auth).select_related("client"), pk=server_id
    )


def _software(server: Server) -> dict:
    system = OperatingSystem.objects.filter(server=server).first()
    return {
        "server": server.pk,
        "name": server.name,
        "client": server.client.code,
        "setup": CollectionSetup.objects.filter(server=server).first(),
        "last_collection": Collection.objects.filter(server=server).first(),
        "os": (
            {"id": system.os_id, "version": system.version_id, "name": system.pretty_name}
            if system
            else None
        ),
        "components": list(Component.objects.filter(server=server)),
        "end_of_life": [
            {
                "product": s.product,
                "version": s.version,
                "cycle": s.cycle,
                "eol": s.eol,
                "ended": s.ended,
                "data_as_of": s.fetched_at,
            }
            for s in eol.status_of(server)
        ],
        "packages": Package.objects.filter(server=server).count(),
        "accounts": list(Account.objects.filter(server=server)),
        "keys": list(AuthorizedKey.objects.filter(server=server)),
        "software_events": list(SoftwareEvent.objects.filter(server=server)[:200]),
        "account_events": list(
            AccountEvent.objects.filter(server=server).select_related("server__client")[:200]
        ),
    }


@router.get(
    "/servers/{server_id}/software",
    response={200: ServerSoftwareOut, 404: Error},
    summary="A server's software, end of life, accounts and SSH keys (MNT-01, MNT-07)",
)
def get_server_software(request: HttpRequest, server_id: int):
    return _software(_server(request, server_id))


class ServerPackagesOut(Schema):
    server: int
    client: str
    packages: list[PackageOut]


@router.get(
    "/servers/{server_id}/software/packages",
    response={200: ServerPackagesOut, 404: Error},
    summary="A server's installed OS packages (all of them)",
)
def list_server_packages(request: HttpRequest, server_id: int):
    server = _server(request, server_id)
    return {
        "server": server.pk,
        "client": server.client.code,
        "packages": list(Package.objects.filter(server=server).order_by("name", "architecture")),
    }


@router.put(
    "/servers/{server_id}/software/setup",
    response={200: SoftwareSetupOut, 403: Error, 404: Error, 422: Error},
    summary="Set up or change how a server's software is collected over SSH",
)
def set_software_setup(request: HttpRequest, server_id: int, payload: SoftwareSetupIn):
    server = _server(request, server_id)
    values = payload.dict()
    values["wordpress_paths"] = "\n".join(values["wordpress_paths"])
    if values["ssh_secret"] is not None:
        secret = Secret.objects.visible_to(request.auth).filter(pk=values["ssh_secret"]).first()
        if secret is None:
            raise invalid(problem("ssh_secret", "No such secret."))
        values["ssh_secret"] = secret
    try:
        return services.save_setup(server, values, actor=request.auth, request=request)
    except ValidationError as exc:
        raise invalid_from(exc) from None


@router.post(
    "/servers/{server_id}/software/collect",
    response={200: SoftwareCollectionOut, 403: Error, 404: Error, 409: Error, 422: Error},
    summary="Collect a server's software now; a server that cannot be reached gives a failed "
    "collection",
)
def collect_server_software(request: HttpRequest, server_id: int):
    from mamori.api.errors import conflict

    server = _server(request, server_id)
    try:
        return services.collect_server(server, actor=request.auth, request=request)
    except services.CollectionBusy:
        raise conflict("A collection of this server is already running.") from None
    except ValidationError as exc:
        raise invalid_from(exc) from None


@router.post(
    "/software/account-events/{account_event_id}/acknowledge",
    response={200: AccountEventOut, 403: Error, 404: Error},
    summary="Acknowledge an account change (it is no longer flagged to operators)",
)
def acknowledge_account_event(request: HttpRequest, account_event_id: int):
    event = get_object_or_404(
        AccountEvent.objects.visible_to(request.auth).select_related("server__client"),
        pk=account_event_id,
    )
    return services.acknowledge(event, actor=request.auth, request=request)
