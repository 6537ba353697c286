"""The one place that answers "may this user see this" and "may this user change this".

Seeing is decided by :mod:`mamori.core.scoping` (``Model.objects.visible_to(user)``, which every
read goes through). Changing is decided here, by one rule per kind of record:

- ``EDITOR`` — the client's inventory (sites, servers, domains, endpoints): anyone who sees the
  client and may edit at all (provider staff, the client's administrators; not viewers).
- ``STAFF`` — the provider's work for the client (uptime checks, incidents, maintenance, secrets,
  managed certificates, deployment targets, contracts): provider staff who see the client.
- ``CLIENT_ADMIN`` — the client's own people and contacts: the provider's administrators and
  operators, and the client's administrators.

A model names its rule as ``change_rule`` (default ``EDITOR``); pages, the API, the CLI and the
import ask :func:`may_change` and nothing else.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mamori.core.scoping import visible_client_ids

if TYPE_CHECKING:
    from mamori.core.models import User


class Rule(StrEnum):
    EDITOR = "editor"
    STAFF = "staff"
    CLIENT_ADMIN = "client_admin"


def client_id_of(target: Any) -> int | None:
    """The id of the client ``target`` (a client, or a record of one) belongs to."""
    from mamori.clients.models import Client

    if isinstance(target, Client):
        return target.pk
    if isinstance(target, int):
        return target
    return getattr(target, "client_id", None)


def sees_client(user: User | None, client_id: int | None) -> bool:
    """Whether ``user`` sees the client ``client_id`` (the rule of ``visible_to``)."""
    if user is None or not user.is_authenticated or not user.is_active or client_id is None:
        return False
    ids = visible_client_ids(user)
    return ids is None or ids.filter(pk=client_id).exists()


def may_change(user: User | None, target: Any, rule: Rule | str | None = None) -> bool:
    """Whether ``user`` may create, change or delete ``target`` (a client's record, or the
    client itself for a new record), by ``rule`` or else the record's ``change_rule``."""
    from mamori.core.models import ALL_CLIENT_ROLES, Role

    if user is None or not user.is_authenticated or not user.is_active:
        return False
    rule = Rule(rule or getattr(type(target), "change_rule", Rule.EDITOR))
    client_id = client_id_of(target)
    if rule is Rule.CLIENT_ADMIN:
        if user.is_superuser or user.role in ALL_CLIENT_ROLES:
            return True
        return user.role == Role.CLIENT_ADMIN and user.client_id == client_id
    if rule is Rule.STAFF and not user.is_provider_staff:
        return False
    if rule is Rule.EDITOR and not user.can_edit:
        return False
    return sees_client(user, client_id)
