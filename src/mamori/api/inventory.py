"""Endpoints: list, read, create, delete, and ask for a check now."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate

from mamori.api.auth import require_edit
from mamori.api.errors import invalid, problem
from mamori.api.inventory_records import service_answers
from mamori.api.schemas import EndpointIn, EndpointOut, Error
from mamori.clients.models import Client, Contract
from mamori.core import audit
from mamori.inventory import services
from mamori.inventory.models import Endpoint, Server, Site

router = Router(tags=["endpoints"])

RELATED = {"site": Site, "server": Server, "contract": Contract}


def _endpoints(request: HttpRequest):
    return Endpoint.objects.visible_to(request.auth).select_related("client", "current_certificate")


@router.get("", response=list[EndpointOut], summary="List endpoints")
@paginate
def list_endpoints(request: HttpRequest, client: str | None = None, state: str | None = None):
    endpoints = _endpoints(request)
    if client:
        endpoints = endpoints.filter(client__code=client)
    if state:
        endpoints = endpoints.filter(state=state)
    return endpoints.order_by("client__code", "host", "port", "pk")


@router.get("/{endpoint_id}", response={200: EndpointOut, 404: Error}, summary="Read an endpoint")
def get_endpoint(request: HttpRequest, endpoint_id: int):
    return get_object_or_404(_endpoints(request), pk=endpoint_id)


@router.post(
    "",
    response={201: EndpointOut, 403: Error, 422: Error},
    summary="Add an endpoint",
    description="The client is given by its code. Site, server and contract must be the "
    "client's own. Invalid input is answered with 422 and the errors per field.",
)
def create_endpoint(request: HttpRequest, payload: EndpointIn):
    user = request.auth
    require_edit(user)
    client = Client.objects.visible_to(user).filter(code=payload.client).first()
    if client is None:
        # The same answer for a client that does not exist and one the caller may not see.
        raise invalid(problem("client", "Unknown client."))
    data = payload.dict()
    values = {name: data[name] for name in services.ENDPOINT_FIELDS if name not in RELATED}
    errors = []
    for name, model in RELATED.items():
        related = None
        if data[name] is not None:
            related = model.objects.visible_to(user).filter(pk=data[name], client=client).first()
            if related is None:
                errors.append(problem(name, "Not one of the client's."))
        values[name] = related
    if errors:
        raise invalid(errors)
    # The write path of the pages and the import: the same reading of the host, the same
    # permission for allow_private_address, the same validation and audit event.
    with service_answers():
        endpoint = services.create_endpoint(user, client, values, request=request)
    return Status(201, get_object_or_404(_endpoints(request), pk=endpoint.pk))


@router.delete(
    "/{endpoint_id}",
    response={204: None, 403: Error, 404: Error, 409: Error},
    summary="Delete an endpoint",
    description="Its check history goes with it. Refused (409) while deployment targets "
    "install certificates on it.",
)
def delete_endpoint(request: HttpRequest, endpoint_id: int):
    user = request.auth
    endpoint = get_object_or_404(_endpoints(request), pk=endpoint_id)
    require_edit(user)
    with service_answers():
        services.delete_endpoint(user, endpoint, request=request)
    return Status(204, None)


@router.post(
    "/{endpoint_id}/check",
    response={202: EndpointOut, 403: Error, 404: Error},
    summary="Check an endpoint now",
    description="Makes the endpoint due, so the scheduler checks it at once.",
)
def check_endpoint(request: HttpRequest, endpoint_id: int):
    user = request.auth
    endpoint = get_object_or_404(_endpoints(request), pk=endpoint_id)
    require_edit(user)
    now = timezone.now()
    Endpoint.objects.filter(pk=endpoint.pk).update(next_check_at=now)
    endpoint.next_check_at = now
    audit.record("endpoint.check_requested", endpoint, actor=user, request=request)
    return Status(202, endpoint)
