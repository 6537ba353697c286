"""Clients: ``GET /clients`` and ``GET /clients/{code}``."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router
from ninja.pagination import paginate

from mamori.api.schemas import ClientDetailOut, ClientOut, Error
from mamori.clients.models import Client, Contact, Contract

router = Router(tags=["clients"])


@router.get("", response=list[ClientOut], summary="List clients")
@paginate
def list_clients(request: HttpRequest):
    return Client.objects.visible_to(request.auth).order_by("code")


@router.get("/{code}", response={200: ClientDetailOut, 404: Error}, summary="Read a client")
def get_client(request: HttpRequest, code: str):
    user = request.auth
    return get_object_or_404(
        Client.objects.visible_to(user).prefetch_related(
            Prefetch("contracts", queryset=Contract.objects.visible_to(user).order_by("start")),
            Prefetch("contacts", queryset=Contact.objects.visible_to(user)),
        ),
        code=code,
    )
