"""Sites, servers and domains: list, read, create, change and delete.

Reading is for whoever sees the client; a record of a client the caller does not see answers
404 like a missing one. Writing follows the records' rule (``may_change``: provider staff and the
client's administrators, not viewers) and goes through the write services of
:mod:`mamori.inventory.services`, with the validation of the inventory import and an audit event.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from mamori.api.errors import invalid, invalid_from, problem
from mamori.api.schemas import MAX_ID, Day, Error, Input
from mamori.clients.models import Client
from mamori.core.models import User
from mamori.inventory import services
from mamori.inventory.models import Domain, Server, Site

#: The rule for deleting, stated on every delete operation.
DELETE_RULE = (
    "A record is deleted only when no record would go with it: delete those first, on purpose "
    "(409 lists them). Records that merely name it lose the link."
)


@contextmanager
def service_answers() -> Iterator[None]:
    """The API's answers for a write service's refusals: 403 for a record the caller may not
    write, 422 for a refused field or invalid values, 409 for a record others depend on."""
    try:
        yield
    except services.Refused as e:
        if e.field:
            raise invalid(problem(e.field, e.message)) from None
        raise HttpError(403, e.message) from None
    except DjangoValidationError as e:
        raise invalid_from(e) from None
    except services.Referenced as e:
        raise HttpError(409, str(e)) from None


def client_for(user: User, code: str) -> Client:
    """The client ``code`` among those ``user`` sees; 422 otherwise (the same answer for a
    client that does not exist and one the caller may not see)."""
    client = Client.objects.visible_to(user).filter(code=code).first()
    if client is None:
        raise invalid(problem("client", "Unknown client."))
    return client


def related(
    user: User, client: Client, model: type[models.Model], field: str, pk: int | None
) -> models.Model | None:
    """One of ``client``'s records of ``model`` by id, or 422 naming ``field``."""
    if pk is None:
        return None
    found = model.objects.visible_to(user).filter(pk=pk, client=client).first()
    if found is None:
        raise invalid(problem(field, "Not one of the client's."))
    return found


def given(payload: Schema, fields: tuple[str, ...]) -> dict[str, Any]:
    """The fields a PATCH body gives (left out: unchanged)."""
    data = payload.dict(exclude_unset=True)
    return {name: data[name] for name in fields if name in data}


def not_null(values: dict[str, Any], fields: tuple[str, ...]) -> None:
    """422 for a field that cannot be emptied and was given as null."""
    nulls = [name for name in fields if name in values and values[name] is None]
    if nulls:
        raise invalid([problem(name, "This field may not be null.") for name in nulls])


# --- sites --------------------------------------------------------------------------------------

sites = Router(tags=["sites"])


class SiteOut(Schema):
    id: int
    client: str
    name: str
    url: str
    server: int | None = Field(None, alias="server_id")
    cms: str
    related_systems: str

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code


class SiteIn(Input):
    client: str = Field(..., description="Code of the client.")
    name: str
    url: str = Field(..., description="http:// or https:// URL; one site per URL and client.")
    server: int | None = Field(None, description="Id of one of the client's servers.")
    cms: str = ""
    related_systems: str = ""


class SitePatch(Input):
    name: str | None = None
    url: str | None = None
    server: int | None = Field(None, description="Null: no server.")
    cms: str | None = None
    related_systems: str | None = None


def _sites(request: HttpRequest):
    return Site.objects.visible_to(request.auth).select_related("client")


@sites.get("", response=list[SiteOut], summary="List sites")
@paginate
def list_sites(
    request: HttpRequest,
    client: str | None = None,
    q: str | None = Query(None, description="Part of the name or URL."),
    server: int | None = Query(None, ge=1, le=MAX_ID, description="Id of the hosting server."),
):
    qs = _sites(request)
    if client:
        qs = qs.filter(client__code=client)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(url__icontains=q))
    if server is not None:
        qs = qs.filter(server_id=server)
    return qs.order_by("client__code", "name", "pk")


@sites.get("/{site_id}", response={200: SiteOut, 404: Error}, summary="Read a site")
def get_site(request: HttpRequest, site_id: int):
    return get_object_or_404(_sites(request), pk=site_id)


@sites.post(
    "",
    response={201: SiteOut, 403: Error, 422: Error},
    summary="Add a site",
    description="Provider staff and the client's administrators.",
)
def create_site(request: HttpRequest, payload: SiteIn):
    user = request.auth
    client = client_for(user, payload.client)
    values = payload.dict(exclude={"client"})
    values["server"] = related(user, client, Server, "server", payload.server)
    with service_answers():
        site = services.create_site(user, client, values, request=request)
    return Status(201, get_object_or_404(_sites(request), pk=site.pk))


@sites.patch(
    "/{site_id}",
    response={200: SiteOut, 403: Error, 404: Error, 422: Error},
    summary="Change a site",
    description="Only the fields given change.",
)
def update_site(request: HttpRequest, site_id: int, payload: SitePatch):
    user = request.auth
    site = get_object_or_404(_sites(request), pk=site_id)
    values = given(payload, services.SITE_FIELDS)
    not_null(values, ("name", "url", "cms", "related_systems"))
    if "server" in values:
        values["server"] = related(user, site.client, Server, "server", values["server"])
    with service_answers():
        services.change_site(user, site, values, request=request)
    return get_object_or_404(_sites(request), pk=site.pk)


@sites.delete(
    "/{site_id}",
    response={204: None, 403: Error, 404: Error, 409: Error},
    summary="Delete a site",
    description=f"{DELETE_RULE} A site's checks, maintenance windows, SLA policies and site "
    "seals would go with it; its endpoints, incidents and secrets lose the link.",
)
def delete_site(request: HttpRequest, site_id: int):
    site = get_object_or_404(_sites(request), pk=site_id)
    with service_answers():
        services.delete_site(request.auth, site, request=request)
    return Status(204, None)


# --- servers ------------------------------------------------------------------------------------

servers = Router(tags=["servers"])


class ServerOut(Schema):
    id: int
    client: str
    name: str
    kind: str = Field(..., description="cloud, dedicated, vps or shared.")
    provider: str
    os: str
    middleware: str
    network: str
    notes: str

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code


class ServerIn(Input):
    client: str = Field(..., description="Code of the client.")
    name: str = Field(..., description="One server per name and client.")
    kind: str = Field(..., description="cloud, dedicated, vps or shared.")
    provider: str = ""
    os: str = ""
    middleware: str = ""
    network: str = ""
    notes: str = ""


class ServerPatch(Input):
    name: str | None = None
    kind: str | None = None
    provider: str | None = None
    os: str | None = None
    middleware: str | None = None
    network: str | None = None
    notes: str | None = None


def _servers(request: HttpRequest):
    return Server.objects.visible_to(request.auth).select_related("client")


@servers.get("", response=list[ServerOut], summary="List servers")
@paginate
def list_servers(
    request: HttpRequest,
    client: str | None = None,
    q: str | None = Query(None, description="Part of the name."),
    kind: str | None = None,
):
    qs = _servers(request)
    if client:
        qs = qs.filter(client__code=client)
    if q:
        qs = qs.filter(name__icontains=q)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("client__code", "name", "pk")


@servers.get("/{server_id}", response={200: ServerOut, 404: Error}, summary="Read a server")
def get_server(request: HttpRequest, server_id: int):
    return get_object_or_404(_servers(request), pk=server_id)


@servers.post(
    "",
    response={201: ServerOut, 403: Error, 422: Error},
    summary="Add a server",
    description="Provider staff and the client's administrators.",
)
def create_server(request: HttpRequest, payload: ServerIn):
    user = request.auth
    client = client_for(user, payload.client)
    with service_answers():
        server = services.create_server(
            user, client, payload.dict(exclude={"client"}), request=request
        )
    return Status(201, get_object_or_404(_servers(request), pk=server.pk))


@servers.patch(
    "/{server_id}",
    response={200: ServerOut, 403: Error, 404: Error, 422: Error},
    summary="Change a server",
    description="Only the fields given change.",
)
def update_server(request: HttpRequest, server_id: int, payload: ServerPatch):
    server = get_object_or_404(_servers(request), pk=server_id)
    values = given(payload, services.SERVER_FIELDS)
    not_null(values, services.SERVER_FIELDS)
    with service_answers():
        services.change_server(request.auth, server, values, request=request)
    return get_object_or_404(_servers(request), pk=server.pk)


@servers.delete(
    "/{server_id}",
    response={204: None, 403: Error, 404: Error, 409: Error},
    summary="Delete a server",
    description=f"{DELETE_RULE} A server's checks, maintenance windows and SLA policies would go "
    "with it; it is also kept while sites or deployment targets name it. Its endpoints, "
    "incidents and secrets lose the link.",
)
def delete_server(request: HttpRequest, server_id: int):
    server = get_object_or_404(_servers(request), pk=server_id)
    with service_answers():
        services.delete_server(request.auth, server, request=request)
    return Status(204, None)


# --- domains ------------------------------------------------------------------------------------

domains = Router(tags=["domains"])


class DomainOut(Schema):
    id: int
    client: str
    name: str
    registrar: str
    expires_on: date | None = Field(None, description="When the registration expires.")

    @staticmethod
    def resolve_client(obj) -> str:
        return obj.client.code


class DomainIn(Input):
    client: str = Field(..., description="Code of the client.")
    name: str = Field(..., description="The registered domain, e.g. acme.example.")
    registrar: str = ""
    expires_on: Day | None = None


class DomainPatch(Input):
    name: str | None = None
    registrar: str | None = None
    expires_on: Day | None = Field(None, description="Null: not known.")


def _domains(request: HttpRequest):
    return Domain.objects.visible_to(request.auth).select_related("client")


@domains.get(
    "",
    response=list[DomainOut],
    summary="List domains",
    description="`expires_before`: only registrations expiring before that day.",
)
@paginate
def list_domains(
    request: HttpRequest,
    client: str | None = None,
    q: str | None = Query(None, description="Part of the name."),
    expires_before: Day | None = None,
):
    qs = _domains(request)
    if client:
        qs = qs.filter(client__code=client)
    if q:
        qs = qs.filter(name__icontains=q)
    if expires_before is not None:
        qs = qs.filter(expires_on__lt=expires_before)
    return qs.order_by("client__code", "name", "pk")


@domains.get("/{domain_id}", response={200: DomainOut, 404: Error}, summary="Read a domain")
def get_domain(request: HttpRequest, domain_id: int):
    return get_object_or_404(_domains(request), pk=domain_id)


@domains.post(
    "",
    response={201: DomainOut, 403: Error, 422: Error},
    summary="Add a domain",
    description="Provider staff and the client's administrators.",
)
def create_domain(request: HttpRequest, payload: DomainIn):
    user = request.auth
    client = client_for(user, payload.client)
    with service_answers():
        domain = services.create_domain(
            user, client, payload.dict(exclude={"client"}), request=request
        )
    return Status(201, get_object_or_404(_domains(request), pk=domain.pk))


@domains.patch(
    "/{domain_id}",
    response={200: DomainOut, 403: Error, 404: Error, 422: Error},
    summary="Change a domain",
    description="Only the fields given change.",
)
def update_domain(request: HttpRequest, domain_id: int, payload: DomainPatch):
    domain = get_object_or_404(_domains(request), pk=domain_id)
    values = given(payload, services.DOMAIN_FIELDS)
    not_null(values, ("name", "registrar"))
    with service_answers():
        services.change_domain(request.auth, domain, values, request=request)
    return get_object_or_404(_domains(request), pk=domain.pk)


@domains.delete(
    "/{domain_id}",
    response={204: None, 403: Error, 404: Error},
    summary="Delete a domain",
    description="No other record depends on a domain.",
)
def delete_domain(request: HttpRequest, domain_id: int):
    domain = get_object_or_404(_domains(request), pk=domain_id)
    with service_answers():
        services.delete_domain(request.auth, domain, request=request)
    return Status(204, None)
