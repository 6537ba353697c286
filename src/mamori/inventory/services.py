"""Writing a client's records: one function per write, with its audit event, in one transaction.

Sites, servers and domains are here; contacts and contracts are in :mod:`mamori.clients.services`.
The API calls these functions; the inventory import (:mod:`mamori.inventory.transfer`) writes
every record through :func:`save_record`, the path they all share:

1. the actor's permission: :func:`write_problem` (``may_change`` by the model's ``change_rule``,
   the outbound allowance of a record with ``allow_private_address``, and the rules of the
   provider's own records), refused with :class:`Refused`;
2. the model's full validation (``full_clean``), refused with Django's ``ValidationError``;
3. the save and its audit event, in one transaction.

Deleting refuses a record that other records would go with (:class:`Referenced`): those must be
deleted first, on purpose, and never vanish as a side effect.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from mamori.clients.models import Client, Contract
from mamori.core import audit, outbound
from mamori.core.models import User
from mamori.core.permissions import Rule, may_change, rule_of
from mamori.inventory.models import Domain, Endpoint, Server, Site


class Refused(Exception):
    """The actor may not write the record. ``field`` names the field whose value is refused
    (``allow_private_address``), or is empty for the record as a whole."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Referenced(Exception):
    """The record cannot be deleted: ``references`` lists what would go with it (or what its
    meaning depends on), as ``(what, how many)``."""

    def __init__(self, obj: models.Model, references: list[tuple[str, int]]) -> None:
        self.references = references
        listed = ", ".join(f"{what}: {count}" for what, count in references)
        super().__init__(
            _("%(record)s is still referred to (%(listed)s); delete or move those first.")
            % {"record": capfirst(str(obj._meta.verbose_name)), "listed": listed}
        )


def rule_message(rule: Rule, model: type[models.Model]) -> str:
    """Why a user may not change records of ``model`` under ``rule``."""
    what = str(model._meta.verbose_name_plural)
    if rule is Rule.STAFF:
        return _("Only the provider's staff may change %(records)s.") % {"records": what}
    if rule is Rule.CLIENT_ADMIN:
        return _(
            "Only the provider's administrators and operators and the client's administrators "
            "may change %(records)s."
        ) % {"records": what}
    return _("Your role may not change %(records)s.") % {"records": what}


def write_problem(
    section: str,
    actor: User,
    client: Client,
    before: models.Model | None,
    after: models.Model,
) -> tuple[str, str] | None:
    """Why ``actor`` may not create or change a record of ``section`` (``before`` → ``after``),
    by the rule the pages and the API of that record apply, as ``(field, message)`` (field ""
    for the record as a whole); ``None`` if it may."""
    from mamori.lifecycle import targets

    rule = rule_of(after)
    if section in ("acme_accounts", "managed_certificates") and not may_change(actor, client, rule):
        return "", _("Only the provider's staff set up ACME accounts and managed certificates.")
    if section == "deployment_targets":
        problem = targets.permission_problem(actor, client, [before, after])
        return ("", problem) if problem else None
    if not may_change(actor, client, rule):
        return "", rule_message(rule, type(after))
    if hasattr(after, "allow_private_address"):
        was = bool(getattr(before, "allow_private_address", False))
        problem = outbound.allowance_problem(actor, was, after.allow_private_address)
        return ("allow_private_address", problem) if problem else None
    return None


def jsonable(value: Any) -> Any:
    """A value as the audit trail stores it: dates as ISO text, records by their natural key."""
    from mamori.inventory.transfer.schema import endpoint_ref
    from mamori.vault.models import Secret

    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Contract):
        return f"{value.type}/{value.start:%Y-%m-%d}"
    if isinstance(value, Endpoint):
        return endpoint_ref(value.host, value.port, value.sni)
    if isinstance(value, Secret):
        return value.name  # the name only: an import never sees a secret's value
    if isinstance(value, models.Model):
        return getattr(value, "url", None) or str(value)
    return value


# --- the shared path ------------------------------------------------------------------------------


def check_write(
    section: str,
    actor: User | None,
    client: Client,
    before: models.Model | None,
    after: models.Model,
) -> None:
    """Raise :class:`Refused` if ``actor`` may not write ``after`` (``None``: the command line,
    with full rights)."""
    if actor is None:
        return
    problem = write_problem(section, actor, client, before, after)
    if problem is not None:
        field, message = problem
        raise Refused(message, field)


def save_record(
    obj: models.Model,
    *,
    section: str,
    client: Client,
    actor: User | None,
    action: str,
    changes: dict[str, Any],
    before: models.Model | None = None,
    update_fields: Iterable[str] | None = None,
    request: HttpRequest | None = None,
    after_save: Callable[[models.Model], Any] | None = None,
) -> models.Model:
    """Check, validate, save and audit one record of ``client`` (``before``: as it was, for a
    change). Raises :class:`Refused` or ``ValidationError``; writes nothing then.

    ``section`` names the kind of record as the inventory file does (``sites``); a client itself
    (``clients``) is not checked here: who may create clients is the caller's question.
    ``after_save`` runs in the same transaction, after the save."""
    if section != "clients":
        check_write(section, actor, client, before, obj)
    obj.full_clean()
    with transaction.atomic():
        if update_fields is not None:
            auto_now = [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
            obj.save(update_fields=[*update_fields, *auto_now])
        else:
            obj.save()
        if after_save is not None:
            after_save(obj)
        audit.record(
            action,
            obj,
            actor=actor,
            request=request,
            changes=changes,
            client_id=client.pk,
        )
    return obj


def normalised(section: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` read as the inventory file reads them (:func:`~mamori.inventory.transfer.schema.
    convert` and the model field's ``clean``): text stripped, URLs, host names and e-mail
    addresses in their one spelling, choices in any letter case. Raises ``ValidationError``
    with a message per field. Related records pass as they are."""
    from mamori.inventory.transfer.schema import SECTIONS, FieldProblem, Kind, convert, model_clean

    schema = SECTIONS[section]
    result: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        spec = schema.by_attr(name)
        if spec is None or spec.kind is Kind.REF:
            result[name] = value
            continue
        try:
            result[name] = model_clean(schema, spec, convert(spec, value, from_text=False))
        except FieldProblem as e:
            errors[name] = [str(e)]
    if errors:
        raise ValidationError(errors)
    return result


# Fields the audit trail records as set or not, not as their text (a pasted PEM bundle).
AUDITED_AS_SET = frozenset({"trust_bundle"})


def audited(name: str, value: Any) -> Any:
    """A field's value as the audit trail of a page or API write records it."""
    if name in AUDITED_AS_SET:
        return bool(str(value or "").strip())
    return jsonable(value)


def create_record(
    model: type[models.Model],
    section: str,
    client: Client,
    values: dict[str, Any],
    *,
    actor: User | None,
    action: str,
    request: HttpRequest | None = None,
) -> models.Model:
    """A new record of ``client`` with ``values`` (model field names; related records as
    objects), read as the inventory file reads them (:func:`normalised`)."""
    values = normalised(section, values)
    obj = model(client=client, **values)
    changes = {name: audited(name, value) for name, value in values.items()}
    return save_record(
        obj,
        section=section,
        client=client,
        actor=actor,
        action=action,
        changes=changes,
        request=request,
    )


def change_record(
    obj: models.Model,
    section: str,
    values: dict[str, Any],
    *,
    actor: User | None,
    action: str,
    request: HttpRequest | None = None,
) -> dict[str, list[Any]]:
    """Change the fields of ``values`` that differ; the changes (``{field: [old, new]}``), and
    nothing written or audited when there are none."""
    values = normalised(section, values)
    before = copy.copy(obj)
    changed: dict[str, list[Any]] = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if old != new:
            changed[name] = [audited(name, old), audited(name, new)]
            setattr(obj, name, new)
    if changed:
        save_record(
            obj,
            section=section,
            client=obj.client,
            actor=actor,
            action=action,
            changes=changed,
            before=before,
            update_fields=list(changed),
            request=request,
        )
    return changed


def references(obj: models.Model, also: Iterable[str] = ()) -> list[tuple[str, int]]:
    """What deleting ``obj`` would delete with it (every relation that cascades), and the
    relations named in ``also`` (accessor names) whose records would lose their link to it:
    ``(verbose name plural, count)`` of each with records. Records Mamori derives from ``obj``
    itself (a model with ``deleted_with_parent = True``: a server's collected software) go with
    it and are no reason to keep it."""
    also = set(also)
    found = []
    for relation in obj._meta.related_objects:
        if relation.many_to_many:
            continue
        accessor = relation.get_accessor_name()
        if relation.on_delete is not models.CASCADE and accessor not in also:
            continue
        related = relation.related_model
        if getattr(related, "deleted_with_parent", False) and accessor not in also:
            continue
        count = related._base_manager.filter(**{relation.field.name: obj}).count()
        if count:
            found.append((str(related._meta.verbose_name_plural), count))
    return found


def delete_record(
    obj: models.Model,
    section: str,
    *,
    actor: User | None,
    action: str,
    changes: dict[str, Any],
    also: Iterable[str] = (),
    request: HttpRequest | None = None,
) -> None:
    """Delete ``obj`` with its audit event, unless records would go with it or depend on it
    (:func:`references`; raises :class:`Referenced`)."""
    check_write(section, actor, obj.client, obj, obj)
    with transaction.atomic():
        found = references(obj, also)
        if found:
            raise Referenced(obj, found)
        audit.record(
            action, obj, actor=actor, request=request, changes=changes, client_id=obj.client_id
        )
        obj.delete()


# --- sites, servers, domains --------------------------------------------------------------------

SITE_FIELDS = ("name", "url", "server", "cms", "related_systems")
SERVER_FIELDS = ("name", "kind", "provider", "os", "middleware", "network", "notes")
DOMAIN_FIELDS = ("name", "registrar", "expires_on")


def create_site(
    actor: User | None, client: Client, values: dict[str, Any], *, request=None
) -> Site:
    return create_record(
        Site, "sites", client, values, actor=actor, action="site.create", request=request
    )


def change_site(actor: User | None, site: Site, values: dict[str, Any], *, request=None) -> dict:
    return change_record(site, "sites", values, actor=actor, action="site.update", request=request)


def delete_site(actor: User | None, site: Site, *, request=None) -> None:
    """Refused while checks, maintenance windows, SLA policies or site seals of the site exist
    (they would go with it); its endpoints, incidents, secrets and tasks lose the link."""
    delete_record(
        site,
        "sites",
        actor=actor,
        action="site.delete",
        changes={"name": site.name, "url": site.url},
        request=request,
    )


def create_server(
    actor: User | None, client: Client, values: dict[str, Any], *, request=None
) -> Server:
    return create_record(
        Server, "servers", client, values, actor=actor, action="server.create", request=request
    )


def change_server(
    actor: User | None, server: Server, values: dict[str, Any], *, request=None
) -> dict:
    return change_record(
        server, "servers", values, actor=actor, action="server.update", request=request
    )


def delete_server(actor: User | None, server: Server, *, request=None) -> None:
    """Refused while checks, maintenance windows or SLA policies of the server exist, and while
    sites or deployment targets name it (a deployment needs its server). What Mamori collected
    from it (its software, accounts, findings) goes with it."""
    delete_record(
        server,
        "servers",
        actor=actor,
        action="server.delete",
        changes={"name": server.name, "kind": server.kind},
        also=("sites", "deployment_targets"),
        request=request,
    )


def create_domain(
    actor: User | None, client: Client, values: dict[str, Any], *, request=None
) -> Domain:
    return create_record(
        Domain, "domains", client, values, actor=actor, action="domain.create", request=request
    )


def change_domain(
    actor: User | None, domain: Domain, values: dict[str, Any], *, request=None
) -> dict:
    return change_record(
        domain, "domains", values, actor=actor, action="domain.update", request=request
    )


def delete_domain(actor: User | None, domain: Domain, *, request=None) -> None:
    delete_record(
        domain,
        "domains",
        actor=actor,
        action="domain.delete",
        changes={"name": domain.name},
        request=request,
    )


# --- endpoints ----------------------------------------------------------------------------------

ENDPOINT_FIELDS = (
    "host",
    "port",
    "sni",
    "site",
    "server",
    "contract",
    "check_interval",
    "enabled",
    "trust_bundle",
    "allow_private_address",
)
# Changing these means the endpoint serves something else: it is checked again at once.
ENDPOINT_TARGET_FIELDS = frozenset(
    {"host", "port", "sni", "trust_bundle", "enabled", "allow_private_address"}
)


def create_endpoint(
    actor: User | None, client: Client, values: dict[str, Any], *, request=None
) -> Endpoint:
    return create_record(
        Endpoint,
        "endpoints",
        client,
        values,
        actor=actor,
        action="endpoint.create",
        request=request,
    )


def change_endpoint(
    actor: User | None, endpoint: Endpoint, values: dict[str, Any], *, request=None
) -> dict:
    """Change an endpoint; a new target (host, port, server name ...) is checked at once."""
    with transaction.atomic():
        changed = change_record(
            endpoint, "endpoints", values, actor=actor, action="endpoint.update", request=request
        )
        if ENDPOINT_TARGET_FIELDS.intersection(changed):
            from django.utils import timezone

            now = timezone.now()
            Endpoint.objects.filter(pk=endpoint.pk).update(next_check_at=now)
            endpoint.next_check_at = now
    return changed


def delete_endpoint(actor: User | None, endpoint: Endpoint, *, request=None) -> None:
    """Delete an endpoint with its check history (the certificates it served stay); refused
    while deployment targets install certificates on it."""
    check_write("endpoints", actor, endpoint.client, endpoint, endpoint)
    with transaction.atomic():
        targets = endpoint.deployment_targets.count()
        if targets:
            plural = endpoint.deployment_targets.model._meta.verbose_name_plural
            raise Referenced(endpoint, [(str(plural), targets)])
        audit.record(
            "endpoint.delete",
            endpoint,
            actor=actor,
            request=request,
            changes={
                "client": endpoint.client_id,
                "host": endpoint.host,
                "port": endpoint.port,
                "sni": endpoint.sni,
            },
            client_id=endpoint.client_id,
        )
        endpoint.delete()
