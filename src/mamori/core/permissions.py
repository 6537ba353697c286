"""The one place that answers "may this user see this" and "may this user change this".

Seeing is decided by :mod:`mamori.core.scoping` (``Model.objects.visible_to(user)``, which every
read goes through). Changing is decided here, by one rule per kind of record:

- ``EDITOR`` — the client's inventory (sites, servers, domains, endpoints), notes on its
  incidents, its contacts' chat channels, decisions on its renewals: anyone who sees the client
  and may edit at all (provider staff who see it, the client's administrators; not viewers).
- ``STAFF`` — the provider's work for the client (uptime checks, incidents, maintenance, secrets,
  managed certificates, deployment targets, ACME accounts, orders, tasks, contracts): provider
  staff who see the client (administrators and operators; subcontractors for their clients).
- ``CLIENT_ADMIN`` — the client's own people and contacts: the provider's administrators and
  operators, and the client's administrators.

A model names its rule as ``change_rule`` (default ``EDITOR``); pages, the API, the CLI and the
import ask :func:`may_change` (one record, or a client for a new record) or :func:`changeable`
(a list: "the clients I may add a check to") and nothing else. The two read the same table,
:func:`changeable_client_ids`, so they cannot disagree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mamori.core.scoping import visible_client_ids

if TYPE_CHECKING:
    from django.db import models

    from mamori.core.models import User


class Rule(StrEnum):
    EDITOR = "editor"
    STAFF = "staff"
    CLIENT_ADMIN = "client_admin"


def _lookup_of(model: type) -> str:
    """The lookup from ``model`` to its client (``client_lookup`` of its queryset)."""
    manager = getattr(model, "_default_manager", None)
    queryset_class = getattr(manager, "_queryset_class", None)
    return getattr(queryset_class, "client_lookup", "client")


def client_id_of(target: Any) -> int | None:
    """The id of the client ``target`` (a client, a client's id, or a record of one, through its
    queryset's ``client_lookup``: ``managed__client`` for a deployment target) belongs to."""
    from mamori.clients.models import Client

    if isinstance(target, Client):
        return target.pk
    if isinstance(target, int) or target is None:
        return target
    *path, last = _lookup_of(type(target)).split("__")
    for name in path:
        target = getattr(target, name, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


def rule_of(target: Any, rule: Rule | str | None = None) -> Rule:
    """``rule`` if given, else the ``change_rule`` of ``target`` (a record or a model)."""
    if rule:
        return Rule(rule)
    model = target if isinstance(target, type) else type(target)
    return Rule(getattr(model, "change_rule", Rule.EDITOR))


def _active(user: User | None) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def changeable_client_ids(user: User | None, rule: Rule | str) -> models.QuerySet | None:
    """Ids of the clients whose records of ``rule`` the user may change, as a subquery;
    ``None`` means every client."""
    from mamori.clients.models import Client
    from mamori.core.models import ALL_CLIENT_ROLES, Role

    none = Client.objects.none().values("pk")
    if not _active(user):
        return none
    rule = Rule(rule)
    if rule is Rule.CLIENT_ADMIN:
        if user.is_superuser or user.role in ALL_CLIENT_ROLES:
            return None
        if user.role == Role.CLIENT_ADMIN:
            return Client.objects.filter(pk=user.client_id).values("pk")
        return none
    if rule is Rule.STAFF and not user.is_provider_staff:
        return none
    if rule is Rule.EDITOR and not user.can_edit:
        return none
    return visible_client_ids(user)


def sees_client(user: User | None, client_id: int | None) -> bool:
    """Whether ``user`` sees the client ``client_id`` (the rule of ``visible_to``)."""
    if not _active(user) or client_id is None:
        return False
    ids = visible_client_ids(user)
    return ids is None or ids.filter(pk=client_id).exists()


def may_change(user: User | None, target: Any, rule: Rule | str | None = None) -> bool:
    """Whether ``user`` may create, change or delete ``target`` (a client's record, or the
    client itself for a new record), by ``rule`` or else the record's ``change_rule``."""
    client_id = client_id_of(target)
    if not _active(user) or client_id is None:
        return False
    ids = changeable_client_ids(user, rule_of(target, rule))
    return ids is None or ids.filter(pk=client_id).exists()


def changeable(qs: models.QuerySet, user: User | None, rule: Rule | str | None = None):
    """The rows of ``qs`` that ``user`` may change (by ``rule`` or the model's ``change_rule``);
    for a queryset of clients, the clients the user may add such records to (pass ``rule``, or
    the model whose records are meant, e.g. ``changeable(clients, user, Check.change_rule)``)."""
    ids = changeable_client_ids(user, rule_of(qs.model, rule))
    if ids is None:
        return qs.all()
    qs = qs.filter(**{f"{_lookup_of(qs.model)}__in": ids})
    return qs.distinct() if getattr(qs, "client_lookup_is_multi", False) else qs


def require_change(user: User | None, target: Any, rule: Rule | str | None = None) -> None:
    """Raise ``PermissionDenied`` unless :func:`may_change`: a page answers 403, and so does the
    API (``{"detail": "Forbidden"}``, see :mod:`mamori.api.errors`)."""
    from django.core.exceptions import PermissionDenied

    if not may_change(user, target, rule):
        raise PermissionDenied


def changes_every_client(user: User | None, rule: Rule | str) -> bool:
    """Whether ``user`` may change such records of every client (for provider-wide work such as
    the SLA's credits: the provider's administrators and operators under ``STAFF``)."""
    return _active(user) and changeable_client_ids(user, rule) is None
