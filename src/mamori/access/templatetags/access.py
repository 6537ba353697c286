"""Template tags for pages outside the access app that show access data (the client page)."""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.urls import reverse

from mamori.access import services
from mamori.access.models import OFFICERS_REQUIRED, InformationOfficer
from mamori.clients.models import Client, Contact
from mamori.core.models import User
from mamori.core.permissions import may_change

register = template.Library()


@dataclass
class ClientOfficers:
    officers: list[InformationOfficer]
    missing: bool
    edit_url: str
    people_url: str


@register.simple_tag
def client_officers(user: User, client: Client) -> ClientOfficers:
    """The client's officers, whether fewer than two are named, and the links ``user`` may use
    (empty when they may not). The caller has already checked that ``user`` may see ``client``."""
    officers = services.officers_of(client)
    may_people = may_change(user, client, Contact.change_rule)
    return ClientOfficers(
        officers=officers,
        missing=len(officers) < OFFICERS_REQUIRED,
        edit_url=(
            reverse("client_officers", args=[client.code])
            if services.may_edit_officers(user, client)
            else ""
        ),
        people_url=reverse("client_access", args=[client.code]) if may_people else "",
    )
