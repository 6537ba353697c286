"""Endpoints: list, read, create, delete, and ask for a check now."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate

from mamori.api.auth import require_edit
from mamori.api.errors import from_django, invalid, problem
from mamori.api.schemas import EndpointIn, EndpointOut, Error
from mamori.clients.models import Client, Contract
from mamori.core import audit, outbound
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
    endpoint = Endpoint(
        client=client,
        host=data["host"],
        port=data["port"],
        sni=data["sni"],
        check_interval=data["check_interval"],
        enabled=data["enabled"],
        trust_bundle=data["trust_bundle"],
        allow_private_address=data["allow_private_address"],
    )
    errors = []
    refused = outbound.allowance_problem(user, False, endpoint.allow_private_address)
    if refused:
        errors.append(problem("allow_private_address", refused))
        endpoint.allow_private_address = False  # so that the host is judged as it would be
    for name, model in RELATED.items():
        if data[name] is None:
            continue
        related = model.objects.visible_to(user).filter(pk=data[name], client=client).first()
        if related is None:
            errors.append(problem(name, "Not one of the client's."))
        setattr(endpoint, name, related)
    try:
        endpoint.full_clean()
    except DjangoValidationError as e:
        errors.extend(from_django(e))
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        endpoint.save()
        audit.record(
            "endpoint.create",
            endpoint,
            actor=user,
            request=request,
            changes={
                "client": client.pk,
                "host": endpoint.host,
                "port": endpoint.port,
                "sni": endpoint.sni,
                "site": endpoint.site_id,
                "server": endpoint.server_id,
                "contract": endpoint.contract_id,
                "check_interval": endpoint.check_interval,
                "enabled": endpoint.enabled,
                "trust_bundle": bool(endpoint.trust_bundle.strip()),
                "allow_private_address": endpoint.allow_private_address,
            },
        )
    return Status(201, get_object_or_404(_endpoints(request), pk=endpoint.pk))


@router.delete(
    "/{endpoint_id}", response={204: None, 403: Error, 404: Error}, summary="Delete an endpoint"
)
def delete_endpoint(request: HttpRequest, endpoint_id: int):
    user = request.auth
    endpoint = get_object_or_404(_endpoints(request), pk=endpoint_id)
    require_edit(user)
    with transaction.atomic():
        audit.record(
            "endpoint.delete",
            endpoint,
            actor=user,
            request=request,
            changes={
                "client": endpoint.client_id,
                "host": endpoint.host,
                "port": endpoint.port,
                "sni": endpoint.sni,
            },
        )
        endpoint.delete()
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
